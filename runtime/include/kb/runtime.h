#pragma once
// kb::runtime — load compute kernels into a libtorch C++ program, no Python.
//
// A kernel's build variant is a shared object whose static initialisers
// register its ops with the torch dispatcher under the namespace metadata.id
// (e.g. "_relu_cpu_6762b3f"). Loading resolves the variant that fits the
// libtorch this process runs on (the rules of the Python `kernels` runtime),
// loads that shared object once per process, and hands back what the program
// needs to call the ops:
//
//   const kb::runtime::LoadedKernel& relu = kb::runtime::load_local_kernel("kernels/relu");
//   kb::runtime::op(relu, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(out, in);
//
// Every failure throws kb::Error with a message naming the path and the cause.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/dispatch/Dispatcher.h>

#include "libkb/metadata/metadata.h"
#include "libkb/resolve/resolve.h"
#include "libkb/util/error.h"
#include "libkb/variant/variant.h"

namespace kb::runtime {

// The facts of the libtorch in this process: version and CUDA/ROCm/XPU
// versions as the loaded library reports them (its build settings, so a CUDA
// build reports CUDA without a GPU), the C++11 ABI this program was compiled
// with (it must match libtorch's to link at all). Computed once.
const resolve::TorchFacts& libtorch_facts();

// The environment variants are resolved for: libtorch_facts() plus the
// machine and OS from uname. `backend_override` may name "cpu" or the backend
// libtorch was built for; anything else throws
// "Invalid backend 'x', system supported backends: cpu[, cuda]".
resolve::Environment libtorch_environment(const std::optional<std::string>& backend_override = std::nullopt);

struct LoadOptions {
  // get_kernel of a repository id LOCAL_KERNELS does not map: exactly one of
  // a revision (branch, tag or commit) and a version (the newest build of
  // branch v<version>).
  std::optional<std::string> revision;
  std::optional<int> version;
  // Resolve for this backend ("cpu" or libtorch's), as libtorch_environment.
  std::optional<std::string> backend;
  // Load from publishers the hub does not list as trusted.
  bool trust_remote_code = false;
  // Only what the cache holds (no network); unset: HF_HUB_OFFLINE.
  std::optional<bool> local_files_only;
  // Put in front of the runtime's own user agent for hub requests.
  std::string user_agent;
  // Resolve for this environment instead of libtorch's (tests, tools).
  std::optional<resolve::Environment> environment;
  // Repositories loaded without the publisher check besides trusted
  // publishers' (trust_remote_code as a list of repo ids).
  std::vector<std::string> trusted_repos;
  // The architecture check: a CUDA or ROCm build whose metadata.json declares
  // architectures (backend.archs) the device cannot run is refused. libtorch's
  // C++ API cannot tell a device's capability without the CUDA libraries, so
  // the program names its device; when it does not, builds are not checked
  // (KB_TEST_DEVICE_CAPABILITY / KB_TEST_DEVICE_GCN_ARCH name one in tests).
  bool check_arch = true;
  std::optional<std::string> cuda_capability;  // "9.0", as torch.cuda.get_device_capability()
  std::optional<std::string> gcn_arch;         // ROCm gcnArchName: "gfx90a:sramecc+:xnack-"
  // Refuse builds whose signature (metadata.json.sigstore) is missing or
  // fails, local ones included; KERNELS_REQUIRE_SIGNATURE=1 does the same.
  // Otherwise a hub build's signature problem is a warning.
  bool require_signature = false;
};

// Where a kernel loaded from a hub came from: the repository asked for and
// the revision selected (a commit when a version was asked for).
struct RepoInfo {
  std::string repo_id;
  std::string revision;
};

// A kernel loaded into this process. Handles live until the process ends:
// the shared object is never unloaded, because the dispatcher keeps pointers
// into it.
struct LoadedKernel {
  std::filesystem::path variant_dir;        // canonical
  std::optional<variant::Variant> variant;  // nullopt when a variant directory was given directly
  metadata::Metadata metadata;
  std::string ops_namespace;                // metadata.id: ops are "<ops_namespace>::<name>"
  std::filesystem::path library;            // the shared object loaded
  std::vector<std::string> ops;             // op names registered in ops_namespace, sorted
  std::optional<RepoInfo> repo_info;        // hub kernels only (first load wins)
  std::vector<std::string> warnings;        // dirty-provenance notice, redirects, no ops registered, ...
  void* handle = nullptr;                   // from dlopen
  // Its kernel dependencies (metadata kernel-depends) by repository id, in
  // the metadata's order; loaded before it.
  std::vector<std::pair<std::string, const LoadedKernel*>> dependencies;

  // The variant's name, or the directory name for a directly given variant directory.
  std::string variant_name() const;
};

// Loads the kernel at `path`: a kernel directory holding build/, a build/
// directory, or one variant directory (the path rules of get_local_kernel).
// Loading the same variant directory again returns the same handle.
// Thread-safe.
const LoadedKernel& load_local_kernel(const std::filesystem::path& path, const LoadOptions& options = {});

// Loads the kernel of a repository id, as the Python get_kernel does: an id
// mapped by LOCAL_KERNELS ("org/name=/path:org/other=/path2") loads as
// load_local_kernel(path); any other is fetched from the hub KB_HUB names
// (the Hugging Face Hub at HF_ENDPOINT by default; local:DIR, git+URL) at
// `options.revision` or `options.version`, after the publisher trust check:
// only the variant for this libtorch, each file verified into the cache
// (KERNELS_CACHE, else the Hugging Face cache), then loaded. Offline
// (HF_HUB_OFFLINE or local_files_only) it loads what the cache holds.
//
//   const auto& relu = kb::runtime::get_kernel("kb-examples/relu", {.version = 1});
//
// Errors carry the existing runtime's messages (trust, versions, no
// variant for this system with every variant's reason, missing snapshot).
const LoadedKernel& get_kernel(const std::string& repo_id, const LoadOptions& options = {});

// Loads the kernel `repo_id` at the commit `lockfile` (a kernels.lock, as
// `kb lock` writes it) pins: the variant for this libtorch, fetched unless
// cached (offline: from the cache only) and checked against the lock's hash
// of that variant; a cached copy that differs is discarded and fetched
// again. No trust check: locking the project chose the kernel. Throws when
// the lock does not name `repo_id` or the variant is not locked.
const LoadedKernel& load_kernel(const std::string& repo_id, const std::filesystem::path& lockfile,
                                const LoadOptions& options = {});

// Every kernel loaded so far, in load order.
std::vector<const LoadedKernel*> loaded_kernels();

// The op `name` of a loaded kernel (overload ""), for calling through the
// dispatcher. Throws kb::Error listing the kernel's ops when it has none of
// that name.
c10::OperatorHandle op(const LoadedKernel& kernel, const std::string& name);

}  // namespace kb::runtime
