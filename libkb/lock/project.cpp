#include "libkb/lock/project.h"

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <sstream>

#include "libkb/hub/status.h"
#include "libkb/lock/variant_hash.h"
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
  // One branch listing serves both the status check (at main) and the
  // version lookup, unless the kernel moved.
  std::string repo_id = dependency.repo_id;
  std::vector<hub::RefInfo> branches = hub.list_branches(repo_id);
  auto main_branch = std::find_if(branches.begin(), branches.end(), [](const hub::RefInfo& r) { return r.name == "main"; });
  if (main_branch != branches.end()) {
    // Only the destination repository is kept, not the redirect's revision.
    if (std::optional<hub::Redirect> redirect = hub::kernel_status(hub, repo_id, main_branch->commit)) {
      hub::validate_repo_id(redirect->destination);
      warn(options, "'" + repo_id + "' redirected to '" + redirect->destination + "'");
      repo_id = redirect->destination;
      branches = hub.list_branches(repo_id);
    }
  }

  std::map<int, std::string> versions = hub::version_branches(branches);
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

ProjectLock lock_project(hub::Hub& hub, const fs::path& project_dir, const LockOptions& options) {
  fs::path pyproject = project_dir / "pyproject.toml";
  std::error_code ec;
  if (!fs::is_regular_file(pyproject, ec)) throw Error("No pyproject.toml found in: " + project_dir.string());
  ProjectLock out;
  out.lock_path = project_dir / std::string(kLockFileName);
  std::optional<std::vector<Dependency>> dependencies = read_dependencies(pyproject);
  if (!dependencies) return out;
  out.declared = true;
  out.dependencies = std::move(*dependencies);
  out.locks = lock_dependencies(hub, out.dependencies, options);
  write_lock_file(out.lock_path, out.locks);
  return out;
}

}  // namespace kb::lock
