#pragma once
// The kernels a C++ runtime has loaded into this process (the torch one and
// the tvm-ffi one each keep their own), one per variant directory. Loading a
// directory again returns the first load; entries are never removed, so the
// references handed out stay valid (a loaded library is never closed).
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include "libkb/util/error.h"

namespace kb::load {

template <class Kernel>
class LoadedKernels {
 public:
  using Kernels = std::vector<std::unique_ptr<Kernel>>;

  // The kernel of `variant_dir`: made by `load(canonical_dir, loaded)` the
  // first time, where `loaded` is every kernel loaded before, in load order.
  // The lock is held while `load` runs, so two threads loading one kernel
  // load it once. Throws kb::Error when the directory cannot be resolved.
  template <class Load>
  const Kernel& find_or_load(const std::filesystem::path& variant_dir, Load&& load) {
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::canonical(variant_dir, ec);
    if (ec) throw Error("Cannot load kernel from " + variant_dir.string() + ": " + ec.message());
    std::lock_guard lock(mutex_);
    if (auto it = by_dir_.find(canonical); it != by_dir_.end()) return *it->second;
    std::unique_ptr<Kernel> kernel = load(canonical, static_cast<const Kernels&>(kernels_));
    Kernel* out = kernel.get();
    kernels_.push_back(std::move(kernel));
    by_dir_.emplace(canonical, out);
    return *out;
  }

  // Every kernel loaded so far, in load order.
  std::vector<const Kernel*> all() const {
    std::lock_guard lock(mutex_);
    std::vector<const Kernel*> out;
    for (const auto& k : kernels_) out.push_back(k.get());
    return out;
  }

 private:
  mutable std::mutex mutex_;
  Kernels kernels_;
  std::map<std::filesystem::path, Kernel*> by_dir_;
};

}  // namespace kb::load
