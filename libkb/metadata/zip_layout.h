#pragma once
// The "zip" build layout of a variant: its Python package (every file but the
// native libraries and metadata.json) lives in `<id>.zip`, imported with
// zipimport; the shared objects stay next to the archive, where the package's
// `from . import _<id>` finds them (the variant directory comes first on the
// package's search path) and where a C++ loader dlopens them.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/metadata/metadata.h"

namespace kb::metadata {

// `<variant_dir>/<id>.zip`.
std::filesystem::path zip_archive_path(const std::filesystem::path& variant_dir, const Metadata& metadata);

// Whether a file of a variant ('/'-separated path relative to it) stays on disk
// in the zip layout: metadata.json and its signature, and native libraries
// (*.so, *.so.N, *.dylib, *.pyd, *.dll), which cannot be loaded from an archive.
bool stays_outside_archive(std::string_view relative_path);

// Moves the package of a files-layout variant into `<id>.zip` (entries in byte
// order of their paths, reproducible bytes: see make_zip), removes the moved
// files and the directories they leave empty, and marks `metadata` zip layout
// with kernels-minver at least 0.19.0 (set_zip_layout). metadata.json itself
// is not written. Throws kb::Error naming the variant on failure; the archive
// is written atomically before anything is removed.
void convert_to_zip_layout(const std::filesystem::path& variant_dir, Metadata& metadata);

// What a loader checks before importing a zip-layout variant: `<id>.zip` exists,
// passes check_zip_archive and has a top-level __init__.py. Throws kb::Error
// naming the archive (and the entry). Nothing is extracted.
void check_zip_variant_archive(const std::filesystem::path& variant_dir, const Metadata& metadata);

// Problems of a zip-layout variant (empty when sound): the archive is missing,
// unsound (check_zip_archive) or has no top-level __init__.py, or package
// files were left outside it.
std::vector<std::string> check_zip_layout(const std::filesystem::path& variant_dir, const Metadata& metadata);

}  // namespace kb::metadata
