#pragma once
// The content digest of a built variant (builder spec 3.10, runtime spec 11.1):
// one hash per regular file under the variant directory, keyed by the path
// relative to it with '/' separators, as standard padded base64.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/metadata/metadata.h"

namespace kb::metadata {

// Whether a file at `relative_path` ('/'-separated, relative to the variant
// directory) is left out of the digest: top-level metadata.json and
// metadata.json.sigstore, anything below a __pycache__ directory, *.pyc.
bool excluded_from_digest(std::string_view relative_path);

// Walks without descending into symlinked directories; symlinked files are
// hashed through the link (a broken link is an error). Throws kb::Error
// "Failed to hash variant `<dir>`: ...".
Digest compute_digest(const std::filesystem::path& variant_dir, DigestAlgorithm algorithm = DigestAlgorithm::Sha256);

// Differences between a recorded digest and a fresh one, in the runtime's
// order and wording: algorithm mismatch, then missing files and hash
// mismatches (sorted by path), then unknown files (sorted). Empty: equal.
std::vector<std::string> digest_violations(const Digest& expected, const Digest& actual);

}  // namespace kb::metadata
