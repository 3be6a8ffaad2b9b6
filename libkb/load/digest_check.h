#pragma once
// The digest check of every load (kernels 0.18+): a build's files must match
// the digest its metadata.json records. A hub build verified once leaves a
// receipt in the cache (<cache>/.verified-kernels/digest/v1/<key>, laid out
// as the kernels package lays it out), so later loads skip the hashing; a
// local build, whose files may change, is hashed on every load.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libkb/load/receipts.h"
#include "libkb/metadata/metadata.h"

namespace kb::load {

struct DigestCheck {
  // Set when the files differ from the digest: the message to raise.
  std::optional<std::string> failure;
  // Warnings to show (no digest recorded, a receipt that could not be read or written).
  std::vector<std::string> warnings;
  bool hashed = false;  // the files were hashed (no usable receipt)
};

// Checks `variant_dir` against `metadata.digest`. With a location, a stored
// receipt skips the hashing and a successful check stores one; an unusable
// receipt counts as none (and is replaced). Never throws for cache trouble.
DigestCheck check_digest(const std::filesystem::path& variant_dir, const metadata::Metadata& metadata,
                         const std::string& variant, const std::optional<KernelLocation>& location,
                         const std::filesystem::path& cache_root);

}  // namespace kb::load
