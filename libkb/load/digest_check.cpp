#include "libkb/load/digest_check.h"

#include <nlohmann/json.hpp>

#include "libkb/metadata/digest.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::load {

namespace fs = std::filesystem;

namespace {

void add_length_prefixed(std::string& out, std::string_view part) {
  uint64_t size = part.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(part);
}

nlohmann::ordered_json location_json(const KernelLocation& location) {
  nlohmann::ordered_json j;
  j["type"] = "remote_kernel";
  j["repo_id"] = location.repo_id;
  j["revision"] = location.revision;
  j["variant"] = location.variant;
  return j;
}

// Whether a valid receipt for `location` is stored. A receipt that cannot be
// read, is corrupt or names another kernel is a miss with a warning: a broken
// cache must never stop a kernel that verifies.
bool has_receipt(const fs::path& path, const KernelLocation& location, std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  try {
    nlohmann::json receipt = nlohmann::json::parse(read_file(path));
    if (receipt.at("location") == nlohmann::json(location_json(location))) return true;
    warnings.push_back("Ignoring unusable kernel verification receipt: receipt `" + path.string() +
                       "` describes a different kernel");
  } catch (const std::exception& e) {
    warnings.push_back("Ignoring unusable kernel verification receipt: receipt `" + path.string() +
                       "` is corrupt (" + e.what() + ")");
  }
  return false;
}

}  // namespace

fs::path digest_receipt_dir(const fs::path& cache_root) { return cache_root / ".verified-kernels" / "digest" / "v1"; }

std::string receipt_key(const KernelLocation& location) {
  std::string message;
  for (std::string_view part : {std::string_view("remote_kernel"), std::string_view(location.repo_id),
                                std::string_view(location.revision), std::string_view(location.variant)})
    add_length_prefixed(message, part);
  return to_hex(sha256_bytes(message));
}

std::string receipt_json(const KernelLocation& location) {
  nlohmann::ordered_json j;
  j["location"] = location_json(location);
  return j.dump();
}

DigestCheck check_digest(const fs::path& variant_dir, const metadata::Metadata& metadata, const std::string& variant,
                         const std::optional<KernelLocation>& location, const fs::path& cache_root) {
  DigestCheck out;
  const std::string kernel = "Kernel '" + metadata.name + "' variant '" + variant + "': ";
  if (!metadata.digest) {
    out.warnings.push_back(kernel + "the metadata does not record a digest, so its integrity cannot be verified");
    return out;
  }
  fs::path receipt;
  if (location) {
    receipt = digest_receipt_dir(cache_root) / receipt_key(*location);
    if (has_receipt(receipt, *location, out.warnings)) return out;
  }
  out.hashed = true;
  std::vector<std::string> violations;
  try {
    violations = metadata::digest_violations(*metadata.digest,
                                             metadata::compute_digest(variant_dir, metadata.digest->algorithm));
  } catch (const Error& e) {
    out.failure = kernel + e.what();
    return out;
  }
  if (!violations.empty()) {
    out.failure = kernel + "the files do not match the digest in the metadata, so they may have been modified:\n" +
                  join(violations, "\n");
    return out;
  }
  if (location) {
    try {
      write_file_atomic(receipt, receipt_json(*location));
    } catch (const std::exception& e) {
      out.warnings.push_back(std::string("Cannot store kernel digest verification receipt: ") + e.what());
    }
  }
  return out;
}

}  // namespace kb::load
