#include "libkb/lock/project.h"

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "libkb/lock/variant_hash.h"
#include "libkb/metadata/metadata.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/util/toml.h"
#include "libkb/util/work_queue.h"

namespace kb::lock {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDependenciesTable = "tool.kernels.dependencies";

std::string position(const std::string& file, const toml::node& node) {
  return toml_position(file, node.source().begin);
}

// The value as written, for messages: "1.0", "\"1\"".
std::string toml_text(const toml::node& node) {
  std::ostringstream out;
  node.visit([&](const auto& v) { out << v; });
  return out.str();
}

// The sub-table `key` of `table`; nullptr when absent, an error when `key`
// holds something else.
const toml::table* sub_table(const std::string& file, const toml::table& table, const char* key,
                             const std::string& dotted) {
  const toml::node* node = table.get(key);
  if (!node) return nullptr;
  if (!node->is_table())
    throw Error(position(file, *node) + ": `" + dotted + "` must be a table, found " + toml_type_name(*node));
  return node->as_table();
}

void warn(const LockOptions& options, const std::string& message) {
  if (!options.warn) return;
  static std::mutex mutex;  // one message at a time from concurrent locks
  std::lock_guard lock(mutex);
  options.warn(message);
}

}  // namespace

std::optional<std::vector<Dependency>> read_dependencies(const fs::path& pyproject) {
  const std::string file = pyproject.string();
  toml::table root = parse_toml(read_file(pyproject), file);
  const toml::table* tool = sub_table(file, root, "tool", "tool");
  const toml::table* kernels = tool ? sub_table(file, *tool, "kernels", "tool.kernels") : nullptr;
  const toml::table* table = kernels ? sub_table(file, *kernels, "dependencies", kDependenciesTable) : nullptr;
  if (!table) return std::nullopt;

  // toml++ keeps keys sorted; the lock keeps the file's order.
  std::vector<std::pair<std::string, const toml::node*>> entries;
  for (const auto& [key, node] : *table) entries.emplace_back(std::string(key.str()), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto &x = a.second->source().begin, &y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });

  std::vector<Dependency> out;
  for (const auto& [key, node] : entries) {
    std::string where = position(file, *node) + ": [" + kDependenciesTable + "] \"" + key + "\"";
    try {
      hub::validate_repo_id(key);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    const toml::value<int64_t>* value = node->as_integer();
    if (!value || value->get() < 1 || value->get() > INT_MAX)
      throw Error(where + ": the version must be a positive integer (a major version such as 1), found " +
                  (value ? "" : toml_type_name(*node) + " ") + toml_text(*node));
    out.push_back({key, static_cast<int>(value->get())});
  }
  return out;
}

KernelLock lock_dependency(hub::Hub& hub, const Dependency& dependency, const LockOptions& options) {
  // The repository asked for is locked: a kernel-status.toml redirect in it
  // is not followed (as in kernels >= 0.17).
  const std::string& repo_id = dependency.repo_id;
  std::map<int, std::string> versions = hub::version_branches(hub.list_branches(repo_id));
  std::string commit = hub::version_commit(versions, dependency.version);
  if (auto notice = hub::newer_version_notice(repo_id, dependency.version, versions)) warn(options, *notice);

  KernelLock lock{repo_id, commit, {}};
  lock.variants = variant_locks(hub.list_tree(repo_id, lock.sha, "", true));
  return lock;
}

std::vector<KernelLock> lock_dependencies(hub::Hub& hub, const std::vector<Dependency>& dependencies,
                                          const LockOptions& options) {
  std::vector<KernelLock> locks(dependencies.size());
  std::vector<std::string> errors(dependencies.size());
  {
    WorkQueue queue(std::clamp<unsigned>(static_cast<unsigned>(dependencies.size()), 1, std::max(1u, options.parallel)));
    for (size_t i = 0; i < dependencies.size(); ++i) {
      queue.submit([&, i] {
        try {
          locks[i] = lock_dependency(hub, dependencies[i], options);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    queue.wait_idle();
  }
  std::vector<std::string> failed;
  for (size_t i = 0; i < dependencies.size(); ++i)
    if (!errors[i].empty()) failed.push_back(dependencies[i].repo_id + ": " + errors[i]);
  if (!failed.empty()) throw Error(join(failed, "\n"));
  return locks;
}

namespace {

constexpr size_t kMaxTreeDepth = config::kMaxDependencyDepth;

// Version 1 and a revision named "v1" are different pins (each has its own
// lock entry), so their keys must differ.
std::string pin_key(const std::string& repo_id, const Pin& pin) {
  return config::dependency_key({repo_id, pin.version, pin.revision});
}

Pin pin_of(const config::KernelDependency& d) { return {d.version, d.revision}; }

// One lock_tree walk: the path from the root (for cycles) and what is
// locked already.
class TreeLocker {
 public:
  TreeLocker(hub::Hub& hub, const LockOptions& options, std::vector<KernelLock>& locks)
      : hub_(hub), options_(options), locks_(locks) {
    for (const KernelLock& k : locks_)
      if (k.pin) done_.insert(pin_key(k.repo_id, *k.pin));
  }

  void lock(const config::KernelDependency& dep) {
    Pin pin = pin_of(dep);
    std::string key = pin_key(dep.repo_id, pin);
    if (done_.count(key)) return;
    for (size_t i = 0; i < path_keys_.size(); ++i) {
      if (path_keys_[i] != key) continue;
      std::vector<std::string> cycle(path_names_.begin() + static_cast<std::ptrdiff_t>(i), path_names_.end());
      cycle.push_back(dep.repo_id);
      throw Error("Cyclic kernel dependency detected: " + join(cycle, " -> "));
    }
    if (path_keys_.size() >= kMaxTreeDepth)
      throw Error("Kernel dependency tree deeper than " + std::to_string(kMaxTreeDepth) +
                  " levels: " + join(path_names_, " -> "));
    hub::validate_repo_id(dep.repo_id);
    KernelFacts facts = facts_of(dep, path_keys_.empty());
    if (facts.notice) warn(options_, *facts.notice);
    const std::string& commit = facts.commit;

    path_keys_.push_back(key);
    path_names_.push_back(dep.repo_id);
    for (const config::KernelDependency& child : facts.dependencies) lock(child);
    path_keys_.pop_back();
    path_names_.pop_back();

    KernelLock entry;
    entry.repo_id = dep.repo_id;
    entry.sha = commit;
    entry.pin = pin;
    locks_.push_back(std::move(entry));
    done_.insert(key);
  }

  // Asks the hub about the declared kernels at once (up to
  // options.parallel): the walk then finds their facts ready. Failures are
  // kept and raised when the walk reaches the kernel, in file order.
  void prefetch(const std::vector<config::KernelDependency>& roots) {
    WorkQueue queue(std::max(1u, std::min<unsigned>(options_.parallel, static_cast<unsigned>(roots.size()))));
    for (const config::KernelDependency& dep : roots) {
      queue.submit([this, dep] {
        Fetched fetched;
        try {
          hub::validate_repo_id(dep.repo_id);
          fetched.facts = fetch_facts(dep, true);
        } catch (...) {
          fetched.error = std::current_exception();
        }
        std::lock_guard lock(prefetched_mutex_);
        prefetched_.emplace(pin_key(dep.repo_id, pin_of(dep)), std::move(fetched));
      });
    }
    queue.wait_idle();
  }

 private:
  // What the hub says about one pinned kernel: its commit, the
  // kernel-depends of its variants there, and a newer-version notice.
  struct KernelFacts {
    std::string commit;
    std::vector<config::KernelDependency> dependencies;
    std::optional<std::string> notice;
  };
  struct Fetched {
    KernelFacts facts;
    std::exception_ptr error;
  };

  KernelFacts facts_of(const config::KernelDependency& dep, bool root) {
    if (root) {
      std::unique_lock lock(prefetched_mutex_);
      auto found = prefetched_.find(pin_key(dep.repo_id, pin_of(dep)));
      if (found != prefetched_.end()) {
        Fetched fetched = std::move(found->second);
        prefetched_.erase(found);
        lock.unlock();
        if (fetched.error) std::rethrow_exception(fetched.error);
        return fetched.facts;
      }
    }
    return fetch_facts(dep, root);
  }

  // The publisher is checked before anything else of the repository is read.
  KernelFacts fetch_facts(const config::KernelDependency& dep, bool root) {
    check_publisher(dep.repo_id);
    KernelFacts facts;
    facts.commit = resolve(dep, root, facts.notice);
    facts.dependencies = variant_dependencies(dep.repo_id, facts.commit);
    return facts;
  }

  // As the current release locks: only kernels of trusted publishers (a hub
  // without publishers trusts what it holds). Each organisation is asked once.
  void check_publisher(const std::string& repo_id) {
    std::string org = repo_id.substr(0, repo_id.find('/'));
    std::optional<bool> trusted;
    bool known = false;
    {
      std::lock_guard lock(publishers_mutex_);
      if (auto found = publishers_.find(org); found != publishers_.end()) {
        trusted = found->second;
        known = true;
      }
    }
    if (!known) {
      try {
        trusted = hub_.publisher_trusted(org);
      } catch (const Error& e) {
        throw Error("Kernel repository '" + repo_id + "' could not verify publisher trust status (" + e.what() + ")");
      }
      std::lock_guard lock(publishers_mutex_);
      publishers_.emplace(org, trusted);
    }
    if (trusted && !*trusted)
      throw Error("Kernel repository '" + repo_id +
                  "' is not from a trusted publisher. Set trust_remote_code=True or add the repository ID to the "
                  "trust_remote_code allowlist to allow loading kernels from untrusted sources.");
  }

  std::string resolve(const config::KernelDependency& dep, bool root, std::optional<std::string>& notice) {
    if (root) {
      if (auto pinned = options_.pinned_commits.find(dep.repo_id); pinned != options_.pinned_commits.end())
        return hub_.resolve_revision(dep.repo_id, pinned->second);
    }
    if (dep.revision) return hub_.resolve_revision(dep.repo_id, *dep.revision);
    if (*dep.version > static_cast<uint64_t>(INT_MAX)) throw Error("invalid version " + std::to_string(*dep.version));
    const int version = static_cast<int>(*dep.version);
    std::map<int, std::string> versions = hub::version_branches(hub_.list_branches(dep.repo_id));
    std::string commit = hub::version_commit(versions, version);
    notice = hub::newer_version_notice(dep.repo_id, version, versions);
    return commit;
  }

  // The kernel-depends of every variant at `commit`: each may depend on
  // other kernels, and the lock serves every system.
  std::vector<config::KernelDependency> variant_dependencies(const std::string& repo_id, const std::string& commit) {
    std::vector<hub::TreeEntry> variants;
    try {
      variants = hub_.list_tree(repo_id, commit, "build", false);
    } catch (const hub::NotFound&) {
      return {};  // nothing built at this commit
    }
    std::vector<config::KernelDependency> out;
    for (const hub::TreeEntry& variant : variants) {
      if (!variant.directory) continue;
      std::string path = variant.path + "/metadata.json";
      std::optional<std::string> text = hub_.read_repo_file(repo_id, commit, path);
      if (!text) continue;
      // Builds older than kernel dependencies carry less metadata (no id,
      // sometimes only python-depends); they depend on nothing, so only a
      // file that declares kernel-depends has to be complete.
      nlohmann::json raw = nlohmann::json::parse(*text, nullptr, false);
      if (raw.is_object() && !raw.contains("kernel-depends")) continue;
      metadata::Metadata md = metadata::parse_metadata(*text, repo_id + "@" + commit + ":" + path);
      out.insert(out.end(), md.kernel_depends.begin(), md.kernel_depends.end());
    }
    return out;
  }

  hub::Hub& hub_;
  const LockOptions& options_;
  std::vector<KernelLock>& locks_;
  std::set<std::string> done_;
  std::vector<std::string> path_keys_, path_names_;
  std::mutex prefetched_mutex_;
  std::map<std::string, Fetched> prefetched_;  // by pin key, declared kernels only
  std::mutex publishers_mutex_;
  std::map<std::string, std::optional<bool>> publishers_;  // organisation -> hub's answer
};

}  // namespace

void lock_tree(hub::Hub& hub, const config::KernelDependency& root, std::vector<KernelLock>& locks,
               const LockOptions& options) {
  TreeLocker(hub, options, locks).lock(root);
}

std::map<std::string, std::string> legacy_commits(const fs::path& lock_path) {
  std::error_code ec;
  if (!fs::is_regular_file(lock_path, ec)) throw Error("No kernels.lock to migrate: " + lock_path.string());
  std::map<std::string, std::string> out;
  for (const KernelLock& k : read_lock_file(lock_path)) {
    if (k.pin) throw Error(lock_path.string() + " is already in the structured format: nothing to migrate");
    out.emplace(k.repo_id, k.sha);
  }
  return out;
}

ProjectLock lock_project(hub::Hub& hub, const fs::path& project_dir, const LockOptions& options) {
  fs::path pyproject = project_dir / "pyproject.toml";
  std::error_code ec;
  if (!fs::is_regular_file(pyproject, ec)) throw Error("No pyproject.toml found in: " + project_dir.string());
  ProjectLock out;
  out.lock_path = project_dir / std::string(kLockFileName);
  std::optional<std::vector<Dependency>> dependencies = read_dependencies(pyproject);
  if (!dependencies) return out;
  out.declared = true;
  out.format = options.format;
  out.dependencies = std::move(*dependencies);
  if (options.format == LockFormat::Legacy) {
    out.locks = lock_dependencies(hub, out.dependencies, options);
    write_lock_file(out.lock_path, out.locks);
    return out;
  }
  std::vector<config::KernelDependency> roots;
  for (const Dependency& d : out.dependencies) {
    if (!options.pinned_commits.empty() && !options.pinned_commits.count(d.repo_id))
      throw Error(d.repo_id + ": not in the lock being migrated; lock the project without migrating to add it");
    roots.push_back({d.repo_id, static_cast<uint64_t>(d.version), std::nullopt});
  }
  TreeLocker locker(hub, options, out.locks);
  locker.prefetch(roots);
  for (const config::KernelDependency& root : roots) locker.lock(root);
  write_file_atomic(out.lock_path, format_structured_lock_file(out.locks));
  out.locks = parse_lock_file(read_file(out.lock_path), out.lock_path.string());  // in the file's order
  return out;
}

}  // namespace kb::lock
