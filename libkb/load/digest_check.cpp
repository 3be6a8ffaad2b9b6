#include "libkb/load/digest_check.h"

#include "libkb/metadata/digest.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::load {

namespace fs = std::filesystem;

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
    receipt = receipt_path(cache_root, ReceiptKind::Digest, *location);
    if (read_receipt(receipt, *location, out.warnings)) return out;
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
