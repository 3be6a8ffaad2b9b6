#pragma once
// Sigstore bundles (metadata.json.sigstore): the protobuf-JSON document
// carrying a message signature, the material to verify it (a Fulcio
// certificate, or a public-key hint for key-signed bundles) and the
// transparency-log entry. Parsing checks the structure only; verifier.h
// checks the cryptography.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/util/error.h"

namespace kb::sign {

// A bundle that is not well-formed: runtime spec 11.2's SignatureBundleInvalid.
class BundleError : public Error {
 public:
  using Error::Error;
};

// Bundles are a few kilobytes; these bound what a hostile one can make kb parse.
inline constexpr size_t kMaxBundleBytes = 1 << 20;
inline constexpr int kMaxBundleDepth = 32;

struct InclusionProof {
  int64_t log_index = 0;
  std::string root_hash;  // raw
  int64_t tree_size = 0;
  std::vector<std::string> hashes;  // raw, leaf to root
  std::string checkpoint;           // signed note text
};

struct TlogEntry {
  int64_t log_index = 0;
  std::string log_id;  // raw key id
  std::string kind;
  std::string version;
  int64_t integrated_time = 0;
  std::optional<std::string> signed_entry_timestamp;  // raw signature (the inclusion promise)
  std::optional<InclusionProof> inclusion_proof;
  std::string canonicalized_body;  // raw JSON bytes the log stored
};

struct Bundle {
  std::string media_type;
  int minor_version = 3;  // 0.<minor>
  // Keyless: the signing certificate (DER). Key-signed: the hint naming the key.
  std::optional<std::string> certificate_der;
  std::optional<std::string> public_key_hint;
  std::vector<TlogEntry> tlog_entries;
  bool has_signed_timestamps = false;  // RFC 3161 timestamps (not verified offline by kb)
  bool dsse_envelope = false;          // an attestation, not a message signature
  std::string message_digest_algorithm;  // "SHA2_256" when present
  std::optional<std::string> message_digest;  // raw
  std::string signature;                      // raw
};

// Throws BundleError with the reason (size, depth, JSON syntax, a missing
// or malformed field, an unknown media type).
Bundle parse_bundle(std::string_view json);

// A v0.3 bundle for a key-signed message: public-key hint, SHA-256 message
// digest and signature, no log entry.
std::string key_signed_bundle_json(const std::string& hint, std::string_view digest, std::string_view signature);

}  // namespace kb::sign
