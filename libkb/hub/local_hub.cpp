// The local hub: one bare git repository per kernel under a root directory,
// read and written in place with libgit2 (no git CLI, no network).
#include <git2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "libkb/cache/cache.h"
#include "libkb/git/git.h"
#include "libkb/hub/git_support.h"
#include "libkb/hub/hub.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"

namespace kb::hub {

namespace fs = std::filesystem;

namespace {

// RAII owners for libgit2 objects.
template <typename T, void (*Free)(T*)>
struct Owned {
  T* ptr = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (ptr) Free(ptr);
  }
  T** out() { return &ptr; }
  T* get() const { return ptr; }
};
using Repository = Owned<git_repository, git_repository_free>;
using Object = Owned<git_object, git_object_free>;
using Commit = Owned<git_commit, git_commit_free>;
using Tree = Owned<git_tree, git_tree_free>;
using TreeEntryOwned = Owned<git_tree_entry, git_tree_entry_free>;
using Blob = Owned<git_blob, git_blob_free>;
using Index = Owned<git_index, git_index_free>;
using Signature = Owned<git_signature, git_signature_free>;

using detail::last_git_error;

void check(int rc, const std::string& what) {
  if (rc < 0) throw Error(what + ": " + last_git_error());
}

std::string oid_hex(const git_oid* oid) { return git_oid_tostr_s(oid); }

git_oid parse_oid(std::string_view hex) {
  git_oid oid;
  std::string text(hex);
  if (git_oid_fromstr(&oid, text.c_str()) < 0) throw Error("not a git object id: " + text);
  return oid;
}

class LocalHub : public Hub {
 public:
  explicit LocalHub(fs::path root) : root_(std::move(root)) {}

  std::string describe() const override { return "local hub at " + root_.string(); }

  std::string resolve_revision(std::string_view repo_id, std::string_view revision) override {
    Repository repo;
    open(repo_id, repo);
    Commit commit;
    return oid_hex(git_commit_id(lookup_commit(repo, repo_id, revision, commit).get()));
  }

  // Branches are read from the repository's files (loose refs, then
  // packed-refs) rather than through libgit2: a warm `get_kernel(version=N)`
  // needs nothing else from the hub, and initialising libgit2 costs more
  // than the whole lookup.
  std::vector<RefInfo> list_branches(std::string_view repo_id) override {
    fs::path repo = repo_path(repo_id);
    std::error_code ec;
    if (!fs::is_regular_file(repo / "HEAD", ec))
      throw NotFound(NotFound::What::Repository, "Repository not found: " + std::string(repo_id) + " (" + describe() + ")");
    std::map<std::string, std::string> branches;
    const std::string prefix = "refs/heads/";
    if (fs::is_regular_file(repo / "packed-refs", ec)) {
      for (const std::string& line : split(read_file(repo / "packed-refs"), '\n')) {
        // "<oid> refs/heads/<name>"; comments and peeled "^<oid>" lines skipped.
        size_t space = line.find(' ');
        if (line.empty() || line[0] == '#' || line[0] == '^' || space == std::string::npos) continue;
        std::string ref = line.substr(space + 1);
        if (ref.rfind(prefix, 0) == 0 && git::is_object_id(line.substr(0, space)))
          branches[ref.substr(prefix.size())] = git::parse_object_id(line.substr(0, space));
      }
    }
    fs::path heads = repo / "refs" / "heads";
    for (auto it = fs::recursive_directory_iterator(heads, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string oid = trim(read_file(it->path()));
      if (git::is_object_id(oid)) branches[relative_slash_path(it->path(), heads)] = git::parse_object_id(oid);
    }
    std::vector<RefInfo> out;
    for (auto& [name, commit] : branches) out.push_back({name, commit});
    return out;
  }

  std::vector<TreeEntry> list_tree(std::string_view repo_id, std::string_view commit, std::string_view path,
                                   bool recursive) override {
    Repository repo;
    open(repo_id, repo);
    Commit c;
    lookup_commit(repo, repo_id, commit, c);
    Tree root;
    check(git_commit_tree(root.out(), c.get()), "reading the tree of " + std::string(commit));
    Tree sub;
    git_tree* tree = root.get();
    std::string prefix(path);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) {
      TreeEntryOwned entry;
      if (git_tree_entry_bypath(entry.out(), root.get(), prefix.c_str()) < 0 ||
          git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE)
        throw NotFound(NotFound::What::Entry, "no folder `" + prefix + "` in " + std::string(repo_id) + " at " + std::string(commit));
      check(git_tree_lookup(sub.out(), repo.get(), git_tree_entry_id(entry.get())), "reading " + prefix);
      tree = sub.get();
    }
    std::vector<TreeEntry> out;
    std::string base = prefix.empty() ? "" : prefix + "/";
    if (!recursive) {
      for (size_t i = 0; i < git_tree_entrycount(tree); ++i) out.push_back(describe_entry(repo, base, git_tree_entry_byindex(tree, i)));
      return out;
    }
    struct Walk {
      LocalHub* self;
      Repository* repo;
      std::string base;
      std::vector<TreeEntry>* out;
    } walk{this, &repo, base, &out};
    check(git_tree_walk(
              tree, GIT_TREEWALK_PRE,
              [](const char* root_path, const git_tree_entry* entry, void* payload) -> int {
                auto* w = static_cast<Walk*>(payload);
                if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB)
                  w->out->push_back(w->self->describe_entry(*w->repo, w->base + root_path, entry));
                return 0;
              },
              &walk),
          "listing " + std::string(repo_id));
    return out;
  }

  void fetch_file(std::string_view repo_id, std::string_view /*commit*/, const TreeEntry& entry,
                  const std::function<void(const char*, size_t)>& sink) override {
    Repository repo;
    open(repo_id, repo);
    git_oid oid = parse_oid(entry.blob_id);
    if (stream_blob(repo, oid, entry.path, repo_id, sink)) return;
    Blob blob;
    check(git_blob_lookup(blob.out(), repo.get(), &oid), "reading " + entry.path + " of " + std::string(repo_id));
    sink(static_cast<const char*>(git_blob_rawcontent(blob.get())), static_cast<size_t>(git_blob_rawsize(blob.get())));
  }

  PublishResult publish(std::string_view repo_id, const PublishRequest& request) override {
    git::ensure_initialized();
    validate_repo_id(repo_id);
    if (request.branch.empty() || git_reference_is_valid_name(("refs/heads/" + request.branch).c_str()) != 1)
      throw Error("invalid branch name: `" + request.branch + "`");
    Repository repo;
    open_or_create(repo_id, repo);
    Signature sig;
    check(git_signature_now(sig.out(), "kb", "kb@localhost"), "creating a commit signature");

    Commit parent;
    std::string ref_name = "refs/heads/" + request.branch;
    Object found;
    if (git_revparse_single(found.out(), repo.get(), (ref_name + "^{commit}").c_str()) == 0 ||
        git_revparse_single(found.out(), repo.get(), "refs/heads/main^{commit}") == 0)
      check(git_commit_lookup(parent.out(), repo.get(), git_object_id(found.get())), "reading the branch head");

    Index index;
    check(git_index_new(index.out()), "creating an index");
    if (parent.get()) {
      Tree tree;
      check(git_commit_tree(tree.out(), parent.get()), "reading the branch tree");
      check(git_index_read_tree(index.get(), tree.get()), "reading the branch tree");
    }
    for (const FileOperation& op : request.operations) {
      if (op.kind == FileOperation::Kind::Delete) {
        git_index_remove_directory(index.get(), op.path_in_repo.c_str(), 0);
        git_index_remove(index.get(), op.path_in_repo.c_str(), 0);
        continue;
      }
      git_oid blob;
      check(git_blob_create_from_disk(&blob, repo.get(), op.local_path.c_str()),
            "storing " + op.local_path.string());
      git_index_entry entry;
      std::memset(&entry, 0, sizeof entry);
      entry.mode = GIT_FILEMODE_BLOB;
      entry.id = blob;
      entry.path = op.path_in_repo.c_str();
      check(git_index_add(index.get(), &entry), "adding " + op.path_in_repo);
    }
    git_oid tree_id;
    check(git_index_write_tree_to(&tree_id, index.get(), repo.get()), "writing the tree");
    Object branch_head;
    bool branch_exists = git_revparse_single(branch_head.out(), repo.get(), (ref_name + "^{commit}").c_str()) == 0;
    if (parent.get() && branch_exists && git_oid_equal(&tree_id, git_commit_tree_id(parent.get())))
      return {oid_hex(git_commit_id(parent.get())), false};
    Tree tree;
    check(git_tree_lookup(tree.out(), repo.get(), &tree_id), "reading the new tree");
    const git_commit* parents[] = {parent.get()};
    git_oid commit_id;
    // With update_ref the branch moves only if it still points at the parent,
    // so a concurrent publish to the same branch fails instead of being lost.
    check(git_commit_create(&commit_id, repo.get(), ref_name.c_str(), sig.get(), sig.get(), nullptr,
                            request.message.c_str(), tree.get(), parent.get() ? 1 : 0, parents),
          "committing to " + request.branch + " of " + std::string(repo_id));
    return {oid_hex(&commit_id), true};
  }

 private:
  // Loose objects (what publishing writes) stream in chunks, so a large file
  // never sits in memory whole; other storage is read at once. False when
  // the object cannot be streamed (nothing was sent to the sink then).
  static bool stream_blob(Repository& repo, const git_oid& oid, const std::string& path, std::string_view repo_id,
                          const std::function<void(const char*, size_t)>& sink) {
    git_odb* odb = nullptr;
    if (git_repository_odb(&odb, repo.get()) < 0) return false;
    Owned<git_odb, git_odb_free> odb_owner;
    *odb_owner.out() = odb;
    git_odb_stream* stream = nullptr;
    size_t length = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_open_rstream(&stream, &length, &type, odb, &oid) < 0) return false;
    Owned<git_odb_stream, git_odb_stream_free> stream_owner;
    *stream_owner.out() = stream;
    std::vector<char> buffer(1 << 20);
    size_t total = 0;
    for (;;) {
      int n = git_odb_stream_read(stream, buffer.data(), buffer.size());
      if (n < 0) throw Error("reading " + path + " of " + std::string(repo_id) + ": " + last_git_error());
      if (n == 0) break;
      sink(buffer.data(), static_cast<size_t>(n));
      total += static_cast<size_t>(n);
    }
    if (total != length)
      throw Error("reading " + path + " of " + std::string(repo_id) + ": the object store ended after " +
                  std::to_string(total) + " of " + std::to_string(length) + " bytes");
    return true;
  }

  fs::path repo_path(std::string_view repo_id) const {
    validate_repo_id(repo_id);
    return root_ / (std::string(repo_id) + ".git");
  }

  void open(std::string_view repo_id, Repository& repo) const {
    git::ensure_initialized();
    fs::path path = repo_path(repo_id);
    if (git_repository_open_bare(repo.out(), path.c_str()) < 0)
      throw NotFound(NotFound::What::Repository, "Repository not found: " + std::string(repo_id) + " (" + describe() + ")");
  }

  void open_or_create(std::string_view repo_id, Repository& repo) const {
    git::ensure_initialized();
    *repo.out() = detail::open_or_init_bare(repo_path(repo_id));
    // (git_repository_is_empty compares against the configured default branch
    // name, not "main"; an unborn HEAD is what matters.)
    if (git_repository_head_unborn(repo.get()) != 1) return;
    // Every repository starts with an empty commit on main, from which version
    // branches are created.
    Signature sig;
    check(git_signature_now(sig.out(), "kb", "kb@localhost"), "creating a commit signature");
    Index index;
    check(git_index_new(index.out()), "creating an index");
    git_oid tree_id, commit_id;
    check(git_index_write_tree_to(&tree_id, index.get(), repo.get()), "writing the initial tree");
    Tree tree;
    check(git_tree_lookup(tree.out(), repo.get(), &tree_id), "reading the initial tree");
    check(git_commit_create(&commit_id, repo.get(), "refs/heads/main", sig.get(), sig.get(), nullptr,
                            "Initial commit", tree.get(), 0, nullptr),
          "creating the initial commit of " + std::string(repo_id));
  }

  Commit& lookup_commit(Repository& repo, std::string_view repo_id, std::string_view revision, Commit& out) const {
    std::string spec(revision);
    // A full commit id, else a branch, else a tag: never a path or a range.
    if (spec.empty() || spec.find("..") != std::string::npos || spec.find(':') != std::string::npos ||
        spec.find('^') != std::string::npos || spec.find('~') != std::string::npos || spec.find('@') != std::string::npos)
      throw NotFound(NotFound::What::Revision, "Revision not found: `" + spec + "` in " + std::string(repo_id));
    Object obj;
    bool found = false;
    for (const std::string& candidate : {"refs/heads/" + spec, "refs/tags/" + spec, spec}) {
      if (candidate == spec && !git::is_object_id(spec)) continue;
      if (git_revparse_single(obj.out(), repo.get(), (candidate + "^{commit}").c_str()) == 0) {
        found = true;
        break;
      }
    }
    if (!found) throw NotFound(NotFound::What::Revision, "Revision not found: `" + spec + "` in " + std::string(repo_id) + " (" + describe() + ")");
    check(git_commit_lookup(out.out(), repo.get(), git_object_id(obj.get())), "reading commit " + spec);
    return out;
  }

  TreeEntry describe_entry(Repository& repo, const std::string& base, const git_tree_entry* e) const {
    TreeEntry out;
    out.path = base + git_tree_entry_name(e);
    out.blob_id = oid_hex(git_tree_entry_id(e));
    out.directory = git_tree_entry_type(e) == GIT_OBJECT_TREE;
    out.symlink = git_tree_entry_filemode(e) == GIT_FILEMODE_LINK;
    if (!out.directory) {
      Blob blob;
      check(git_blob_lookup(blob.out(), repo.get(), git_tree_entry_id(e)), "reading " + out.path);
      out.size = static_cast<uint64_t>(git_blob_rawsize(blob.get()));
    }
    return out;
  }

  fs::path root_;
};

}  // namespace

std::unique_ptr<Hub> open_local_hub(const fs::path& root) { return std::make_unique<LocalHub>(root); }

}  // namespace kb::hub
