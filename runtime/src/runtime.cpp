#include "kb/runtime.h"

#include <dlfcn.h>

#include <ATen/Context.h>
#include <ATen/Version.h>
#include <torch/version.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "libkb/load/load.h"
#include "libkb/load/loaded_kernels.h"
#include "libkb/lock/lockfile.h"
#include "libkb/runtime/local_kernels.h"
#include "libkb/runtime/torch_config.h"
#include "libkb/runtime/variant_files.h"
#include "libkb/util/platform.h"
#include "libkb/util/strings.h"

namespace kb::runtime {

namespace fs = std::filesystem;

namespace {

load::LoadedKernels<LoadedKernel>& registry() {
  static load::LoadedKernels<LoadedKernel> r;
  return r;
}

// Op names (without namespace) the dispatcher knows in `ns`, sorted: a scan
// of every op, for messages only.
std::vector<std::string> ops_in_namespace(const std::string& ns) {
  const std::string prefix = ns + "::";
  std::vector<std::string> out;
  for (const auto& name : c10::Dispatcher::singleton().getAllOpNames())
    if (starts_with(name.name, prefix)) out.push_back(name.name.substr(prefix.size()));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Records the op names a library registers in one namespace while it loads
// (TORCH_LIBRARY runs in its static initialisers, inside dlopen). Adding
// the listener walks the dispatcher's ops once; outside a recording they
// are ignored at once. Listing every op before and after each dlopen cost
// more than the dlopen itself.
class OpRecorder : public c10::OpRegistrationListener {
 public:
  void onOperatorRegistered(const c10::OperatorHandle& op) override {
    std::lock_guard lock(mutex_);
    if (!recording_) return;
    const std::string& name = op.operator_name().name;
    if (name.size() > recording_->size() + 2 && name.compare(0, recording_->size(), *recording_) == 0 &&
        name.compare(recording_->size(), 2, "::") == 0)
      recorded_.push_back(name.substr(recording_->size() + 2));
  }
  void onOperatorDeregistered(const c10::OperatorHandle&) override {}

  // Runs `load` and returns the op names it registered in `ns`, sorted.
  // Loads are serialised by the runtime's registry lock.
  template <typename F>
  std::vector<std::string> registered_by(const std::string& ns, F&& load) {
    {
      std::lock_guard lock(mutex_);
      recording_ = ns;
      recorded_.clear();
    }
    struct StopRecording {
      OpRecorder& recorder;
      ~StopRecording() {
        std::lock_guard lock(recorder.mutex_);
        recorder.recording_.reset();
      }
    } stop{*this};
    load();
    std::lock_guard lock(mutex_);
    std::vector<std::string> out = std::move(recorded_);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  std::mutex mutex_;  // the dispatcher calls in with its own lock held: no calls back into it
  std::optional<std::string> recording_;
  std::vector<std::string> recorded_;
};

OpRecorder& op_recorder() {
  // Never destroyed: the dispatcher keeps the listener until the process
  // ends, and the recorder must outlive it.
  struct Registration {
    OpRecorder* recorder;  // owned by the dispatcher
    c10::RegistrationHandleRAII* handle;
  };
  static const Registration registration = [] {
    auto* recorder = new OpRecorder;
    auto* handle = new c10::RegistrationHandleRAII(
        c10::Dispatcher::singleton().addRegistrationListener(std::unique_ptr<c10::OpRegistrationListener>(recorder)));
    return Registration{recorder, handle};
  }();
  return *registration.recorder;
}

// Whether a TORCH_LIBRARY block already owns `ns` in this process (a second
// one would throw from a static initialiser inside dlopen, which cannot be
// recovered from): the dispatcher is asked to register the namespace, and
// the registration is dropped again at once.
bool namespace_taken(const std::string& ns) {
  try {
    c10::RegistrationHandleRAII probe = c10::Dispatcher::singleton().registerLibrary(ns, "kb::runtime probe");
    return false;
  } catch (const c10::Error&) {
    return true;
  }
}

void* open_library(const fs::path& library) {
  // RTLD_LAZY: the kernel's shared object is also a Python extension module,
  // so it references Python's C API (PyModule_Create2 in PyInit_*), which a
  // libtorch program does not provide. Those functions are only called when
  // Python imports the module; lazy binding leaves them unresolved instead of
  // failing the load. RTLD_LOCAL: two kernels' symbols never interpose.
  dlerror();
  void* handle = ::dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (handle) return handle;
  const char* why = dlerror();
  std::string message = "Cannot load kernel library " + library.string() + ": " + (why ? why : "unknown error");
  if (why && std::string(why).find("undefined symbol: Py") != std::string::npos)
    message += " (Python symbols are bound lazily; is LD_BIND_NOW set?)";
  throw Error(message);
}

// Opens what the loading core located; what it learned getting there (its
// metadata, where the kernel came from, its warnings) is recorded by the
// first load.
const LoadedKernel& load_located(const load::Located& located) {
  // Kernel dependencies first: their ops exist before this kernel's library
  // initialises.
  std::vector<std::pair<std::string, const LoadedKernel*>> dependencies;
  for (const load::LocatedDependency& dep : located.dependencies)
    dependencies.emplace_back(dep.repo_id, &load_located(*dep.located));

  return registry().find_or_load(located.variant_dir, [&](const fs::path& canonical, const auto& loaded) {
    auto kernel = std::make_unique<LoadedKernel>();
    kernel->variant_dir = canonical;
    kernel->variant = located.variant;
    kernel->metadata = located.metadata;
    kernel->dependencies = std::move(dependencies);
    kernel->ops_namespace = kernel->metadata.id;
    kernel->library = find_kernel_library(canonical, kernel->metadata);

    // A second library registering a namespace makes TORCH_LIBRARY throw from
    // a static initialiser inside dlopen, which cannot be recovered from.
    for (const auto& other : loaded)
      if (other->ops_namespace == kernel->ops_namespace)
        throw Error("Cannot load kernel from " + canonical.string() + ": its op namespace " + kernel->ops_namespace +
                    " is already registered by " + other->variant_dir.string());
    if (namespace_taken(kernel->ops_namespace))
      throw Error("Cannot load kernel from " + canonical.string() + ": its op namespace " + kernel->ops_namespace +
                  " is already registered in this process (by a library loaded without kb::runtime)");

    kernel->ops =
        op_recorder().registered_by(kernel->ops_namespace, [&] { kernel->handle = open_library(kernel->library); });
    if (located.repo_info) kernel->repo_info = RepoInfo{located.repo_info->first, located.repo_info->second};
    for (const auto& w : located.warnings) kernel->warnings.push_back(w.message);
    if (auto dirty = dirty_provenance_warning(kernel->metadata, canonical.filename().string()))
      kernel->warnings.push_back(*dirty);
    if (kernel->ops.empty())
      kernel->warnings.push_back("Kernel library " + kernel->library.string() + " registered no ops in namespace " +
                                 kernel->ops_namespace);
    return kernel;
  });
}

}  // namespace

const resolve::TorchFacts& libtorch_facts() {
  static const resolve::TorchFacts facts = [] {
    // The C++11 ABI of this translation unit: a program whose ABI differs
    // from libtorch's does not link against it, so this is libtorch's too.
    const bool cxx11_abi = _GLIBCXX_USE_CXX11_ABI != 0;
    std::optional<resolve::TorchFacts> f =
        torch_facts_from_build_settings(parse_build_settings(at::show_config()), cxx11_abi);
    if (!f) {
      // No build settings line: fall back to the headers this was compiled with.
      f = resolve::TorchFacts{};
      f->version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
      f->cxx11_abi = cxx11_abi;
    }
    f->mps = at::hasMPS();
    // A CUDA/ROCm libtorch without a usable device loads CPU variants after
    // its own (resolve::Environment::cpu_fallback).
    if (f->cuda || f->hip) f->device_available = at::hasCUDA();
    return *f;
  }();
  return facts;
}

resolve::Environment libtorch_environment(const std::optional<std::string>& backend_override) {
  HostPlatform host = host_platform();
  return resolve::make_environment(host.machine, host.system, libtorch_facts(), backend_override);
}

std::string LoadedKernel::variant_name() const { return variant ? variant->str() : variant_dir.filename().string(); }

namespace {

load::Context load_context(const LoadOptions& options) {
  resolve::Environment detected = libtorch_environment();
  const resolve::Environment& env = options.environment ? *options.environment : detected;
  load::Context ctx = load::make_context(env, detected.backend.backend());
  ctx.backend = options.backend;
  if (options.local_files_only) ctx.local_files_only = *options.local_files_only;
  ctx.user_agent = load::runtime_user_agent(options.user_agent, std::string("kb-runtime/") + KB_VERSION, env,
                                           {"torch/" + libtorch_facts().version});
  ctx.check_arch = options.check_arch;
  load::DeviceArch device;
  if (options.cuda_capability)
    device.cuda = load::parse_cuda_capability(*options.cuda_capability, "LoadOptions::cuda_capability");
  device.rocm = options.gcn_arch;
  ctx.device = [device] { return device; };
  ctx.signature.require |= options.require_signature;
  return ctx;
}

}  // namespace

const LoadedKernel& load_local_kernel(const fs::path& path, const LoadOptions& options) {
  load::Located located =
      load::locate_local(path, load_context(options), {options.trust_remote_code, options.trusted_repos});
  return load_located(located);
}

const LoadedKernel& get_kernel(const std::string& repo_id, const LoadOptions& options) {
  // A malformed LOCAL_KERNELS throws here, naming the entry.
  const bool mapped = local_kernel_override(repo_id).has_value();
  load::Located located;
  try {
    located =
        load::locate({repo_id, options.revision, options.version, {options.trust_remote_code, options.trusted_repos}},
                     load_context(options));
  } catch (const Error& e) {
    if (mapped) throw Error(repo_id + " (LOCAL_KERNELS): " + e.what());
    throw;
  }
  return load_located(located);
}

const LoadedKernel& load_kernel(const std::string& repo_id, const fs::path& lockfile, const LoadOptions& options) {
  std::vector<lock::KernelLock> locks = lock::read_lock_file(lockfile);
  auto entry =
      std::find_if(locks.begin(), locks.end(), [&](const lock::KernelLock& k) { return k.repo_id == repo_id; });
  if (entry == locks.end()) throw Error("Kernel `" + repo_id + "` is not locked in " + lockfile.string());
  load::Located located =
      load::locate_locked(*entry, load_context(options), locks, {options.trust_remote_code, options.trusted_repos});
  return load_located(located);
}

std::vector<const LoadedKernel*> loaded_kernels() { return registry().all(); }

c10::OperatorHandle op(const LoadedKernel& kernel, const std::string& name) {
  auto handle = c10::Dispatcher::singleton().findSchema({kernel.ops_namespace + "::" + name, ""});
  if (handle) return *handle;
  std::vector<std::string> ops = ops_in_namespace(kernel.ops_namespace);
  throw Error("Kernel `" + kernel.metadata.name + "` loaded from " + kernel.variant_dir.string() + " has no op `" +
              name + "` in namespace " + kernel.ops_namespace +
              "; its ops: " + (ops.empty() ? std::string("none") : join(ops, ", ")));
}

}  // namespace kb::runtime
