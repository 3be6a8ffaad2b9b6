#include "kb/tvm_ffi.h"

#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "libkb/load/load.h"
#include "libkb/load/loaded_kernels.h"
#include "libkb/runtime/local_kernels.h"
#include "libkb/runtime/tvm_ffi_exports.h"
#include "libkb/runtime/variant_files.h"
#include "libkb/util/platform.h"
#include "libkb/util/strings.h"

namespace kb::runtime::tvm_ffi {

namespace fs = std::filesystem;

namespace {

load::LoadedKernels<LoadedKernel>& registry() {
  static load::LoadedKernels<LoadedKernel> r;
  return r;
}

// The CUDA version the driver supports, from libcuda.so.1 (opened, asked and
// kept open: a CUDA kernel loads it anyway); nullopt without a driver.
std::optional<Version> cuda_driver_version() {
  void* cuda = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!cuda) return std::nullopt;
  using GetVersion = int (*)(int*);
  auto get_version = reinterpret_cast<GetVersion>(::dlsym(cuda, "cuDriverGetVersion"));
  int version = 0;
  if (!get_version || get_version(&version) != 0 || version <= 0) return std::nullopt;
  return Version({static_cast<uint64_t>(version / 1000), static_cast<uint64_t>(version % 1000 / 10)});
}

// A variant directory given directly is loaded only when it is what this
// program can load: a tvm-ffi variant for its tvm-ffi and backend (a name
// that is no variant at all is taken on trust, as the torch runtime takes it).
void check_direct_variant(const fs::path& variant_dir, const resolve::Environment& env) {
  std::string name = variant_dir.filename().string();
  std::optional<variant::Variant> v = variant::Variant::try_parse(name);
  if (!v) return;
  if (auto why = resolve::rejection_reason(*v, env))
    throw Error("Cannot load kernel from " + variant_dir.string() + ": " + name + ": " + *why);
}

// <variant_dir>/<id>.so: tvm-ffi builds carry no Python extension suffix.
fs::path tvm_ffi_library(const fs::path& variant_dir, const metadata::Metadata& metadata) {
  fs::path library = variant_dir / (metadata.id + ".so");
  std::error_code ec;
  if (fs::is_regular_file(library, ec)) return library;
  std::string message =
      "Cannot load kernel from " + variant_dir.string() + ": no tvm-ffi library " + metadata.id + ".so";
  // A torch build's extension (<id>.abi3.so, <id>.cpython-*.so) says what went wrong.
  for (fs::directory_iterator it(variant_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (starts_with(file, metadata.id + ".") && file.ends_with(".so"))
      throw Error(message + " (it holds " + file + ", a Python extension: not a tvm-ffi build)");
  }
  throw Error(message);
}

void* open_library(const fs::path& library) {
  // RTLD_NOW: a tvm-ffi library needs nothing but libtvm_ffi and the C++
  // runtime, so anything unresolved is an error now rather than at a call.
  // RTLD_LOCAL: two kernels' symbols never interpose.
  dlerror();
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle) return handle;
  const char* why = dlerror();
  throw Error("Cannot load kernel library " + library.string() + ": " + (why ? why : "unknown error"));
}

// Opens what the loading core located; what it learned getting there (its
// metadata, where the kernel came from, its warnings) is recorded by the
// first load.
const LoadedKernel& load_located(const load::Located& located, const resolve::Environment& env) {
  std::vector<std::pair<std::string, const LoadedKernel*>> dependencies;
  for (const load::LocatedDependency& dep : located.dependencies)
    dependencies.emplace_back(dep.repo_id, &load_located(*dep.located, env));

  return registry().find_or_load(located.variant_dir, [&](const fs::path& canonical, const auto&) {
    if (!located.variant) check_direct_variant(canonical, env);
    auto kernel = std::make_unique<LoadedKernel>();
    kernel->variant_dir = canonical;
    kernel->variant = located.variant;
    kernel->metadata = located.metadata;
    kernel->dependencies = std::move(dependencies);
    kernel->library = tvm_ffi_library(canonical, kernel->metadata);
    // Read from the file before it is opened: a file that is no shared object
    // is named as such, not by the loader's message.
    kernel->functions = tvm_ffi_exported_functions(kernel->library);
    kernel->handle = open_library(kernel->library);
    if (located.repo_info) kernel->repo_info = RepoInfo{located.repo_info->first, located.repo_info->second};
    for (const auto& w : located.warnings) kernel->warnings.push_back(w.message);
    if (auto dirty = dirty_provenance_warning(kernel->metadata, canonical.filename().string()))
      kernel->warnings.push_back(*dirty);
    if (kernel->functions.empty())
      kernel->warnings.push_back("Kernel library " + kernel->library.string() + " exports no tvm-ffi functions");
    return kernel;
  });
}

load::Context load_context(const LoadOptions& options, const resolve::Environment& env) {
  load::Context ctx = load::make_context(env, env.backend.backend());
  if (options.local_files_only) ctx.local_files_only = *options.local_files_only;
  ctx.user_agent = load::runtime_user_agent(options.user_agent, std::string("kb-runtime-tvm-ffi/") + KB_VERSION, env,
                                            {"tvm-ffi/" + tvm_ffi_version().str()});
  ctx.check_arch = options.check_arch;
  load::DeviceArch device;
  if (options.cuda_capability)
    device.cuda = load::parse_cuda_capability(*options.cuda_capability, "LoadOptions::cuda_capability");
  ctx.device = [device] { return device; };
  ctx.signature.require |= options.require_signature;
  return ctx;
}

std::string byte_array(const TVMFFIByteArray& bytes) { return bytes.data ? std::string(bytes.data, bytes.size) : ""; }

}  // namespace

Version tvm_ffi_version() {
  TVMFFIVersion v;
  TVMFFIGetVersion(&v);
  return Version({v.major, v.minor});
}

resolve::Environment environment(const std::optional<std::string>& backend,
                                 const std::optional<std::string>& cuda_version) {
  HostPlatform host = host_platform();
  resolve::Environment env = resolve::make_environment(host.machine, host.system, std::nullopt);
  env.tvm_ffi = tvm_ffi_version();
  env.tvm_ffi_only = true;
  if (!backend || backend->empty() || *backend == "cpu") return env;
  if (*backend != "cuda") throw Error("Invalid backend '" + *backend + "', supported backends: cpu, cuda");
  std::optional<Version> version = cuda_version ? std::optional(Version::parse(*cuda_version)) : cuda_driver_version();
  if (!version)
    throw Error(
        "The cuda backend needs a CUDA version: no CUDA driver (libcuda.so.1) reports one; name it in "
        "LoadOptions::cuda_version");
  env.backend = variant::Compute::from_backend(config::Backend::Cuda, Version({version->major(), version->minor()}));
  return env;
}

std::string LoadedKernel::variant_name() const { return variant ? variant->str() : variant_dir.filename().string(); }

const LoadedKernel& load_local_kernel(const fs::path& path, const LoadOptions& options) {
  resolve::Environment env = environment(options.backend, options.cuda_version);
  load::Located located =
      load::locate_local(path, load_context(options, env), {options.trust_remote_code, options.trusted_repos});
  return load_located(located, env);
}

const LoadedKernel& get_kernel(const std::string& repo_id, const LoadOptions& options) {
  // A malformed LOCAL_KERNELS throws here, naming the entry.
  const bool mapped = local_kernel_override(repo_id).has_value();
  resolve::Environment env = environment(options.backend, options.cuda_version);
  try {
    load::Located located =
        load::locate({repo_id, options.revision, options.version, {options.trust_remote_code, options.trusted_repos}},
                     load_context(options, env));
    return load_located(located, env);
  } catch (const Error& e) {
    if (mapped) throw Error(repo_id + " (LOCAL_KERNELS): " + e.what());
    throw;
  }
}

std::vector<const LoadedKernel*> loaded_kernels() { return registry().all(); }

TVMFFISafeCallType function(const LoadedKernel& kernel, const std::string& name) {
  if (std::binary_search(kernel.functions.begin(), kernel.functions.end(), name))
    if (void* symbol = ::dlsym(kernel.handle, (std::string(kTvmFfiExportPrefix) + name).c_str()))
      return reinterpret_cast<TVMFFISafeCallType>(symbol);
  throw Error("Kernel `" + kernel.metadata.name + "` loaded from " + kernel.variant_dir.string() +
              " has no function `" + name +
              "`; its functions: " + (kernel.functions.empty() ? std::string("none") : join(kernel.functions, ", ")));
}

TVMFFIAny call(const LoadedKernel& kernel, const std::string& name, std::span<const TVMFFIAny> args) {
  TVMFFISafeCallType fn = function(kernel, name);
  TVMFFIAny result{};
  result.type_index = kTVMFFINone;
  int rc = fn(nullptr, args.data(), static_cast<int32_t>(args.size()), &result);
  if (rc == 0) return result;
  std::string where = kernel.metadata.name + " " + name + ": ";
  TVMFFIObjectHandle error = nullptr;
  TVMFFIErrorMoveFromRaised(&error);
  if (!error) throw Error(where + "failed (code " + std::to_string(rc) + ") without raising an error");
  const TVMFFIErrorCell* cell = TVMFFIErrorGetCellPtr(error);
  std::string message = where + byte_array(cell->kind) + ": " + byte_array(cell->message);
  TVMFFIObjectDecRef(error);
  throw Error(message);
}

}  // namespace kb::runtime::tvm_ffi
