#pragma once
// Installing a kernel from a hub into the cache: resolve the revision, pick
// the variant for the environment, download only that variant's files (in
// parallel, each verified against the hub's hash before it enters the cache)
// and return its directory inside the cache snapshot.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libkb/hub/hub.h"
#include "libkb/resolve/resolve.h"

namespace kb::fetch {

struct InstallRequest {
  std::string repo_id;
  std::string revision;  // branch, tag or commit
  resolve::Environment env;
  std::filesystem::path cache_root;  // usually cache::default_cache_root()
  bool local_files_only = false;     // offline: only what the cache holds
  unsigned parallel_downloads = 8;
};

struct Installed {
  std::filesystem::path variant_dir;  // <cache>/kernels--org--name/snapshots/<commit>/build/<variant>
  std::string commit;
  std::string variant;
  resolve::Resolution resolution;
};

// The parseable variant folders under build/ at `revision` (empty when there
// is no build/ folder). One tree listing.
std::vector<variant::Variant> hub_variants(hub::Hub& hub, const std::string& repo_id, const std::string& revision);

// Throws kb::Error: "Cannot find a build variant for this system in ORG/NAME
// (revision: R):\n\n<trace>" when nothing fits; "Cannot find a local snapshot
// for ORG/NAME (revision: R). ..." offline; hub errors as the hub reports them.
// A variant already complete in the cache costs one revision lookup (none
// offline, none for a commit installed before: its variant list is recorded
// with it). The repository asked for is the one installed: a
// kernel-status.toml redirect in it is not followed (as in kernels >= 0.17).
Installed install_variant(hub::Hub& hub, const InstallRequest& request);

// Called with each named variant's files (one recursive listing of build/,
// paths from the repository root, bytecode left out) before anything is
// downloaded; throwing refuses the whole install.
using VariantFilesCheck = std::function<void(const std::string& variant, const std::vector<hub::TreeEntry>& files)>;

// Installs exactly the variants named, without resolving for an environment
// (request.env is not used; `kernels download --all-variants`): every file
// of build/<variant>/ but bytecode, each verified as install_variant verifies
// it. Throws kb::Error "Variant V not found in ORG/NAME (revision: R)" before
// downloading when the hub lacks one. Online only. Installed::resolution is
// empty.
std::vector<Installed> install_named_variants(hub::Hub& hub, const InstallRequest& request,
                                              const std::vector<std::string>& variants,
                                              const VariantFilesCheck& check = {});

// The commit of `version` (branch v<version>); offline from the cache's refs.
// Throws kb::Error "Version N not found, available versions: 1, 2" and the
// offline message of the existing runtime. `notice`, when given, receives
// hub::newer_version_notice (the caller warns with it).
std::string resolve_version(hub::Hub* hub, const std::string& repo_id, int version,
                            const std::filesystem::path& cache_root, bool local_files_only,
                            std::optional<std::string>* notice = nullptr);

}  // namespace kb::fetch
