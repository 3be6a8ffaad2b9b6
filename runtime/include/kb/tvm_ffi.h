#pragma once
// kb::runtime::tvm_ffi — load tvm-ffi kernels into a C++ program: no torch,
// no Python.
//
// A tvm-ffi kernel's build variant (tvm-ffi<MM>-<compute>-<cpu>-<os>, e.g.
// tvm-ffi01-cpu-x86_64-linux) holds the shared object <metadata.id>.so, which
// exports each of its functions as a symbol __tvm_ffi_<name> with tvm-ffi's C
// calling convention (TVMFFISafeCallType). Loading resolves the variant for
// the tvm-ffi this program runs on (TVMFFIGetVersion of the libtvm_ffi it
// links; a variant of another tvm-ffi major.minor is refused), opens its
// shared object once per process, and hands back its functions:
//
//   const auto& relu = kb::runtime::tvm_ffi::load_local_kernel("kernels/relu-tvm-ffi");
//   DLTensor in = ..., out = ...;  // float32, on the CPU
//   TVMFFIAny args[2] = {};
//   args[0].type_index = kTVMFFIDLTensorPtr, args[0].v_ptr = &out;
//   args[1].type_index = kTVMFFIDLTensorPtr, args[1].v_ptr = &in;
//   kb::runtime::tvm_ffi::call(relu, "relu", args);  // throws kb::Error on a kernel error
//
// or, for code that calls a function often, kb::runtime::tvm_ffi::function()
// returns the function pointer itself. Every failure throws kb::Error with a
// message naming the path and the cause.
#include <tvm/ffi/c_api.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "libkb/metadata/metadata.h"
#include "libkb/resolve/resolve.h"
#include "libkb/util/error.h"
#include "libkb/util/version.h"
#include "libkb/variant/variant.h"

namespace kb::runtime::tvm_ffi {

// The tvm-ffi this process runs on (TVMFFIGetVersion), major.minor.
Version tvm_ffi_version();

// The environment variants are resolved for: tvm_ffi_version(), the machine
// and OS from uname, and the backend, which a program without torch cannot
// ask torch for: the CPU unless `backend` is "cuda"; then the CUDA version is
// `cuda_version` ("12.8") or else the one the CUDA driver (libcuda.so.1)
// reports. Only tvm-ffi variants are accepted (Environment::tvm_ffi_only).
// Throws "Invalid backend 'x', supported backends: cpu, cuda", and names the
// missing driver when CUDA is asked for without a version.
resolve::Environment environment(const std::optional<std::string>& backend = std::nullopt,
                                 const std::optional<std::string>& cuda_version = std::nullopt);

struct LoadOptions {
  // get_kernel of a repository id LOCAL_KERNELS does not map: exactly one of
  // a revision (branch, tag or commit) and a version (the newest build of
  // branch v<version>).
  std::optional<std::string> revision;
  std::optional<int> version;
  // "cpu" (the default) or "cuda", with the CUDA version; see environment().
  std::optional<std::string> backend;
  std::optional<std::string> cuda_version;
  // Load from publishers the hub does not list as trusted.
  bool trust_remote_code = false;
  // Repositories loaded without the publisher check besides trusted
  // publishers' (trust_remote_code as a list of repo ids).
  std::vector<std::string> trusted_repos;
  // Only what the cache holds (no network); unset: HF_HUB_OFFLINE.
  std::optional<bool> local_files_only;
  // Put in front of the runtime's own user agent for hub requests.
  std::string user_agent;
  // The architecture check of CUDA builds that declare architectures: the
  // program names its device's capability ("9.0"); unnamed, builds are not
  // checked (KB_TEST_DEVICE_CAPABILITY names one in tests).
  bool check_arch = true;
  std::optional<std::string> cuda_capability;
  // Refuse builds whose signature is missing or fails (as KERNELS_REQUIRE_SIGNATURE=1).
  bool require_signature = false;
};

// Where a kernel loaded from a hub came from: the repository asked for and
// the revision selected (a commit when a version was asked for).
struct RepoInfo {
  std::string repo_id;
  std::string revision;
};

// A kernel loaded into this process. The shared object is never unloaded:
// objects the kernel made (tensors, functions, errors) point into it.
struct LoadedKernel {
  std::filesystem::path variant_dir;        // canonical
  std::optional<variant::Variant> variant;  // nullopt when a variant directory was given directly
  metadata::Metadata metadata;
  std::filesystem::path library;       // <variant_dir>/<metadata.id>.so
  std::vector<std::string> functions;  // the exported function names, sorted
  std::optional<RepoInfo> repo_info;   // hub kernels only (first load wins)
  std::vector<std::string> warnings;   // dirty-provenance notice, no digest, no functions, ...
  void* handle = nullptr;              // from dlopen
  // Its kernel dependencies (metadata kernel-depends) by repository id, in
  // the metadata's order; loaded before it.
  std::vector<std::pair<std::string, const LoadedKernel*>> dependencies;

  // The variant's name, or the directory name for a directly given variant directory.
  std::string variant_name() const;
};

// Loads the kernel at `path`: a kernel directory holding build/, a build/
// directory, or one variant directory (which must be a tvm-ffi variant: a
// torch variant's shared object is a torch extension, not callable here).
// Loading the same variant directory again returns the same kernel.
// Thread-safe.
const LoadedKernel& load_local_kernel(const std::filesystem::path& path, const LoadOptions& options = {});

// Loads the kernel of a repository id as kb::runtime::get_kernel does: an id
// LOCAL_KERNELS maps loads from that path; any other is fetched from the hub
// KB_HUB names (the Hugging Face Hub at HF_ENDPOINT by default) at
// `options.revision` or `options.version` after the publisher trust check,
// only the variant for this program, verified into the cache.
const LoadedKernel& get_kernel(const std::string& repo_id, const LoadOptions& options = {});

// Every kernel loaded so far, in load order.
std::vector<const LoadedKernel*> loaded_kernels();

// The exported function `name` of a loaded kernel. Call it with `self`
// nullptr and the result's type_index set to kTVMFFINone; a nonzero return
// leaves the error for TVMFFIErrorMoveFromRaised. Throws kb::Error listing
// the kernel's functions when it exports none of that name.
TVMFFISafeCallType function(const LoadedKernel& kernel, const std::string& name);

// Calls the function `name` with `args` (views: the caller keeps them alive)
// and returns its result, which the caller owns: a result whose type_index
// is kTVMFFIStaticObjectBegin or above holds a reference to release with
// TVMFFIObjectDecRef(result.v_obj). An error the function raises is thrown
// as kb::Error "<kernel name> <function>: <error kind>: <message>".
TVMFFIAny call(const LoadedKernel& kernel, const std::string& name, std::span<const TVMFFIAny> args);

}  // namespace kb::runtime::tvm_ffi
