#include "libkb/sign/transparency_log.h"

#include <nlohmann/json.hpp>

#include "libkb/sign/crypto.h"
#include "libkb/util/hash.h"

namespace kb::sign {

using nlohmann::json;

namespace {

std::string node_hash(std::string_view left, std::string_view right) {
  std::string data(1, '\x01');
  data.append(left);
  data.append(right);
  return sha256_bytes(data);
}

VerificationError log_error(const std::string& why) { return VerificationError("invalid log entry: " + why); }

// A checkpoint (signed note, https://c2sp.org/signed-note): the note text up
// to and including its blank-line separator's first newline, and the
// signature lines "— <name> <base64(4-byte key hint + signature)>".
struct SignedNote {
  std::string text;
  int64_t size = 0;
  std::string root_hash;
  std::vector<std::pair<std::string, std::string>> signatures;  // hint, signature
};

SignedNote parse_checkpoint(const std::string& envelope) {
  SignedNote note;
  size_t split = envelope.find("\n\n");
  if (split == std::string::npos || envelope.find("\n\n", split + 1) != std::string::npos)
    throw log_error("checkpoint: note must contain one blank line, delineating the text from the signature block");
  note.text = envelope.substr(0, split + 1);
  std::string block = envelope.substr(split + 2);
  if (block.empty() || block.back() != '\n') throw log_error("checkpoint: malformed signature block");
  std::vector<std::string> lines;
  for (size_t start = 0, end; start < note.text.size(); start = end + 1) {
    end = note.text.find('\n', start);
    lines.push_back(note.text.substr(start, end - start));
  }
  if (lines.size() < 3 || lines[0].empty()) throw log_error("checkpoint: malformed LogCheckpoint: too few items in header");
  if (lines[1].empty() || lines[1].size() > 19 || lines[1].find_first_not_of("0123456789") != std::string::npos)
    throw log_error("checkpoint: malformed LogCheckpoint: invalid log size");
  note.size = std::stoll(lines[1]);
  auto root = base64_decode(lines[2]);
  if (!root) throw log_error("checkpoint: malformed LogCheckpoint: invalid root hash");
  note.root_hash = *root;
  const std::string dash = "\xe2\x80\x94 ";  // U+2014 EM DASH, then a space
  for (size_t start = 0, end; start < block.size(); start = end + 1) {
    end = block.find('\n', start);
    std::string line = block.substr(start, end - start);
    if (line.rfind(dash, 0) != 0) continue;
    size_t space = line.find(' ', dash.size());
    if (space == std::string::npos) continue;
    auto raw = base64_decode(line.substr(space + 1));
    if (!raw || raw->size() < 5) throw log_error("checkpoint: malformed Note: signature contains too few bytes");
    note.signatures.emplace_back(raw->substr(0, 4), raw->substr(4));
  }
  return note;
}

}  // namespace

std::string inclusion_promise_payload(const TlogEntry& entry) {
  json payload;  // std::map keys: sorted as RFC 8785 sorts ASCII keys
  payload["body"] = base64_encode(entry.canonicalized_body);
  payload["integratedTime"] = entry.integrated_time;
  payload["logID"] = to_hex(entry.log_id);
  payload["logIndex"] = entry.log_index;
  return payload.dump();
}

std::string merkle_root_from_proof(std::string_view leaf, int64_t index, int64_t tree_size,
                                   const std::vector<std::string>& hashes) {
  if (index < 0 || index >= tree_size)
    throw log_error("inclusion proof index " + std::to_string(index) + " is outside a tree of size " +
                    std::to_string(tree_size));
  std::string leaf_data(1, '\x00');
  leaf_data.append(leaf);
  std::string r = sha256_bytes(leaf_data);
  uint64_t fn = static_cast<uint64_t>(index), sn = static_cast<uint64_t>(tree_size - 1);
  for (const std::string& p : hashes) {
    if (p.size() != 32) throw log_error("inclusion proof holds a hash of " + std::to_string(p.size()) + " bytes");
    if (sn == 0) throw log_error("inclusion proof has more hashes than the tree has levels");
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) throw log_error("inclusion proof has fewer hashes than the tree has levels");
  return r;
}

const LogKey& entry_log(const TlogEntry& entry, const TrustRoot& root) {
  for (const LogKey& log : root.transparency_logs)
    if (log.key_id == entry.log_id) return log;
  throw log_error("no transparency log of the trust root (" + root.origin + ") has key ID " + to_hex(entry.log_id));
}

void verify_log_entry(const TlogEntry& entry, const TrustRoot& root) {
  const LogKey& log = entry_log(entry, root);
  Pkey key = public_key_from_der(log.public_key_der);
  if (!entry.inclusion_proof) throw log_error("no inclusion proof");
  const InclusionProof& proof = *entry.inclusion_proof;
  std::string computed = merkle_root_from_proof(entry.canonicalized_body, proof.log_index, proof.tree_size, proof.hashes);
  if (computed != proof.root_hash)
    throw log_error("inclusion proof contains invalid root hash: expected " + to_hex(proof.root_hash) + ", calculated " +
                    to_hex(computed));
  if (!proof.checkpoint.empty()) {
    SignedNote note = parse_checkpoint(proof.checkpoint);
    bool signed_by_log = false;
    for (const auto& [hint, signature] : note.signatures) {
      if (hint != log.key_id.substr(0, 4)) continue;
      if (!verify_signature(key.get(), note.text, signature))
        throw log_error("checkpoint: invalid signature for log ID " + to_hex(log.key_id));
      signed_by_log = true;
      break;
    }
    if (!signed_by_log) throw log_error("checkpoint: Signature not found for log ID " + to_hex(log.key_id));
    if (note.root_hash != proof.root_hash)
      throw log_error("Inclusion proof contains invalid root hash signature: expected " + to_hex(note.root_hash) +
                      " got " + to_hex(proof.root_hash));
  }
  if (entry.signed_entry_timestamp && entry.integrated_time != 0) {
    if (!verify_signature(key.get(), inclusion_promise_payload(entry), *entry.signed_entry_timestamp))
      throw log_error("SET: invalid inclusion promise: the log's signature does not verify");
  }
}

void verify_hashedrekord_body(const TlogEntry& entry, std::string_view artifact_sha256, std::string_view signature,
                              const std::string& certificate_pem) {
  const VerificationError inconsistent("transparency log entry is inconsistent with other materials");
  if (entry.kind != "hashedrekord") throw VerificationError("Expected entry type hashedrekord, got " + entry.kind);
  if (entry.version != "0.0.1") throw VerificationError("Unsupported hashedrekord version " + entry.version);
  json body;
  try {
    body = json::parse(entry.canonicalized_body);
    if (body.at("kind") != "hashedrekord" || body.at("apiVersion") != "0.0.1") throw inconsistent;
    const json& spec = body.at("spec");
    const json& hash = spec.at("data").at("hash");
    if (hash.at("algorithm") != "sha256" || hash.at("value") != to_hex(artifact_sha256)) throw inconsistent;
    auto logged_signature = base64_decode(spec.at("signature").at("content").get<std::string>());
    if (!logged_signature || *logged_signature != signature) throw inconsistent;
    auto logged_key = base64_decode(spec.at("signature").at("publicKey").at("content").get<std::string>());
    if (!logged_key) throw inconsistent;
    // Compare certificates, not their PEM spelling.
    Pkey logged = public_key_from_pem(*logged_key);
    Pkey ours = public_key_from_pem(certificate_pem);
    if (public_key_der(logged.get()) != public_key_der(ours.get()) ||
        logged_key->find("BEGIN CERTIFICATE") == std::string::npos)
      throw inconsistent;
    std::string logged_pem = *logged_key;
    auto strip = [](std::string s) {
      std::erase_if(s, [](char c) { return c == '\n' || c == '\r'; });
      return s;
    };
    if (strip(logged_pem) != strip(certificate_pem)) throw inconsistent;
  } catch (const VerificationError&) {
    throw;
  } catch (const std::exception&) {
    throw inconsistent;
  }
}

}  // namespace kb::sign
