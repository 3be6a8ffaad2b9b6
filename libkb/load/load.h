#pragma once
// The one path from a kernel reference to a verified variant directory on
// disk, shared by the Python loaders and the C++ runtime (runtime spec 2.1,
// 4, 5): LOCAL_KERNELS, publisher trust, revision or version -> commit,
// install into the cache (verified), python-depends. Only what follows
// differs between them: Python imports the directory, C++ dlopens its shared
// object. Each step's messages are the existing runtime's.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/hub/hub.h"
#include "libkb/load/archs.h"
#include "libkb/load/signature_check.h"
#include "libkb/lock/lockfile.h"
#include "libkb/metadata/metadata.h"
#include "libkb/resolve/resolve.h"
#include "libkb/util/error.h"

namespace kb::load {

// What kind of failure, so each caller can raise its own type (Python:
// ValueError, FileNotFoundError, ImportError). The message is complete.
// LockMismatch: a locked kernel whose files (or variant) the lock does not
// cover — the kernel was found, but it is not what was locked.
// Incompatible: the build needs a newer kernels API than this one, or cannot
// run on the device (Python: RuntimeError).
// Unauthorized: the hub refused the token while checking the publisher
// (Python: PermissionError, an OSError as the hub client's HTTP errors are).
// Modified: the files of a build differ from the digest its metadata records.
// Unsigned: signatures are required, and the build's is missing or does not
// verify under the policy (Python: RuntimeError, as Modified).
enum class ErrorKind {
  InvalidArgument,
  NotFound,
  MissingDependency,
  LockMismatch,
  Incompatible,
  Unauthorized,
  Modified,
  Unsigned
};

// The kernels API this kb implements ("0.18.3") and its distribution
// version ("0.18.3+kb.0.1.0"), as the Python package reports them.
std::string kernels_api_version();
std::string kernels_dist_version();
// The newest kernels-minver of a build kb loads (at least the API level; the
// zip build layout's 0.19.0 too).
std::string loadable_kernels_minver();

// A warning for the caller to show: as a user warning, or (a newer version
// exists) as a log message of the versions logger.
struct Warning {
  // Log: a notice for the kernels logger (the Python package logs it as
  // the kernels package does, instead of raising a Python warning).
  enum class Channel { User, VersionNotice, Log };
  Channel channel = Channel::User;
  std::string message;
};

class LoadError : public Error {
 public:
  LoadError(ErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

  // What the load had to warn about before it failed (a caller shows these
  // too: a trust failure after the signing-identity notice, ...).
  std::vector<Warning> warnings;

 private:
  ErrorKind kind_;
};

// trust_remote_code: true trusts every repository; a list names the
// repositories trusted besides those of trusted publishers (an allowlist of
// repo ids, matched exactly).
struct Trust {
  bool all = false;
  std::vector<std::string> repos;
};

// What the loading process offers, and its policy.
struct Context {
  // The process as detected, and the backend the caller asks for ("cpu" or
  // the detected one). LOCAL_KERNELS ids ignore the override, as in the
  // existing runtime.
  resolve::Environment env;
  std::optional<std::string> backend;
  config::Backend detected_backend;  // python-depends follow the detected backend, not an override
  bool local_files_only = false;     // HF_HUB_OFFLINE, or the caller's wish
  std::string user_agent;            // sent with hub requests
  std::filesystem::path cache_root;
  // Whether a Python module can be imported where the kernel will load;
  // unset (a C++ program): python-depends are not checked.
  std::function<bool(const std::string&)> importable;
  // The architecture check (archs.h) of a CUDA or ROCm build that declares
  // archs: on unless the caller opts out (check_arch=False). `device` is
  // asked only then; unset (a C++ program that was not told), the device is
  // unknown and only the test variables of archs.h can name one.
  bool check_arch = true;
  std::function<DeviceArch()> device;
  // The signature check of every load: required or not, policy, trust root.
  SignatureSettings signature;
};

// The hub the context's loads fetch from (KB_HUB, else the Hugging Face Hub).
std::unique_ptr<hub::Hub> open_hub(const Context& ctx);
// The environment variants are resolved for: the detected one, or the
// backend the caller asked for (InvalidArgument for an unknown name).
resolve::Environment requested_env(const Context& ctx);

// Builds a context for this process with the cache root and offline mode of
// the environment variables.
Context make_context(resolve::Environment env, config::Backend detected_backend);

struct Request {
  std::string repo_id;
  std::optional<std::string> revision;
  std::optional<int> version;
  Trust trust;
};

struct Located;

// A kernel-depends entry of a located kernel, located the way its dependent
// was (LOCAL_KERNELS, the hub, or the lock). A dependency that several
// kernels of one tree share is located once and shared.
struct LocatedDependency {
  std::string repo_id;
  std::shared_ptr<const Located> located;
};

struct Located {
  std::filesystem::path variant_dir;
  std::optional<variant::Variant> variant;  // nullopt for a variant directory given directly
  metadata::Metadata metadata;
  // Where a hub kernel came from: the repository asked for and the revision
  // selected (a commit for a version). nullopt for local kernels.
  std::optional<std::pair<std::string, std::string>> repo_info;
  // Every warning of the load, the dependencies' included.
  std::vector<Warning> warnings;
  // The metadata's kernel-depends in their order, each with its own tree:
  // loaded before this kernel.
  std::vector<LocatedDependency> dependencies;
};

// `revision` verbatim, or the commit of branch v<version>; exactly one must
// be given. A newer version than the one asked for adds a notice.
std::string select_revision(const std::string& repo_id, const std::optional<std::string>& revision,
                            const std::optional<int>& version, const Context& ctx, std::vector<Warning>& warnings);

// Raises unless `repo_id` may be loaded: the caller trusts every repository
// or lists this one, or its publisher is trusted by the hub (remembered per
// process and, positively, for an hour in the cache). Offline the publisher
// is not asked (a warning says so). A token the hub refuses is Unauthorized,
// with a hint to log in again.
void check_trust(const std::string& repo_id, const Trust& trust, const Context& ctx, std::vector<Warning>& warnings);

// A build whose metadata asks for a newer kernels API (kernels-minver) than
// kernels_api_version() is Incompatible, naming both versions.
void check_kernels_minver(const metadata::Metadata& metadata, const std::string& variant);

// Incompatible (the refusal of archs.h) when ctx.check_arch and the build's
// declared architectures cannot run on the device.
void check_device_arch(const metadata::Metadata& metadata, const std::string& variant, const Context& ctx);

// The python-depends check of a kernel about to load: an unknown dependency
// name is InvalidArgument, an uninstalled package MissingDependency.
void check_python_depends(std::string_view python_name, const std::vector<std::string>& depends,
                          config::Backend backend, const std::function<bool(const std::string&)>& importable);

// A kernel on disk: a repository root with build/, a build/ directory or one
// variant directory; the best variant for ctx.env with ctx.backend,
// python-depends checked. Its kernel dependencies are located as get_kernel
// locates them, with `trust`.
Located locate_local(const std::filesystem::path& path, const Context& ctx, const Trust& trust = {});

// get_kernel's path: LOCAL_KERNELS first (then no trust check and no
// revision needed), else trust, revision, install and python-depends; then
// the same for each kernel dependency, recursively. With
// UNSTABLE_KERNELS_ALL_LATEST set, every kernel of the tree loads at its
// newest numbered version instead (with a warning).
Located locate(const Request& request, const Context& ctx);

// A kernel pinned by a kernels.lock entry: the variant for ctx.env (with
// ctx.backend) at the locked commit, fetched unless cached, and checked
// against the lock's hash of that variant. A cached copy that no longer
// matches is discarded and fetched again (offline: named and removed); no
// trust check, since locking the project chose the kernel. Its kernel
// dependencies must be locked in `locks` too (the whole lock file; a
// structured entry matches a dependency by repository and pin, a legacy one
// by repository), else InvalidArgument naming the dependency.
// UNSTABLE_KERNELS_ALL_LATEST bypasses the lock (`trust` then applies).
Located locate_locked(const lock::KernelLock& entry, const Context& ctx,
                      const std::vector<lock::KernelLock>& locks = {}, const Trust& trust = {});

// The entry of `locks` that pins `dependency`, or nullptr.
const lock::KernelLock* find_locked(const std::vector<lock::KernelLock>& locks,
                                    const config::KernelDependency& dependency);

// The user agent of a C++ runtime's hub requests: the caller's part (when
// not empty), `own` ("kb-runtime/0.1.0"), then what hub statistics use
// (backend/<env backend>, platform/<cpu>-<os>, file_type/kernel, `extra`
// such as "torch/2.14.1"); only `own` with HF_HUB_DISABLE_TELEMETRY.
std::string runtime_user_agent(const std::string& caller, const std::string& own, const resolve::Environment& env,
                               const std::vector<std::string>& extra);

// Whether UNSTABLE_KERNELS_ALL_LATEST asks for the newest version of every
// kernel ("1", "on", "yes", "true", any case).
bool all_latest_requested();

// How a loader finds one kernel dependency.
using DependencyLocator = std::function<Located(const config::KernelDependency&)>;

// Fills root.dependencies from its metadata's kernel-depends, recursively,
// with `locate_dependency`; the dependencies' warnings join root.warnings.
// A kernel depending on itself through its own dependencies is
// InvalidArgument "Cyclic kernel dependency detected: a/x -> b/y -> a/x"; a
// kernel reached twice elsewhere in the tree is located once. `root_key` is
// how the root was asked for (its repository id and pin).
void locate_dependencies(Located& root, const config::KernelDependency& root_key,
                         const DependencyLocator& locate_dependency);

}  // namespace kb::load
