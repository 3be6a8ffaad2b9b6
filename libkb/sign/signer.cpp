#include "libkb/sign/signer.h"

#include "libkb/sign/bundle.h"
#include "libkb/sign/policy.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"

namespace kb::sign {

namespace fs = std::filesystem;

Pkey read_private_key(const fs::path& path) {
  std::string pem;
  try {
    pem = read_file(path);
  } catch (const std::exception& e) {
    throw Error("cannot read the signing key " + path.string() + ": " + e.what());
  }
  try {
    return private_key_from_pem(pem);
  } catch (const VerificationError& e) {
    throw Error("the signing key " + path.string() + " is " + e.what());
  }
}

std::string sign_variant_with_key(const fs::path& dir, EVP_PKEY* key) {
  const fs::path metadata_path = dir / "metadata.json";
  std::error_code ec;
  if (!fs::is_regular_file(metadata_path, ec)) throw Error("cannot sign " + dir.string() + ": it has no metadata.json");
  std::string metadata = read_file(metadata_path);
  std::string hint = public_key_hint(public_key_der(key));
  std::string signature = sign_data(key, metadata);
  write_file_atomic(dir / kBundleFileName, key_signed_bundle_json(hint, sha256_bytes(metadata), signature));
  return hint;
}

}  // namespace kb::sign
