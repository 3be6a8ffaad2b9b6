#pragma once
// Locking a project's kernels (`kernels lock PROJECT_DIR`): the dependencies
// pyproject.toml declares under [tool.kernels.dependencies] are resolved on a
// hub, once each and concurrently, into PROJECT_DIR/kernels.lock.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/hub/hub.h"
#include "libkb/lock/lockfile.h"

namespace kb::lock {

// One entry of [tool.kernels.dependencies]: "org/name" = <major version>.
struct Dependency {
  std::string repo_id;
  int version = 0;
};

// The dependencies of a pyproject.toml in file order, or nullopt when it has
// no [tool.kernels.dependencies] table. Throws kb::Error positioned as
// "<file>:<line>:<col>: ..." for invalid TOML, a `tool`, `tool.kernels` or
// `dependencies` that is not a table, a value that is not a positive integer
// or a key that is not a repository id (both naming the key); and naming the
// file when it cannot be read.
std::optional<std::vector<Dependency>> read_dependencies(const std::filesystem::path& pyproject);

// kernels.lock formats: the structured one of kernels >= 0.17 (commits of
// every kernel of the dependency trees, no variant hashes), or the legacy
// one of kernels <= 0.16 (one entry per declared kernel with a hash per
// variant, which kb verifies on every load).
enum class LockFormat { Structured, Legacy };

struct LockOptions {
  unsigned parallel = 8;                         // kernels resolved at once
  std::function<void(const std::string&)> warn;  // newer versions (any thread, one at a time)
  LockFormat format = LockFormat::Structured;
  // Structured locks: the commit of each declared kernel instead of its
  // version branch's head (migrating a legacy lock keeps its commits).
  std::map<std::string, std::string> pinned_commits;
};

// The lock of one dependency, of the repository named (a kernel-status.toml
// redirect in it is not followed): v<version> is resolved to its commit, and
// the tree at that commit is listed once (recursively) to hash every
// build/torch* variant. Throws kb::Error from the hub (unknown repository) or
// "Version N not found, available versions: 1, 2".
KernelLock lock_dependency(hub::Hub& hub, const Dependency& dependency, const LockOptions& options = {});

// The structured lock of one declared kernel and, recursively, of the
// kernels every variant of it depends on (metadata.json kernel-depends at
// the locked commit), as the current kernels release locks them: each
// kernel's publisher must be trusted (where the hub knows publishers), a
// version resolves to its branch's commit, a revision to its commit, and a
// kernel reached again on its own path is "Cyclic kernel dependency
// detected: a/x -> b/y -> a/x". Entries are added to `locks` (keyed by
// repository and pin; one reached twice is locked once).
void lock_tree(hub::Hub& hub, const config::KernelDependency& root, std::vector<KernelLock>& locks,
               const LockOptions& options = {});

// lock_dependency for each, concurrently; results in the order given. When
// any fails, throws one kb::Error with a line per failed kernel
// ("org/name: <why>"), in the order given.
std::vector<KernelLock> lock_dependencies(hub::Hub& hub, const std::vector<Dependency>& dependencies,
                                          const LockOptions& options = {});

struct ProjectLock {
  std::filesystem::path lock_path;  // PROJECT_DIR/kernels.lock
  bool declared = false;            // pyproject.toml has [tool.kernels.dependencies]
  LockFormat format = LockFormat::Structured;
  std::vector<Dependency> dependencies;
  // Legacy: one per dependency, same order. Structured: every kernel of the
  // trees, in the file's order.
  std::vector<KernelLock> locks;
};

// Reads PROJECT_DIR/pyproject.toml (kb::Error "No pyproject.toml found in:
// DIR" when missing), locks its dependencies in options.format and writes
// kernels.lock atomically. Without a [tool.kernels.dependencies] table
// nothing is resolved or written (declared = false). On failure the
// existing lock file is left as it was.
ProjectLock lock_project(hub::Hub& hub, const std::filesystem::path& project_dir, const LockOptions& options = {});

// The commits a legacy PROJECT_DIR/kernels.lock pins, by repository, for
// LockOptions::pinned_commits: migrating keeps what was locked. kb::Error
// when the file is missing or already structured.
std::map<std::string, std::string> legacy_commits(const std::filesystem::path& lock_path);

}  // namespace kb::lock
