#include "libkb/load/load.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/http/client.h"
#include "libkb/hub/hub.h"
#include "libkb/hub/trust.h"
#include "libkb/load/digest_check.h"
#include "libkb/lock/download.h"
#include "libkb/metadata/zip_layout.h"
#include "libkb/runtime/local_kernels.h"
#include "libkb/runtime/python_depends.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

namespace kb::load {

namespace fs = std::filesystem;

namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}


// Runs a step whose kb::Error means `kind`; a LoadError passes unchanged.
template <typename F>
auto as(ErrorKind kind, F&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const LoadError&) {
    throw;
  } catch (const Error& e) {
    throw LoadError(kind, e.what());
  }
}

// Publishers found trusted in this process, per hub: trust is asked once per
// organisation, not on every load.
struct TrustedPublishers {
  std::mutex mutex;
  std::set<std::pair<std::string, std::string>> trusted;
};

TrustedPublishers& trusted_publishers() {
  static TrustedPublishers t;
  return t;
}

// What a located variant's metadata asks of the loader: a kernels API at
// least as new as its kernels-minver, and its Python dependencies.
void check_loadable(const Located& located, const Context& ctx) {
  const metadata::Metadata& metadata = located.metadata;
  std::string variant = located.variant ? located.variant->str() : located.variant_dir.filename().string();
  check_kernels_minver(metadata, variant);
  // Nothing is extracted from a zip-layout variant (Python imports from the
  // archive, the shared object sits next to it), so the archive is checked here,
  // before anything of the kernel is imported or opened.
  if (metadata.build_layout == config::BuildLayout::Zip) {
    fs::path archive = metadata::zip_archive_path(located.variant_dir, metadata);
    std::error_code ec;
    if (!fs::exists(archive, ec))
      throw LoadError(ErrorKind::NotFound, "No kernel archive found at: `" + archive.string() + "`");
    as(ErrorKind::InvalidArgument, [&] { metadata::check_zip_variant_archive(located.variant_dir, metadata); });
  }
  if (ctx.importable)
    check_python_depends(config::python_module_name(metadata.name), metadata.python_depends, ctx.detected_backend,
                         ctx.importable);
  check_device_arch(metadata, variant, ctx);
}

std::string unverified_trust(const std::string& repo_id, const std::string& how, const std::string& cause) {
  return "Kernel repository '" + repo_id + "' could not verify publisher trust status." + how + " (" + cause + ")";
}


// The integrity checks of every load, in the kernels package's order: the
// signature (a hub build, or any build when signatures are required), then
// the digest. A hub build (with `location`) is verified once per commit and
// variant, then trusted through its receipts.
void verify_integrity(Located& located, const Context& ctx, const std::optional<KernelLocation>& location) {
  std::string variant = located.variant ? located.variant->str() : located.variant_dir.filename().string();
  std::string kernel = "Kernel '" + located.metadata.name + "' variant '" + variant + "'";
  SignatureCheck signature = check_signature(located.variant_dir, kernel, location, ctx.cache_root, ctx.signature);
  for (auto& w : signature.warnings) located.warnings.push_back({Warning::Channel::Log, std::move(w)});
  if (signature.failure) throw LoadError(ErrorKind::Unsigned, *signature.failure);
  DigestCheck check = check_digest(located.variant_dir, located.metadata, variant, location, ctx.cache_root);
  for (auto& w : check.warnings) located.warnings.push_back({Warning::Channel::Log, std::move(w)});
  if (check.failure) throw LoadError(ErrorKind::Modified, *check.failure);
}

Located locate_in(const fs::path& path, const resolve::Environment& env, const Context& ctx) {
  resolve::LocalChoice choice = as(ErrorKind::NotFound, [&] { return resolve::choose_local_variant(path, env); });
  Located out;
  out.variant_dir = choice.variant_dir;
  out.variant = choice.variant;
  for (const auto& w : choice.resolution.warnings) out.warnings.push_back({Warning::Channel::User, w});
  out.metadata = as(ErrorKind::NotFound, [&] { return metadata::read_metadata(out.variant_dir / "metadata.json"); });
  check_loadable(out, ctx);
  verify_integrity(out, ctx, std::nullopt);  // local files may change: hashed on every load
  return out;
}

}  // namespace

std::unique_ptr<hub::Hub> open_hub(const Context& ctx) {
  hub::OpenOptions options;
  options.user_agent = ctx.user_agent;
  return hub::open_hub(std::nullopt, options);
}

resolve::Environment requested_env(const Context& ctx) {
  return as(ErrorKind::InvalidArgument, [&] { return resolve::with_backend(ctx.env, ctx.backend); });
}

void check_python_depends(std::string_view python_name, const std::vector<std::string>& depends,
                          config::Backend backend, const std::function<bool(const std::string&)>& importable) {
  if (depends.empty()) return;
  // Names outside the table first (every package taken as importable), so
  // the two failures keep their kinds.
  as(ErrorKind::InvalidArgument,
     [&] { runtime::validate_python_depends(python_name, depends, backend, [](const std::string&) { return true; }); });
  as(ErrorKind::MissingDependency,
     [&] { runtime::validate_python_depends(python_name, depends, backend, importable); });
}

Context make_context(resolve::Environment env, config::Backend detected_backend) {
  Context ctx;
  ctx.env = std::move(env);
  ctx.detected_backend = detected_backend;
  ctx.local_files_only = cache::offline_mode();
  ctx.cache_root = cache::default_cache_root();
  ctx.signature = signature_settings_from_env();
  return ctx;
}

std::string select_revision(const std::string& repo_id, const std::optional<std::string>& revision,
                            const std::optional<int>& version, const Context& ctx, std::vector<Warning>& warnings) {
  if (revision && version)
    throw LoadError(ErrorKind::InvalidArgument, "Only one of `revision` or `version` must be specified.");
  if (!revision && !version)
    throw LoadError(ErrorKind::InvalidArgument,
                    "A kernel version or revision must be specified. Use `version=<major>` to load the newest build of "
                    "a major version, or `revision=<branch, tag or commit>`.");
  if (revision) return *revision;
  return as(ErrorKind::InvalidArgument, [&] {
    std::unique_ptr<hub::Hub> hub = ctx.local_files_only ? nullptr : open_hub(ctx);
    std::optional<std::string> notice;
    std::string commit =
        fetch::resolve_version(hub.get(), repo_id, *version, ctx.cache_root, ctx.local_files_only, &notice);
    if (notice) warnings.push_back({Warning::Channel::VersionNotice, *notice});
    return commit;
  });
}

void check_trust(const std::string& repo_id, const Trust& trust, const Context& ctx, std::vector<Warning>& warnings) {
  if (trust.all) return;
  if (std::find(trust.repos.begin(), trust.repos.end(), repo_id) != trust.repos.end()) return;
  if (ctx.local_files_only) {
    warnings.push_back({Warning::Channel::User, "Skipping publisher trust check for '" + repo_id +
                                                    "' because Hugging Face Hub is in offline mode."});
    return;
  }
  const std::string how =
      " Set trust_remote_code=True or add the repository ID to the trust_remote_code allowlist to allow loading "
      "kernels from untrusted sources.";
  std::string publisher = repo_id.substr(0, repo_id.find('/'));
  std::pair<std::string, std::string> key{env_or_empty("KB_HUB") + "|" + env_or_empty("HF_ENDPOINT"), publisher};
  TrustedPublishers& known = trusted_publishers();
  {
    std::lock_guard lock(known.mutex);
    if (known.trusted.count(key)) return;
  }
  std::optional<bool> trusted;
  try {
    trusted = hub::publisher_trusted_cached(*open_hub(ctx), publisher, ctx.cache_root);
  } catch (const http::HttpError& e) {
    if (e.status() != 401) throw LoadError(ErrorKind::InvalidArgument, unverified_trust(repo_id, how, e.what()));
    // No allowlist helps here: the token itself was refused.
    throw LoadError(ErrorKind::Unauthorized,
                    std::string(e.what()) +
                        "\nHugging Face Hub authentication failed while checking the publisher of kernel repository '" +
                        repo_id +
                        "'. Your token may be invalid or expired. Run `hf auth login` to log in again. If `HF_TOKEN` "
                        "is set, update or unset it.");
  } catch (const Error& e) {
    throw LoadError(ErrorKind::InvalidArgument, unverified_trust(repo_id, how, e.what()));
  }
  if (!trusted) return;  // a hub without publishers trusts what it holds
  if (!*trusted)
    throw LoadError(ErrorKind::InvalidArgument,
                    "Kernel repository '" + repo_id + "' is not from a trusted publisher." + how);
  std::lock_guard lock(known.mutex);
  known.trusted.insert(std::move(key));
}

void check_device_arch(const metadata::Metadata& metadata, const std::string& variant, const Context& ctx) {
  // The device is asked only for builds the check applies to: asking torch
  // initialises CUDA.
  if (!ctx.check_arch || !declares_archs(metadata.backend)) return;
  DeviceArch device =
      as(ErrorKind::InvalidArgument, [&] { return with_test_device(ctx.device ? ctx.device() : DeviceArch{}); });
  if (std::optional<std::string> reason = arch_incompatibility(metadata.backend, device))
    throw LoadError(ErrorKind::Incompatible, arch_refusal_message(metadata.name, variant, *reason));
}

namespace {

// The newest numbered version of `repo_id` (on the hub, or offline in the
// cache), for UNSTABLE_KERNELS_ALL_LATEST.
int newest_version(const std::string& repo_id, const Context& ctx) {
  std::map<int, std::string> versions =
      ctx.local_files_only ? cache::cached_version_refs(ctx.cache_root, repo_id)
                           : as(ErrorKind::NotFound, [&] { return hub::version_branches(open_hub(ctx)->list_branches(repo_id)); });
  if (versions.empty())
    throw LoadError(ErrorKind::InvalidArgument,
                    "Cannot load the latest version of '" + repo_id + "': no numbered versions are available " +
                        (ctx.local_files_only ? "in the local cache" : "on the Hub") +
                        ". UNSTABLE_KERNELS_ALL_LATEST requires a numbered version.");
  return versions.rbegin()->first;
}

std::string describe_pin(const std::optional<std::string>& revision, const std::optional<int>& version) {
  if (version) return "version " + std::to_string(*version);
  if (revision) return "revision '" + *revision + "'";
  return "no version";
}

// One kernel of a tree, without its dependencies.
Located locate_one(Request request, const Context& ctx) {
  std::optional<fs::path> local =
      as(ErrorKind::InvalidArgument, [&] { return runtime::local_kernel_override(request.repo_id); });
  if (local) return locate_in(*local, ctx.env, ctx);

  Located out;
  try {
    check_trust(request.repo_id, request.trust, ctx, out.warnings);
    std::optional<std::string> overridden;
    if (all_latest_requested()) {
      overridden = describe_pin(request.revision, request.version);
      request.version = newest_version(request.repo_id, ctx);
      request.revision.reset();
    }
    std::string revision = select_revision(request.repo_id, request.revision, request.version, ctx, out.warnings);
    if (overridden)
      out.warnings.push_back({Warning::Channel::Log, "UNSTABLE_KERNELS_ALL_LATEST is enabled: overriding requested " +
                                                        *overridden + " and any lockfile pin for '" + request.repo_id +
                                                        "' with v" + std::to_string(*request.version) + " (" +
                                                        revision + "). Kernel API changes may break your code."});
    fetch::Installed installed = as(ErrorKind::NotFound, [&] {
      std::unique_ptr<hub::Hub> hub = open_hub(ctx);
      return fetch::install_variant(
          *hub, {request.repo_id, revision, requested_env(ctx), ctx.cache_root, ctx.local_files_only});
    });
    for (const auto& w : installed.resolution.warnings) out.warnings.push_back({Warning::Channel::User, w});
    out.variant_dir = installed.variant_dir;
    out.variant = variant::Variant::try_parse(installed.variant);
    out.metadata = as(ErrorKind::NotFound, [&] { return metadata::read_metadata(out.variant_dir / "metadata.json"); });
    check_loadable(out, ctx);
    verify_integrity(out, ctx, KernelLocation{request.repo_id, installed.commit, installed.variant});
    out.repo_info = std::make_pair(request.repo_id, revision);
  } catch (LoadError& e) {
    e.warnings.insert(e.warnings.begin(), out.warnings.begin(), out.warnings.end());
    throw;
  }
  return out;
}

Request dependency_request(const config::KernelDependency& dep, const Trust& trust) {
  Request request{dep.repo_id, dep.revision, std::nullopt, trust};
  if (dep.version) {
    if (*dep.version > static_cast<uint64_t>(std::numeric_limits<int>::max()))
      throw LoadError(ErrorKind::InvalidArgument,
                      "Kernel dependency '" + dep.repo_id + "' has an invalid version: " + std::to_string(*dep.version));
    request.version = static_cast<int>(*dep.version);
  }
  return request;
}

// Dependencies of a kernel located through LOCAL_KERNELS or the hub.
DependencyLocator hub_dependencies(const Trust& trust, const Context& ctx) {
  return [&trust, &ctx](const config::KernelDependency& dep) { return locate_one(dependency_request(dep, trust), ctx); };
}

Located locate_locked_one(const lock::KernelLock& entry, const Context& ctx) {
  lock::DownloadOptions options;
  options.cache_root = ctx.cache_root;
  options.env = requested_env(ctx);
  options.local_files_only = ctx.local_files_only;
  std::vector<lock::DownloadedVariant> got = as(ErrorKind::NotFound, [&] {
    try {
      return lock::download_locked(*open_hub(ctx), entry, options);
    } catch (const lock::LockMismatch& e) {
      throw LoadError(ErrorKind::LockMismatch, e.what());
    }
  });
  if (got.size() != 1)
    throw LoadError(ErrorKind::NotFound, "Locked kernel `" + entry.repo_id + "` has no variant for this system");
  Located out;
  for (const auto& w : got.front().warnings) out.warnings.push_back({Warning::Channel::User, w});
  out.variant_dir = got.front().dir;
  out.variant = variant::Variant::try_parse(got.front().variant);
  out.metadata = as(ErrorKind::NotFound, [&] { return metadata::read_metadata(out.variant_dir / "metadata.json"); });
  check_loadable(out, ctx);
  verify_integrity(out, ctx, KernelLocation{entry.repo_id, entry.sha, got.front().variant});
  out.repo_info = std::make_pair(entry.repo_id, entry.sha);
  return out;
}

config::KernelDependency lock_key(const lock::KernelLock& entry) {
  config::KernelDependency key{entry.repo_id, std::nullopt, std::nullopt};
  if (entry.pin) {
    key.version = entry.pin->version;
    key.revision = entry.pin->revision;
  } else {
    key.revision = entry.sha;
  }
  return key;
}

}  // namespace

Located locate_local(const fs::path& path, const Context& ctx, const Trust& trust) {
  Located out = locate_in(path, requested_env(ctx), ctx);
  locate_dependencies(out, {path.string(), 0, std::nullopt}, hub_dependencies(trust, ctx));
  return out;
}

Located locate(const Request& request, const Context& ctx) {
  Located out = locate_one(request, ctx);
  config::KernelDependency key{request.repo_id, std::nullopt, request.revision};
  if (request.version) key.version = static_cast<uint64_t>(*request.version);
  locate_dependencies(out, key, hub_dependencies(request.trust, ctx));
  return out;
}

Located locate_locked(const lock::KernelLock& entry, const Context& ctx, const std::vector<lock::KernelLock>& locks,
                      const Trust& trust) {
  if (all_latest_requested()) {
    // Development only: the newest version wins over the lock, as for get_kernel.
    Request request{entry.repo_id, std::nullopt, 0, trust};
    return locate(request, ctx);
  }
  Located out = locate_locked_one(entry, ctx);
  locate_dependencies(out, lock_key(entry), [&](const config::KernelDependency& dep) {
    const lock::KernelLock* locked = find_locked(locks, dep);
    if (!locked)
      throw LoadError(ErrorKind::InvalidArgument, "Kernel `" + dep.repo_id +
                                                      "` is not locked. Please lock it with `kernels lock <project>` "
                                                      "and then reinstall the project.");
    return locate_locked_one(*locked, ctx);
  });
  return out;
}

std::string kernels_api_version() { return KB_KERNELS_API_VERSION; }
std::string kernels_dist_version() { return KB_KERNELS_DIST_VERSION; }

// The newest kernels-minver whose builds kb loads. kb reports API level
// kernels_api_version() (what its Python API matches, which programs compare
// against), but loads newer build formats than that API level: the zip build
// layout, which raises kernels-minver to 0.19.0.
std::string loadable_kernels_minver() {
  return std::max(Version::parse(kernels_api_version()), Version::parse(std::string(metadata::kKernelsVersionZipLayout)))
      .str();
}

void check_kernels_minver(const metadata::Metadata& metadata, const std::string& variant) {
  if (!metadata.kernels_minver) return;
  if (Version::parse(*metadata.kernels_minver) <= Version::parse(loadable_kernels_minver())) return;
  throw LoadError(ErrorKind::Incompatible, "Kernel '" + metadata.name + "' variant '" + variant +
                                               "' requires kernels>=" + *metadata.kernels_minver + ", but version " +
                                               kernels_dist_version() + " is installed. Upgrade kb: its kernels API is " +
                                               kernels_api_version());
}

std::string runtime_user_agent(const std::string& caller, const std::string& own, const resolve::Environment& env,
                               const std::vector<std::string>& extra) {
  std::string off = to_lower(env_or_empty("HF_HUB_DISABLE_TELEMETRY"));
  if (off == "1" || off == "on" || off == "yes" || off == "true") return own;
  std::vector<std::string> parts;
  if (!caller.empty()) parts.push_back(caller);
  parts.push_back(own);
  parts.push_back("backend/" + env.backend.str());
  parts.push_back("platform/" + env.cpu + "-" + env.os);
  parts.push_back("file_type/kernel");
  parts.insert(parts.end(), extra.begin(), extra.end());
  return join(parts, "; ");
}

}  // namespace kb::load
