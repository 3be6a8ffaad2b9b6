#include "libkb/sign/bundle.h"

#include <nlohmann/json.hpp>

#include "libkb/util/hash.h"

namespace kb::sign {

using nlohmann::json;

namespace {

constexpr std::string_view kMediaTypePrefix = "application/vnd.dev.sigstore.bundle";

// The minor version a media type names: "...bundle+json;version=0.1",
// "...bundle.v0.3+json", "...bundle+json;version=0.3".
int media_type_minor(const std::string& media_type) {
  if (media_type.rfind(kMediaTypePrefix, 0) != 0)
    throw BundleError("unsupported bundle format: '" + media_type + "'");
  for (int minor : {1, 2, 3}) {
    std::string v = "0." + std::to_string(minor);
    if (media_type == std::string(kMediaTypePrefix) + "+json;version=" + v ||
        media_type == std::string(kMediaTypePrefix) + ".v" + v + "+json")
      return minor;
  }
  throw BundleError("unsupported bundle format: '" + media_type + "'");
}

const json& field(const json& object, const char* name, const std::string& where) {
  if (!object.is_object()) throw BundleError(where + " is not an object");
  auto it = object.find(name);
  if (it == object.end()) throw BundleError(where + "." + name + " is missing");
  return *it;
}

const json* optional_field(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string bytes_field(const json& object, const char* name, const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_string()) throw BundleError(where + "." + name + " is not a string");
  auto raw = base64_decode(value.get<std::string>());
  if (!raw) throw BundleError(where + "." + name + " is not valid base64");
  return *raw;
}

std::string string_field(const json& object, const char* name, const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_string()) throw BundleError(where + "." + name + " is not a string");
  return value.get<std::string>();
}

// protobuf JSON writes int64 as a decimal string; numbers are accepted too.
int64_t int_field(const json& object, const char* name, const std::string& where) {
  const json& value = field(object, name, where);
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (!s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);
  }
  throw BundleError(where + "." + name + " is not a non-negative integer");
}

TlogEntry parse_entry(const json& j, const std::string& where) {
  TlogEntry entry;
  entry.log_index = int_field(j, "logIndex", where);
  entry.log_id = bytes_field(field(j, "logId", where), "keyId", where + ".logId");
  const json& kind = field(j, "kindVersion", where);
  entry.kind = string_field(kind, "kind", where + ".kindVersion");
  entry.version = string_field(kind, "version", where + ".kindVersion");
  if (const json* t = optional_field(j, "integratedTime")) {
    (void)t;
    entry.integrated_time = int_field(j, "integratedTime", where);
  }
  if (const json* promise = optional_field(j, "inclusionPromise"))
    entry.signed_entry_timestamp = bytes_field(*promise, "signedEntryTimestamp", where + ".inclusionPromise");
  if (const json* proof_json = optional_field(j, "inclusionProof")) {
    std::string at = where + ".inclusionProof";
    InclusionProof proof;
    proof.log_index = int_field(*proof_json, "logIndex", at);
    proof.root_hash = bytes_field(*proof_json, "rootHash", at);
    proof.tree_size = int_field(*proof_json, "treeSize", at);
    const json& hashes = field(*proof_json, "hashes", at);
    if (!hashes.is_array()) throw BundleError(at + ".hashes is not a list");
    if (hashes.size() > 64) throw BundleError(at + ".hashes has " + std::to_string(hashes.size()) + " hashes (at most 64)");
    for (const json& h : hashes) {
      auto raw = h.is_string() ? base64_decode(h.get<std::string>()) : std::nullopt;
      if (!raw) throw BundleError(at + ".hashes holds a value that is not base64");
      proof.hashes.push_back(*raw);
    }
    if (const json* checkpoint = optional_field(*proof_json, "checkpoint"))
      proof.checkpoint = string_field(*checkpoint, "envelope", at + ".checkpoint");
    entry.inclusion_proof = std::move(proof);
  }
  entry.canonicalized_body = bytes_field(j, "canonicalizedBody", where);
  return entry;
}

}  // namespace

Bundle parse_bundle(std::string_view text) {
  if (text.size() > kMaxBundleBytes)
    throw BundleError("the bundle is " + std::to_string(text.size()) + " bytes (at most " +
                      std::to_string(kMaxBundleBytes) + ")");
  json j;
  try {
    j = json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxBundleDepth) throw BundleError("the bundle nests deeper than " + std::to_string(kMaxBundleDepth) + " levels");
      return true;
    });
  } catch (const BundleError&) {
    throw;
  } catch (const json::exception& e) {
    throw BundleError(std::string("failed to load bundle: ") + e.what());
  }
  if (!j.is_object()) throw BundleError("failed to load bundle: not a JSON object");
  try {
    Bundle bundle;
    bundle.media_type = string_field(j, "mediaType", "bundle");
    bundle.minor_version = media_type_minor(bundle.media_type);
    const json& material = field(j, "verificationMaterial", "bundle");
    const std::string vm = "verificationMaterial";
    if (const json* cert = optional_field(material, "certificate")) {
      bundle.certificate_der = bytes_field(*cert, "rawBytes", vm + ".certificate");
    } else if (const json* chain = optional_field(material, "x509CertificateChain")) {
      const json& certs = field(*chain, "certificates", vm + ".x509CertificateChain");
      if (!certs.is_array() || certs.empty()) throw BundleError("expected non-empty certificate chain in bundle");
      bundle.certificate_der = bytes_field(certs.at(0), "rawBytes", vm + ".x509CertificateChain.certificates[0]");
    } else if (const json* key = optional_field(material, "publicKey")) {
      bundle.public_key_hint = string_field(*key, "hint", vm + ".publicKey");
    } else {
      throw BundleError("expected certificate in bundle");
    }
    if (bundle.minor_version == 3 && optional_field(material, "x509CertificateChain"))
      throw BundleError("expected certificate in bundle");  // v0.3 carries the leaf alone
    if (const json* entries = optional_field(material, "tlogEntries")) {
      if (!entries->is_array()) throw BundleError("verificationMaterial.tlogEntries is not a list");
      if (entries->size() > 8) throw BundleError("the bundle has " + std::to_string(entries->size()) + " log entries");
      for (size_t i = 0; i < entries->size(); ++i)
        bundle.tlog_entries.push_back(parse_entry((*entries)[i], "tlogEntries[" + std::to_string(i) + "]"));
    }
    if (const json* ts = optional_field(material, "timestampVerificationData"))
      bundle.has_signed_timestamps = ts->is_object() && ts->contains("rfc3161Timestamps") &&
                                     (*ts)["rfc3161Timestamps"].is_array() && !(*ts)["rfc3161Timestamps"].empty();
    if (const json* message = optional_field(j, "messageSignature")) {
      if (const json* digest = optional_field(*message, "messageDigest")) {
        bundle.message_digest_algorithm = string_field(*digest, "algorithm", "messageSignature.messageDigest");
        bundle.message_digest = bytes_field(*digest, "digest", "messageSignature.messageDigest");
      }
      bundle.signature = bytes_field(*message, "signature", "messageSignature");
    } else if (optional_field(j, "dsseEnvelope")) {
      bundle.dsse_envelope = true;
    } else {
      throw BundleError("the bundle has neither a message signature nor a DSSE envelope");
    }
    // The structure sigstore's clients require of keyless bundles: one log
    // entry with an inclusion proof (and, from 0.2, its checkpoint), and a
    // source of signed time.
    if (bundle.certificate_der) {
      if (bundle.tlog_entries.size() != 1) throw BundleError("expected exactly one log entry in bundle");
      const TlogEntry& entry = bundle.tlog_entries[0];
      if (entry.version != "0.0.1" && entry.version != "0.0.2")
        throw BundleError("Expected log entry version 0.0.1 - 0.0.2, got " + entry.version);
      if (!entry.inclusion_proof || entry.inclusion_proof->checkpoint.empty()) {
        if (bundle.minor_version >= 2 || !entry.inclusion_proof)
          throw BundleError("entry must contain inclusion proof, with checkpoint");
      }
      if (bundle.minor_version == 1 && !entry.signed_entry_timestamp)
        throw BundleError("bundle must contain an inclusion promise");
      if (bundle.minor_version >= 2 && !entry.signed_entry_timestamp && !bundle.has_signed_timestamps)
        throw BundleError("bundle must contain an inclusion promise or signed timestamp(s)");
    }
    return bundle;
  } catch (const json::exception& e) {
    throw BundleError(std::string("failed to load bundle: ") + e.what());
  }
}

std::string key_signed_bundle_json(const std::string& hint, std::string_view digest, std::string_view signature) {
  nlohmann::ordered_json j;
  j["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3+json";
  j["verificationMaterial"]["publicKey"]["hint"] = hint;
  j["verificationMaterial"]["tlogEntries"] = nlohmann::ordered_json::array();
  j["messageSignature"]["messageDigest"]["algorithm"] = "SHA2_256";
  j["messageSignature"]["messageDigest"]["digest"] = base64_encode(digest);
  j["messageSignature"]["signature"] = base64_encode(signature);
  return j.dump(2) + "\n";
}

}  // namespace kb::sign
