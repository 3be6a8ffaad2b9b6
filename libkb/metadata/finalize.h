#pragma once
// The last step of building one variant (what kb-metadata does per variant):
// validate the metadata.json the build installed, drop Python bytecode, check
// the module layout and the ops registrations, record provenance and the
// digest, and rewrite metadata.json atomically.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/metadata/metadata.h"

namespace kb::metadata {

struct FinalizeOptions {
  // Kernel provenance, first match wins: `kernel_commit`, the `provenance.kernel`
  // already in metadata.json, the git repository around `kernel_dir`.
  std::optional<CommitState> kernel_commit;
  std::optional<std::filesystem::path> kernel_dir;
  std::optional<std::filesystem::path> python;  // interpreter for the ops lint (default python3 on PATH)
  bool lint_ops = true;
  DigestAlgorithm algorithm = DigestAlgorithm::Sha256;
  // [general] build-layout: Zip moves the checked package into `<id>.zip`
  // (zip_layout.h) before the digest is taken. A variant already in the zip
  // layout stays so, whatever this says; its archive is checked instead.
  config::BuildLayout build_layout = config::BuildLayout::Files;
};

struct FinalizeResult {
  bool ok = false;
  // Complete messages; the ops report is one multi-line entry. Empty when ok.
  std::vector<std::string> problems;
  // As written when ok; as read (without new provenance/digest) when only
  // the checks failed; absent when metadata.json could not be read.
  std::optional<Metadata> metadata;
  // to_json(*metadata), or an empty object.
  nlohmann::ordered_json metadata_json() const;
};

// Never throws for problems of the variant itself; metadata.json is only
// rewritten when every check passed.
FinalizeResult finalize_variant(const std::filesystem::path& variant_dir, const FinalizeOptions& options = {});

// check-builds for one variant: reads and validates <variant_dir>/metadata.json
// (a backend type kb does not know is an error here, unlike for loaders).
// Throws kb::Error "Failed to parse metadata: <path>\n  Caused by: <cause>".
Metadata check_variant_metadata(const std::filesystem::path& variant_dir);

}  // namespace kb::metadata
