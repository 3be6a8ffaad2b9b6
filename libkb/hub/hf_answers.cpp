#include "libkb/hub/hf_answers.h"

#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::hub::answers {

namespace {

// A value the hub sent, short enough for a message.
std::string shown(std::string_view text) {
  constexpr size_t kMax = 80;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "…";
}

const Json& member(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

const Json& array_member(const Json& body, const char* key, const std::string& what) {
  const Json& list = member(body, key);
  if (!list.is_array()) throw Error(what + ": no `" + key + "` list in the hub's answer");
  return list;
}

std::string commit_id(const Json& object, const char* key, const std::string& what) {
  std::string value = string_member(object, key, what);
  if (!git::is_object_id(value))
    throw Error(what + ": the hub's `" + key + "` is not a commit id (40 or 64 hex digits): " + shown(value));
  return to_lower(value);
}

uint64_t size_member(const Json& object, const char* key, uint64_t fallback, const std::string& what,
                     const std::string& entry) {
  const Json& value = member(object, key);
  if (value.is_null()) return fallback;
  if (!value.is_number_unsigned())
    throw Error(what + ": " + entry + " has a `" + key + "` that is not a non-negative integer");
  return value.get<uint64_t>();
}

bool truth(const Json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>() != 0;
  if (value.is_string()) return !value.get_ref<const std::string&>().empty();
  return !value.empty();
}

std::optional<LfsAction> lfs_action(const Json& actions, const char* name, const std::string& what) {
  const Json& action = member(actions, name);
  if (action.is_null()) return std::nullopt;
  LfsAction out;
  const Json& href = member(action, "href");
  if (!href.is_string()) throw Error(what + ": the hub's `" + name + "` action has no `href`");
  out.href = href.get<std::string>();
  const Json& headers = member(action, "header");
  if (headers.is_object())
    for (const auto& [key, value] : headers.items())
      if (value.is_string()) out.headers.emplace_back(key, value.get<std::string>());
  return out;
}

}  // namespace

Json parse(std::string_view body, const std::string& what) {
  Json json = Json::parse(body, nullptr, false);
  if (json.is_discarded()) throw Error(what + ": the hub answered with malformed JSON");
  return json;
}

std::string string_member(const Json& object, const char* key, const std::string& what) {
  const Json& value = member(object, key);
  if (!value.is_string()) throw Error(what + ": the hub's answer has no `" + key + "`");
  return value.get<std::string>();
}

std::string error_detail(std::string_view body) {
  Json json = Json::parse(body, nullptr, false);
  if (const Json& error = member(json, "error"); error.is_string()) return error.get<std::string>();
  std::string text = trim(body.substr(0, 300));
  return text.empty() ? "no details" : text;
}

std::string revision_commit(std::string_view body, const std::string& what) {
  return commit_id(parse(body, what), "sha", what);
}

std::vector<RefInfo> branches(std::string_view body, const std::string& what) {
  Json json = parse(body, what);
  std::vector<RefInfo> out;
  for (const Json& branch : array_member(json, "branches", what))
    out.push_back({string_member(branch, "name", what), commit_id(branch, "targetCommit", what)});
  return out;
}

std::vector<TreeEntry> tree_page(std::string_view body, bool recursive, const std::string& what) {
  Json json = parse(body, what);
  if (!json.is_array()) throw Error(what + ": expected a list of entries");
  std::vector<TreeEntry> out;
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& item = json[i];
    TreeEntry e;
    e.path = string_member(item, "path", what);
    std::string entry = "entry " + std::to_string(i + 1) + " (" + shown(e.path) + ")";
    e.directory = string_member(item, "type", what) == "directory";
    if (e.directory && recursive) continue;
    if (const Json& oid = member(item, "oid"); oid.is_string()) e.blob_id = oid.get<std::string>();
    else if (!oid.is_null()) throw Error(what + ": " + entry + " has an `oid` that is not a string");
    e.size = size_member(item, "size", 0, what, entry);
    if (const Json& lfs = member(item, "lfs"); lfs.is_object()) {
      std::string oid = string_member(lfs, "oid", what);
      if (oid.size() != 64 || !git::is_object_id(oid))
        throw Error(what + ": " + entry + " has an LFS oid that is not 64 hex digits: " + shown(oid));
      e.lfs_sha256 = to_lower(oid);
      e.size = size_member(lfs, "size", e.size, what, entry);
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool trusted_publisher(std::string_view body, const std::string& what) {
  return truth(member(parse(body, what), "trustedKernelPublisher"));
}

std::map<std::string, UploadMode> upload_modes(std::string_view body, const std::string& what) {
  Json json = parse(body, what);
  std::map<std::string, UploadMode> out;
  for (const Json& file : array_member(json, "files", what)) {
    UploadMode mode;
    const Json& upload = member(file, "uploadMode");
    mode.lfs = upload.is_string() && upload.get_ref<const std::string&>() == "lfs";
    mode.ignore = truth(member(file, "shouldIgnore"));
    out[string_member(file, "path", what)] = mode;
  }
  return out;
}

std::vector<LfsObject> lfs_batch(std::string_view body, const std::string& what) {
  Json json = parse(body, what);
  std::vector<LfsObject> out;
  for (const Json& object : array_member(json, "objects", what)) {
    LfsObject o;
    o.oid = string_member(object, "oid", what);
    if (const Json& error = member(object, "error"); !error.is_null()) {
      const Json& message = member(error, "message");
      o.error = message.is_string() ? message.get<std::string>() : std::string("no details");
    }
    const Json& actions = member(object, "actions");
    if (!actions.is_null() && !actions.is_object())
      throw Error(what + ": the `actions` of object " + shown(o.oid) + " are not an object");
    o.upload = lfs_action(actions, "upload", what);
    o.verify = lfs_action(actions, "verify", what);
    out.push_back(std::move(o));
  }
  return out;
}

CommitAnswer commit(std::string_view body, bool pull_request, const std::string& what) {
  Json json = parse(body, what);
  CommitAnswer out;
  out.commit = commit_id(json, "commitOid", what);
  if (pull_request) {
    const Json& url = member(json, "pullRequestUrl");
    if (!url.is_string()) throw Error(what + ": the hub opened no pull request");
    out.pull_request_url = url.get<std::string>();
  }
  return out;
}

}  // namespace kb::hub::answers
