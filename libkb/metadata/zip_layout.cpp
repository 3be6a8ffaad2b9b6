#include "libkb/metadata/zip_layout.h"

#include <algorithm>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/util/zip.h"

namespace kb::metadata {

namespace fs = std::filesystem;

namespace {

bool is_native_library(std::string_view name) {
  for (std::string_view suffix : {".so", ".dylib", ".pyd", ".dll"})
    if (ends_with(name, suffix)) return true;
  // Versioned shared objects: libfoo.so.1, libfoo.so.1.2.
  size_t so = name.rfind(".so.");
  if (so == std::string_view::npos) return false;
  std::string_view version = name.substr(so + 4);
  return !version.empty() && version.find_first_not_of("0123456789.") == std::string_view::npos;
}

// Removes the now empty directories below `dir` (deepest first), never `dir`.
void remove_empty_directories(const fs::path& dir) {
  std::vector<fs::path> directories;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) directories.push_back(it->path());
  std::sort(directories.rbegin(), directories.rend());
  for (const fs::path& d : directories)
    if (fs::is_empty(d, ec)) fs::remove(d, ec);
}

}  // namespace

fs::path zip_archive_path(const fs::path& variant_dir, const Metadata& metadata) {
  return variant_dir / (metadata.id + ".zip");
}

bool stays_outside_archive(std::string_view relative_path) {
  if (relative_path == "metadata.json" || relative_path == "metadata.json.sigstore") return true;
  size_t slash = relative_path.rfind('/');
  return is_native_library(slash == std::string_view::npos ? relative_path : relative_path.substr(slash + 1));
}

void convert_to_zip_layout(const fs::path& variant_dir, Metadata& metadata) {
  const fs::path archive = zip_archive_path(variant_dir, metadata);
  const std::string archive_name = archive.filename().string();
  std::vector<ZipInput> entries;
  std::vector<fs::path> moved;
  try {
    for (const std::string& relative : list_files(variant_dir)) {  // byte order: a reproducible archive
      if (relative == archive_name || stays_outside_archive(relative)) continue;
      entries.push_back({relative, read_file(variant_dir / relative)});
      moved.push_back(variant_dir / relative);
    }
    if (std::none_of(entries.begin(), entries.end(), [](const ZipInput& e) { return e.name == "__init__.py"; }))
      throw Error("no __init__.py to put at the top of the archive");
    write_file_atomic(archive, make_zip(entries));
    for (const fs::path& file : moved) fs::remove(file);
    remove_empty_directories(variant_dir);
  } catch (const std::exception& e) {
    throw Error("Cannot convert variant `" + variant_dir.string() + "` to the zip build layout: " + e.what());
  }
  set_zip_layout(metadata);
}

void check_zip_variant_archive(const fs::path& variant_dir, const Metadata& metadata) {
  const fs::path archive = zip_archive_path(variant_dir, metadata);
  std::vector<ZipEntry> entries = check_zip_archive(archive);
  if (std::none_of(entries.begin(), entries.end(), [](const ZipEntry& e) { return e.name == "__init__.py"; }))
    throw Error("Invalid kernel archive `" + archive.string() + "`: no top-level __init__.py");
}

std::vector<std::string> check_zip_layout(const fs::path& variant_dir, const Metadata& metadata) {
  std::vector<std::string> problems;
  const fs::path archive = zip_archive_path(variant_dir, metadata);
  try {
    check_zip_variant_archive(variant_dir, metadata);
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  for (const std::string& relative : list_files(variant_dir))
    if (relative != archive.filename().string() && !stays_outside_archive(relative))
      problems.push_back("Variant `" + variant_dir.string() + "` has the zip build layout but ships `" + relative +
                         "` outside its archive");
  return problems;
}

}  // namespace kb::metadata
