#pragma once
// Signing a variant's metadata with a key (`kb sign --key`, `kb upload
// --sign`): a sigstore bundle whose verification material is a public-key
// hint, for private and air-gapped hubs whose policy trusts that key.
#include <filesystem>
#include <string>

#include "libkb/sign/crypto.h"

namespace kb::sign {

// Reads an unencrypted PEM private key; throws kb::Error naming the file.
Pkey read_private_key(const std::filesystem::path& path);

// Signs the exact bytes of <dir>/metadata.json and writes
// <dir>/metadata.json.sigstore atomically. Returns the key's hint.
std::string sign_variant_with_key(const std::filesystem::path& dir, EVP_PKEY* key);

}  // namespace kb::sign
