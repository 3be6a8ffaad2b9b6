#pragma once
// Rekor (v1) transparency-log evidence in a bundle, checked offline against
// the log's key: the signed entry timestamp (inclusion promise), the Merkle
// inclusion proof (RFC 9162 2.1.3) and its signed checkpoint (a signed note),
// and the entry body's agreement with the signature it claims to log.
#include <string>
#include <string_view>
#include <vector>

#include "libkb/sign/bundle.h"
#include "libkb/sign/trust_root.h"

namespace kb::sign {

// The bytes the log signed as the inclusion promise: RFC 8785 canonical JSON
// of {body (base64), integratedTime, logID (hex), logIndex}.
std::string inclusion_promise_payload(const TlogEntry& entry);

// The root hash an audit path leads to (RFC 9162 2.1.3.2); throws
// VerificationError when the path does not fit the index and tree size.
std::string merkle_root_from_proof(std::string_view leaf, int64_t index, int64_t tree_size,
                                   const std::vector<std::string>& hashes);

// The transparency log of `root` that `entry` names (by key id); throws
// VerificationError when the root has none.
const LogKey& entry_log(const TlogEntry& entry, const TrustRoot& root);

// Checks the inclusion proof and checkpoint, then the inclusion promise
// when the entry has one. Throws VerificationError("invalid log entry: ...").
void verify_log_entry(const TlogEntry& entry, const TrustRoot& root);

// Checks that a hashedrekord 0.0.1 body records `artifact_sha256`, this
// signature and this certificate (PEM). Throws VerificationError.
void verify_hashedrekord_body(const TlogEntry& entry, std::string_view artifact_sha256, std::string_view signature,
                              const std::string& certificate_pem);

}  // namespace kb::sign
