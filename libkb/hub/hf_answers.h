#pragma once
// What the Hugging Face Hub's JSON answers mean (runtime spec 4.3), read from
// the bytes the hub sent and nothing else: a hub that answers with the wrong
// shape, the wrong types or nonsense gets a kb::Error that says what was being
// done and what the answer lacked ("listing the files of org/k at abc…: entry
// 3 has a `size` that is not a non-negative integer"), never an exception of
// the JSON library. Kept apart from the HTTP calls so each reader is
// unit-tested and fuzzed on its own.
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/hub/hub.h"

namespace kb::hub::answers {

using Json = nlohmann::json;

// The body as JSON; throws "<what>: the hub answered with malformed JSON".
Json parse(std::string_view body, const std::string& what);

// object[key] as a string; throws "<what>: the hub's answer has no `key`".
std::string string_member(const Json& object, const char* key, const std::string& what);

// The human message of an error answer: its "error" member when it is a
// string, else the first 300 bytes of the body, trimmed ("no details" when
// empty).
std::string error_detail(std::string_view body);

// GET /api/<type>s/<repo>/revision/<rev>: the commit, 40 or 64 hex digits
// (lowercased).
std::string revision_commit(std::string_view body, const std::string& what);

// GET /api/<type>s/<repo>/refs: the branches, each with a 40/64 hex commit.
std::vector<RefInfo> branches(std::string_view body, const std::string& what);

// One page of GET /api/<type>s/<repo>/tree/<commit>[/<path>]: its entries
// (directories left out of a recursive listing). Sizes are non-negative
// integers, LFS oids 64 hex digits.
std::vector<TreeEntry> tree_page(std::string_view body, bool recursive, const std::string& what);

// GET /api/organizations/<org>/overview: the trustedKernelPublisher flag
// (absent or null: false; other JSON values by their truth).
bool trusted_publisher(std::string_view body, const std::string& what);

// POST /api/<type>s/<repo>/preupload/<branch>: per path, how to send it.
struct UploadMode {
  bool lfs = false;
  bool ignore = false;
};
std::map<std::string, UploadMode> upload_modes(std::string_view body, const std::string& what);

// POST <repo>.git/info/lfs/objects/batch: what to do with each object.
struct LfsAction {
  std::string href;
  std::vector<std::pair<std::string, std::string>> headers;  // the action's string headers
};
struct LfsObject {
  std::string oid;
  std::optional<std::string> error;  // the object was refused: the hub's message
  std::optional<LfsAction> upload;   // absent: the hub has the content already
  std::optional<LfsAction> verify;
};
std::vector<LfsObject> lfs_batch(std::string_view body, const std::string& what);

// POST /api/<type>s/<repo>/commit/<rev>: the new commit and, for a pull
// request, its URL (required when `pull_request` is true).
struct CommitAnswer {
  std::string commit;
  std::string pull_request_url;
};
CommitAnswer commit(std::string_view body, bool pull_request, const std::string& what);

}  // namespace kb::hub::answers
