// Kernel dependency trees (kernels >= 0.17): a kernel's metadata names the
// kernels it needs (kernel-depends); they are located the way the kernel
// itself was and loaded before it.
#include <cstdlib>
#include <map>

#include "libkb/hub/hub.h"
#include "libkb/load/load.h"
#include "libkb/util/strings.h"

namespace kb::load {

namespace {

constexpr size_t kMaxDepth = config::kMaxDependencyDepth;

class TreeWalk {
 public:
  explicit TreeWalk(const DependencyLocator& locate) : locate_(locate) {}

  // Locates the dependencies of `node` (reached through path_), moving
  // their warnings into `warnings`.
  void fill(Located& node, std::vector<Warning>& warnings) {
    if (path_.size() > kMaxDepth)
      throw LoadError(ErrorKind::InvalidArgument, "Kernel dependency tree deeper than " + std::to_string(kMaxDepth) +
                                                      " levels: " + join(path_names_, " -> "));
    for (const config::KernelDependency& dep : node.metadata.kernel_depends) {
      std::string key = config::dependency_key(dep);
      for (size_t i = 0; i < path_.size(); ++i) {
        if (path_[i] != key) continue;
        std::vector<std::string> cycle(path_names_.begin() + static_cast<std::ptrdiff_t>(i), path_names_.end());
        cycle.push_back(dep.repo_id);
        throw LoadError(ErrorKind::InvalidArgument, "Cyclic kernel dependency detected: " + join(cycle, " -> "));
      }
      auto known = located_.find(key);
      if (known == located_.end()) {
        try {
          hub::validate_repo_id(dep.repo_id);
        } catch (const Error& e) {
          throw LoadError(ErrorKind::InvalidArgument, "Kernel '" + node.metadata.name +
                                                          "' has an invalid kernel dependency: " + e.what());
        }
        auto located = std::make_shared<Located>(locate_(dep));
        warnings.insert(warnings.end(), located->warnings.begin(), located->warnings.end());
        located->warnings.clear();
        path_.push_back(key);
        path_names_.push_back(dep.repo_id);
        fill(*located, warnings);
        path_.pop_back();
        path_names_.pop_back();
        known = located_.emplace(key, std::move(located)).first;
      }
      node.dependencies.push_back({dep.repo_id, known->second});
    }
  }

  void enter(const config::KernelDependency& root) {
    path_.push_back(config::dependency_key(root));
    path_names_.push_back(root.repo_id);
  }

 private:
  const DependencyLocator& locate_;
  std::vector<std::string> path_;        // keys from the root to the node being filled
  std::vector<std::string> path_names_;  // their repository ids, for messages
  std::map<std::string, std::shared_ptr<const Located>> located_;
};

}  // namespace

void locate_dependencies(Located& root, const config::KernelDependency& root_key,
                         const DependencyLocator& locate_dependency) {
  if (root.metadata.kernel_depends.empty()) return;
  TreeWalk walk(locate_dependency);
  walk.enter(root_key);
  std::vector<Warning> warnings;
  try {
    walk.fill(root, warnings);
  } catch (LoadError& e) {
    e.warnings.insert(e.warnings.begin(), warnings.begin(), warnings.end());
    throw;
  }
  root.warnings.insert(root.warnings.end(), warnings.begin(), warnings.end());
}

const lock::KernelLock* find_locked(const std::vector<lock::KernelLock>& locks,
                                    const config::KernelDependency& dependency) {
  for (const lock::KernelLock& entry : locks) {
    if (entry.repo_id != dependency.repo_id) continue;
    // A legacy entry pins no version: its repository is all there is.
    if (!entry.pin) return &entry;
    if (entry.pin->version == dependency.version && entry.pin->revision == dependency.revision) return &entry;
  }
  return nullptr;
}

bool all_latest_requested() {
  const char* value = std::getenv("UNSTABLE_KERNELS_ALL_LATEST");
  if (!value) return false;
  std::string v = to_lower(value);
  return v == "1" || v == "on" || v == "yes" || v == "true";
}

}  // namespace kb::load
