// The Hugging Face Hub HTTP API (runtime spec 4.3): refs, revision info,
// paginated tree listings, resolve downloads (LFS files redirect to storage),
// the commit API with regular and LFS files, repository and branch creation,
// and the organisation overview that says whether a publisher is trusted.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "libkb/cache/verify.h"
#include "libkb/http/client.h"
#include "libkb/hub/hf_answers.h"
#include "libkb/hub/hub.h"
#include "libkb/util/dirs.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::hub {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxTreePages = 10000;      // 1000 entries a page on the Hub: 10 M files
constexpr size_t kCommitBatch = 1000;        // operations per commit, as the existing uploader does
constexpr size_t kPreuploadBatch = 250;      // files per preupload request
constexpr size_t kLfsBatch = 100;            // objects per LFS batch request
constexpr size_t kSampleBytes = 512;         // what the Hub looks at to choose LFS
constexpr int kPublishAttempts = 3;          // reads of a branch that moved during an upload

std::string error_message(const http::Response& r) {
  if (auto m = r.header("x-error-message"); m && !m->empty()) return *m;
  return answers::error_detail(r.body);
}

// Both hashes the Hub may know a local file by, computed once.
struct LocalFile {
  fs::path path;
  std::string repo_path;
  uint64_t size = 0;
  std::string blob_id;
  std::string sha256;
  bool lfs = false;
};

// Both hashes in one read of the file.
LocalFile describe_local(const FileOperation& op) {
  LocalFile f;
  f.path = op.local_path;
  f.repo_path = op.path_in_repo;
  std::error_code ec;
  f.size = fs::file_size(op.local_path, ec);
  std::ifstream in(op.local_path, std::ios::binary);
  if (ec || !in) throw Error("cannot read " + op.local_path.string() + " to upload it");
  cache::StreamHasher sha1(cache::ExpectedHash::GitBlobSha1, f.size), sha256(cache::ExpectedHash::Sha256, f.size);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::string_view chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    sha1.update(chunk);
    sha256.update(chunk);
  }
  if (in.bad() || sha1.size() != f.size) throw Error("cannot read " + op.local_path.string() + " to upload it");
  f.blob_id = sha1.finish_hex();
  f.sha256 = sha256.finish_hex();
  return f;
}

std::string read_prefix(const fs::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string data(n, '\0');
  in.read(data.data(), static_cast<std::streamsize>(n));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

http::ClientOptions client_options(const HfHubOptions& options) {
  http::ClientOptions out;
  out.user_agent = options.user_agent;
  // huggingface_hub's download timeout: seconds without a byte before a
  // transfer counts as dropped (and is resumed or retried).
  if (std::string timeout = env_or("HF_HUB_DOWNLOAD_TIMEOUT", ""); !timeout.empty()) {
    char* end = nullptr;
    double seconds = std::strtod(timeout.c_str(), &end);
    if (end && *end == '\0' && seconds > 0 && seconds < 86400)
      out.stall_timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  out.retry.max_attempts = std::max(1, options.max_attempts);
  return out;
}

class HfHub : public Hub {
 public:
  explicit HfHub(HfHubOptions options)
      : options_(std::move(options)), client_(client_options(options_)) {
    while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
    if (options_.repo_type != "kernel" && options_.repo_type != "model")
      throw Error("unsupported repository type `" + options_.repo_type + "`: expected kernel or model");
  }

  std::string describe() const override { return "Hugging Face Hub at " + options_.endpoint; }

  bool supports(Feature) const override { return true; }

  std::optional<std::string> branch_url(std::string_view repo_id, std::string_view branch) const override {
    return options_.endpoint + (options_.repo_type == "kernel" ? "/kernels/" : "/") + std::string(repo_id) +
           "/tree/" + std::string(branch);
  }

  std::string resolve_revision(std::string_view repo_id, std::string_view revision) override {
    validate_repo_id(repo_id);
    std::string what = "resolving revision `" + std::string(revision) + "` of " + std::string(repo_id);
    http::Response r = get(api(repo_id) + "/revision/" + http::url_escape(std::string(revision)));
    check(r, what, repo_id, revision);
    return answers::revision_commit(r.body, what);
  }

  std::vector<RefInfo> list_branches(std::string_view repo_id) override {
    validate_repo_id(repo_id);
    std::string what = "listing the branches of " + std::string(repo_id);
    http::Response r = get(api(repo_id) + "/refs");
    check(r, what, repo_id, "");
    return answers::branches(r.body, what);
  }

  std::vector<TreeEntry> list_tree(std::string_view repo_id, std::string_view commit, std::string_view path,
                                   bool recursive) override {
    validate_repo_id(repo_id);
    std::string folder(path);
    while (!folder.empty() && folder.back() == '/') folder.pop_back();
    std::string what = "listing " + (folder.empty() ? std::string("the files") : "`" + folder + "`") + " of " +
                       std::string(repo_id) + " at " + std::string(commit);
    std::string url = api(repo_id) + "/tree/" + http::url_escape(std::string(commit)) +
                      (folder.empty() ? "" : "/" + http::url_escape_path(folder)) +
                      (recursive ? "?recursive=true&expand=false" : "?expand=false");
    std::vector<TreeEntry> out;
    for (size_t page = 0; page < kMaxTreePages; ++page) {
      http::Response r = get(url);
      check(r, what, repo_id, commit);
      for (TreeEntry& e : answers::tree_page(r.body, recursive, what)) out.push_back(std::move(e));
      std::optional<std::string> next = r.header("link") ? http::next_link(*r.header("link")) : std::nullopt;
      if (!next) return out;
      // The token goes to the endpoint only: a next page elsewhere is refused.
      if (next->rfind(options_.endpoint + "/", 0) != 0)
        throw Error(what + ": the hub pointed the next page at another server (" + *next + ")");
      url = *next;
    }
    throw Error(what + ": more than " + std::to_string(kMaxTreePages) + " pages");
  }

  void fetch_file(std::string_view repo_id, std::string_view commit, const TreeEntry& entry,
                  const std::function<void(const char*, size_t)>& sink) override {
    http::Request req{"GET", resolve_url(repo_id, commit, entry.path), auth_headers(), "", true};
    http::Response r = client_.download(req, sink);
    check(r, "downloading " + entry.path + " of " + std::string(repo_id), repo_id, commit);
  }

  std::optional<std::string> read_repo_file(std::string_view repo_id, std::string_view revision,
                                       std::string_view path) override {
    validate_repo_id(repo_id);
    http::Response r = get(resolve_url(repo_id, revision, path));
    try {
      check(r, "reading " + std::string(path) + " of " + std::string(repo_id), repo_id, revision);
    } catch (const NotFound& e) {
      if (e.kind() == NotFound::What::Revision) throw;
      return std::nullopt;
    }
    return std::move(r.body);
  }

  bool file_exists(std::string_view repo_id, std::string_view revision, std::string_view path) override {
    validate_repo_id(repo_id);
    http::Request req{"HEAD", resolve_url(repo_id, revision, path), auth_headers(), "", false};
    http::Response r = client_.send(req);
    if (r.status >= 200 && r.status < 400) return true;  // an LFS file answers with a redirect
    try {
      check(r, "looking for " + std::string(path) + " in " + std::string(repo_id), repo_id, revision);
    } catch (const NotFound& e) {
      if (e.kind() == NotFound::What::Entry) return false;
      throw;
    }
    return false;
  }

  std::optional<bool> publisher_trusted(std::string_view org) override {
    std::string what = "looking up publisher `" + std::string(org) + "`";
    http::Response r = get(options_.endpoint + "/api/organizations/" + http::url_escape(std::string(org)) + "/overview");
    // An HttpError, so the trust check can tell a refused token (401) apart.
    if (r.status < 200 || r.status >= 300)
      throw http::HttpError(
          what + ": HTTP " + std::to_string(r.status) + " from " + options_.endpoint + ": " + error_message(r),
          r.status, r.header("x-error-code").value_or(""));
    return answers::trusted_publisher(r.body, what);
  }

  PublishResult publish(std::string_view repo_id, const PublishRequest& request) override {
    // A commit that lands between our read of the branch and our commit (412:
    // another uploader, or the commit of an earlier upload whose process was
    // killed after sending it) sends us back to read the branch again; only
    // what still differs is sent.
    for (int attempt = 1;; ++attempt) {
      try {
        return publish_once(repo_id, attempt == 1 ? request : without_base(request));
      } catch (const BranchMoved& e) {
        if (attempt >= kPublishAttempts) throw Error(std::string(e.what()) + " (gave up after " +
                                                     std::to_string(kPublishAttempts) + " attempts)");
      }
    }
  }

 private:
  // Thrown for a 412 from the commit API: the branch moved since it was read.
  class BranchMoved : public Error {
   public:
    using Error::Error;
  };

  static PublishRequest without_base(PublishRequest request) {
    request.base_commit.reset();
    request.base_files.reset();
    return request;
  }

  PublishResult publish_once(std::string_view repo_id, const PublishRequest& request) {
    validate_repo_id(repo_id);
    if (!request.create_pr) create_repo(repo_id, request.private_repo);
    std::map<std::string, std::string> branches;
    for (const RefInfo& b : list_branches(repo_id)) branches[b.name] = b.commit;
    bool new_branch = !branches.count(request.branch);
    if (new_branch && request.create_pr)
      throw Error("pull requests can only target an existing branch: `" + request.branch + "` does not exist in " +
                  std::string(repo_id));
    if (new_branch) create_branch(repo_id, request.branch);
    bool known = request.base_commit && request.base_files;
    std::string head = known ? *request.base_commit : resolve_revision(repo_id, request.branch);

    std::map<std::string, TreeEntry> remote;
    for (TreeEntry e : known ? *request.base_files : list_tree(repo_id, head, "", true))
      remote.emplace(e.path, std::move(e));

    // Only what differs from the branch is sent; nothing at all means no commit.
    std::vector<LocalFile> additions;
    std::vector<json> deletions;
    for (const FileOperation& op : request.operations) {
      if (op.kind == FileOperation::Kind::Add) {
        LocalFile f = describe_local(op);
        auto it = remote.find(f.repo_path);
        bool same = it != remote.end() &&
                    (it->second.lfs_sha256 ? (*it->second.lfs_sha256 == f.sha256 && it->second.size == f.size)
                                           : it->second.blob_id == f.blob_id);
        if (!same) additions.push_back(std::move(f));
        continue;
      }
      std::string target = op.path_in_repo;
      while (!target.empty() && target.back() == '/') target.pop_back();
      if (remote.count(target)) {
        deletions.push_back({{"key", "deletedFile"}, {"value", {{"path", target}}}});
      } else {
        auto inside = remote.lower_bound(target + "/");
        if (inside != remote.end() && inside->first.rfind(target + "/", 0) == 0)
          deletions.push_back({{"key", "deletedFolder"}, {"value", {{"path", target + "/"}}}});
      }
    }
    if (additions.empty() && deletions.empty()) return {head, false, ""};

    choose_upload_modes(repo_id, request.branch, additions);
    uint64_t total = 0, done = 0;
    for (const LocalFile& f : additions) total += f.size;
    auto advance = [&](uint64_t bytes) {
      done += bytes;
      if (request.progress) request.progress(done, total);
    };
    if (request.progress) request.progress(0, total);
    upload_lfs_objects(repo_id, request.branch, additions, advance);

    std::vector<json> operations;
    std::map<std::string, uint64_t> regular_sizes;
    for (const LocalFile& f : additions)
      if (!f.lfs) regular_sizes[f.repo_path] = f.size;
    for (const LocalFile& f : additions) {
      if (f.lfs) {
        operations.push_back({{"key", "lfsFile"},
                              {"value", {{"path", f.repo_path}, {"algo", "sha256"}, {"oid", f.sha256}, {"size", f.size}}}});
      } else {
        operations.push_back({{"key", "file"},
                              {"value", {{"path", f.repo_path}, {"encoding", "base64"},
                                         {"content", base64_encode(kb::read_file(f.path))}}}});
      }
    }
    for (json& d : deletions) operations.push_back(std::move(d));

    PublishResult result{head, true, ""};
    size_t batches = (operations.size() + kCommitBatch - 1) / kCommitBatch;
    std::string target = request.branch;
    for (size_t b = 0; b < batches; ++b) {
      std::string message = request.message;
      if (batches > 1) {
        // "Uploaded using `kb`." -> "Uploaded using `kb` (batch 1/3)."
        std::string stem = message;
        bool dot = !stem.empty() && stem.back() == '.';
        if (dot) stem.pop_back();
        message = stem + " (batch " + std::to_string(b + 1) + "/" + std::to_string(batches) + ")" + (dot ? "." : "");
      }
      size_t end = std::min(operations.size(), (b + 1) * kCommitBatch);
      std::vector<json> batch(operations.begin() + static_cast<long>(b * kCommitBatch),
                              operations.begin() + static_cast<long>(end));
      bool open_pr = request.create_pr && b == 0;
      answers::CommitAnswer answer = commit(repo_id, target, message, result.commit, batch, open_pr);
      for (const json& op : batch)
        if (op["key"] == "file") advance(regular_sizes[op["value"]["path"].get<std::string>()]);
      result.commit = answer.commit;
      if (open_pr) {
        result.pull_request_url = answer.pull_request_url;
        // Later batches go to the pull request's ref: refs/pr/<number>.
        std::string number = result.pull_request_url.substr(result.pull_request_url.find_last_of('/') + 1);
        if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos)
          throw Error("committing to " + std::string(repo_id) + ": the hub's pull request URL ends in no number: " +
                      result.pull_request_url);
        target = "refs/pr/" + number;
      }
    }
    return result;
  }

  std::string api(std::string_view repo_id) const {
    return options_.endpoint + "/api/" + (options_.repo_type == "kernel" ? "kernels/" : "models/") +
           std::string(repo_id);
  }

  std::string resolve_url(std::string_view repo_id, std::string_view revision, std::string_view path) const {
    return options_.endpoint + (options_.repo_type == "kernel" ? "/kernels/" : "/") + std::string(repo_id) +
           "/resolve/" + http::url_escape(std::string(revision)) + "/" + http::url_escape_path(std::string(path));
  }

  std::string lfs_batch_url(std::string_view repo_id) const {
    return options_.endpoint + (options_.repo_type == "kernel" ? "/kernels/" : "/") + std::string(repo_id) +
           ".git/info/lfs/objects/batch";
  }

  std::vector<std::pair<std::string, std::string>> auth_headers() const {
    if (!options_.token) return {};
    return {{"Authorization", "Bearer " + *options_.token}};
  }

  http::Response get(const std::string& url) const {
    return client_.send({"GET", url, auth_headers(), "", true});
  }

  http::Response post_json(const std::string& url, const json& body,
                           const std::string& content_type = "application/json") const {
    auto headers = auth_headers();
    headers.emplace_back("Content-Type", content_type);
    if (content_type.find("git-lfs") != std::string::npos) headers.emplace_back("Accept", content_type);
    return client_.send({"POST", url, headers, body.dump(), true});
  }

  // Throws the error a non-2xx answer means, worded for the user.
  void check(const http::Response& r, const std::string& what, std::string_view repo_id,
             std::string_view revision) const {
    if (r.status >= 200 && r.status < 300) return;
    std::string code = r.header("x-error-code").value_or("");
    std::string detail = error_message(r);
    std::string repo(repo_id);
    if (code == "RevisionNotFound")
      throw NotFound(NotFound::What::Revision,
                     "Revision not found: `" + std::string(revision) + "` in " + repo + " (" + describe() + ")");
    if (code == "EntryNotFound")
      throw NotFound(NotFound::What::Entry, what + ": no such file in " + repo + " (" + describe() + ")");
    if (code == "RepoNotFound" || (r.status == 404 && code.empty())) {
      std::string hint = options_.token ? " Check the repo id, and that your token can read it."
                                        : " Check the repo id; a private repository needs a token (HF_TOKEN).";
      throw NotFound(NotFound::What::Repository, "Repository not found: " + repo + " (" + describe() + ")." + hint);
    }
    if (r.status == 401)
      throw Error(what + ": the hub requires authentication (HTTP 401: " + detail + "). " +
                  (options_.token ? std::string("The token in use was refused: check HF_TOKEN or the token file.")
                                  : std::string("Set HF_TOKEN or log in with `hf auth login`.")));
    if (r.status == 403)
      throw Error(what + ": access denied (HTTP 403: " + detail + "). " +
                  (options_.token ? "Your token lacks the permission this needs on " + repo +
                                        " (a write token for publishing)."
                                  : std::string("Set HF_TOKEN to a token with access to ") + repo + "."));
    throw Error(what + ": HTTP " + std::to_string(r.status) + " from " + options_.endpoint + ": " + detail);
  }

  void create_repo(std::string_view repo_id, bool private_repo) {
    std::string id(repo_id);
    size_t slash = id.find('/');
    json body = {{"name", id.substr(slash + 1)},
                 {"organization", id.substr(0, slash)},
                 {"type", options_.repo_type},
                 {"private", private_repo}};
    http::Response r = post_json(options_.endpoint + "/api/repos/create", body);
    if (r.status == 409 || (r.status >= 200 && r.status < 300)) return;  // 409: it exists already
    if (r.status == 403 && options_.token)
      throw Error("creating " + id + ": the hub refused (HTTP 403: " + error_message(r) +
                  "). Publishing kernels under an organisation needs its approval: ask for it in a discussion at " +
                  options_.endpoint + "/spaces/kernels-community/README, or publish under your own namespace.");
    check(r, "creating " + id, repo_id, "");
  }

  void create_branch(std::string_view repo_id, const std::string& branch) {
    http::Response r = post_json(api(repo_id) + "/branch/" + http::url_escape(branch), json::object());
    check(r, "creating branch `" + branch + "` of " + std::string(repo_id), repo_id, branch);
  }

  // Asks the hub which files go through LFS and which it ignores.
  void choose_upload_modes(std::string_view repo_id, const std::string& branch, std::vector<LocalFile>& files) {
    std::string what = "preparing the upload to " + std::string(repo_id);
    std::set<std::string> ignored;
    for (size_t start = 0; start < files.size(); start += kPreuploadBatch) {
      json list = json::array();
      for (size_t i = start; i < std::min(files.size(), start + kPreuploadBatch); ++i)
        list.push_back({{"path", files[i].repo_path},
                        {"sample", base64_encode(read_prefix(files[i].path, kSampleBytes))},
                        {"size", files[i].size}});
      http::Response r = post_json(api(repo_id) + "/preupload/" + http::url_escape(branch), {{"files", list}});
      check(r, what, repo_id, branch);
      std::map<std::string, answers::UploadMode> modes = answers::upload_modes(r.body, what);
      for (size_t i = start; i < std::min(files.size(), start + kPreuploadBatch); ++i) {
        auto it = modes.find(files[i].repo_path);
        if (it == modes.end()) throw Error(what + ": the hub said nothing about " + files[i].repo_path);
        files[i].lfs = it->second.lfs;
        if (it->second.ignore) ignored.insert(files[i].repo_path);
      }
    }
    if (!ignored.empty())
      files.erase(std::remove_if(files.begin(), files.end(), [&](const LocalFile& f) { return ignored.count(f.repo_path) > 0; }),
                  files.end());
  }

  void upload_lfs_objects(std::string_view repo_id, const std::string& branch, const std::vector<LocalFile>& files,
                          const std::function<void(uint64_t)>& advance) {
    std::vector<const LocalFile*> lfs;
    std::set<std::string> seen;
    for (const LocalFile& f : files)
      if (f.lfs && seen.insert(f.sha256).second) lfs.push_back(&f);
    std::string what = "uploading large files to " + std::string(repo_id);
    const std::string lfs_type = "application/vnd.git-lfs+json";
    for (size_t start = 0; start < lfs.size(); start += kLfsBatch) {
      json objects = json::array();
      std::map<std::string, const LocalFile*> by_oid;
      for (size_t i = start; i < std::min(lfs.size(), start + kLfsBatch); ++i) {
        objects.push_back({{"oid", lfs[i]->sha256}, {"size", lfs[i]->size}});
        by_oid[lfs[i]->sha256] = lfs[i];
      }
      json body = {{"operation", "upload"},
                   {"transfers", {"basic"}},
                   {"objects", objects},
                   {"hash_algo", "sha256"},
                   {"ref", {{"name", "refs/heads/" + branch}}}};
      http::Response r = post_json(lfs_batch_url(repo_id), body, lfs_type);
      check(r, what, repo_id, branch);
      for (const answers::LfsObject& obj : answers::lfs_batch(r.body, what)) {
        auto file = by_oid.find(obj.oid);
        if (file == by_oid.end())
          throw Error(what + ": the hub answered about an object not asked for (" + obj.oid + ")");
        if (obj.error) throw Error(what + ": " + file->second->repo_path + " was refused: " + *obj.error);
        if (obj.upload) put_object(*obj.upload, *file->second, what);
        if (obj.verify) verify_object(*obj.verify, *file->second, what);
        advance(file->second->size);
      }
    }
  }

  // The action's own headers, and the token only when the action goes to the hub.
  std::vector<std::pair<std::string, std::string>> action_headers(const answers::LfsAction& action) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (action.href.rfind(options_.endpoint + "/", 0) == 0) headers = auth_headers();
    headers.insert(headers.end(), action.headers.begin(), action.headers.end());
    return headers;
  }

  void put_object(const answers::LfsAction& action, const LocalFile& file, const std::string& what) {
    http::Request req{"PUT", action.href, action_headers(action), "", true, file.path};
    http::Response r = client_.send(req);
    if (r.status < 200 || r.status >= 300)
      throw Error(what + ": storing " + file.repo_path + " failed (HTTP " + std::to_string(r.status) + ": " +
                  error_message(r) + ")");
  }

  void verify_object(const answers::LfsAction& action, const LocalFile& file, const std::string& what) {
    auto headers = action_headers(action);
    headers.emplace_back("Content-Type", "application/vnd.git-lfs+json");
    json body = {{"oid", file.sha256}, {"size", file.size}};
    http::Response r = client_.send({"POST", action.href, headers, body.dump(), true});
    if (r.status < 200 || r.status >= 300)
      throw Error(what + ": the hub could not verify " + file.repo_path + " (HTTP " + std::to_string(r.status) + ": " +
                  error_message(r) + ")");
  }

  answers::CommitAnswer commit(std::string_view repo_id, const std::string& revision, const std::string& message,
              const std::string& parent, const std::vector<json>& operations, bool create_pr) {
    json header = {{"summary", message}, {"description", ""}};
    // The parent guards against a concurrent push to the branch.
    if (!create_pr && revision.rfind("refs/pr/", 0) != 0) header["parentCommit"] = parent;
    std::string payload = json{{"key", "header"}, {"value", header}}.dump() + "\n";
    for (const json& op : operations) payload += op.dump() + "\n";
    auto headers = auth_headers();
    headers.emplace_back("Content-Type", "application/x-ndjson");
    std::string url = api(repo_id) + "/commit/" + http::url_escape(revision) + (create_pr ? "?create_pr=1" : "");
    http::Response r = client_.send({"POST", url, headers, payload, true});
    std::string what = "committing to `" + revision + "` of " + std::string(repo_id);
    if (r.status == 412)
      throw BranchMoved(what + ": the branch moved while uploading (HTTP 412: " + error_message(r) + ")");
    check(r, what, repo_id, revision);
    return answers::commit(r.body, create_pr, what);
  }

  HfHubOptions options_;
  http::Client client_;
};

}  // namespace

std::string hf_endpoint() {
  std::string endpoint = env_or("HF_ENDPOINT", "");
  if (endpoint.empty()) endpoint = "https://huggingface.co";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

std::optional<std::string> hf_token() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    std::string value = trim(env_or(name, ""));
    if (!value.empty()) return value;
  }
  fs::path file;
  if (std::string p = env_or("HF_TOKEN_PATH", ""); !p.empty()) {
    file = p;
  } else if (std::string home = env_or("HF_HOME", ""); !home.empty()) {
    file = fs::path(home) / "token";
  } else {
    file = user_cache_dir() / "huggingface" / "token";
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::string token = trim(read_file(file));
  if (token.empty()) return std::nullopt;
  return token;
}

std::unique_ptr<Hub> open_hf_hub(const HfHubOptions& options) { return std::make_unique<HfHub>(options); }

}  // namespace kb::hub
