#pragma once
// `kb init`: a new kernel project (build.toml, bindings, an add-one kernel per
// selected backend, tests, benchmark, card template, Makefile) written
// atomically and staged in a fresh git repository. The kernel is a Torch
// extension (optionally against the Torch stable ABI) or a tvm-ffi kernel.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kb::scaffold {

// The names derived from `--name OWNER/REPO`.
struct RepoNames {
  std::string owner;
  std::string repo;          // REPO as given
  std::string display_name;  // REPO with '_' -> '-'; build.toml `name`
  std::string module_name;   // REPO lowercased, '-' -> '_'; the Python package
  std::string class_name;    // CamelCase of REPO split on '-' and '_'
  std::string repo_id;       // OWNER/<display name>
};

// Parses OWNER/REPO: exactly one '/', both parts non-empty. Throws kb::Error
// "`<text>` must be <owner>/<repo>" otherwise. Names are not checked against
// the kernel-name rules.
RepoNames parse_repo_names(std::string_view owner_repo);
// Non-throwing form: std::nullopt when `text` is not OWNER/REPO.
std::optional<RepoNames> try_parse_repo_names(std::string_view text);

// `--backends` values: case-insensitive, comma lists accepted, "all" expands
// to all eight backends in canonical order, duplicates dropped (first kept).
// Throws kb::Error "Unknown backend: <s>" (with the valid names).
std::vector<std::string> parse_backends(const std::vector<std::string>& values);

// The eight backends in canonical order, and the five that get sources.
const std::vector<std::string>& all_backend_names();
bool is_compiled_backend(std::string_view backend);

// What the kernel is built against.
enum class Framework { Torch, TvmFfi };

// `--framework` values: "torch" or "tvm-ffi". Throws kb::Error naming both.
Framework parse_framework(std::string_view text);
std::string_view framework_name(Framework framework);  // "torch", "tvm-ffi"

struct FrameworkOptions {
  Framework framework = Framework::Torch;
  // `--stable-abi`: the oldest Torch (major.minor) a stable-ABI build loads in.
  std::optional<std::string> stable_abi;
};

// Oldest Torch whose stable API has what the stable-ABI scaffold uses
// (const_data_ptr / mutable_data_ptr, TORCH_BOX).
inline constexpr std::string_view kMinStableAbi = "2.10";

// `--stable-abi` value: exactly MAJOR.MINOR (digits), at least kMinStableAbi.
// Returns it as written; throws kb::Error otherwise.
std::string parse_stable_abi(std::string_view text);

// The backends the tvm-ffi scaffold (and the stable-ABI one) has kernels
// for: cpu and cuda.
const std::vector<std::string>& tvm_ffi_backend_names();
// Throws kb::Error for a combination kb cannot scaffold: the stable ABI with
// tvm-ffi, or a backend outside tvm_ffi_backend_names() for tvm-ffi or the
// stable ABI.
void check_framework_options(const FrameworkOptions& framework, const std::vector<std::string>& backends);

struct InitOptions {
  std::optional<std::string> path;  // positional PATH
  std::optional<std::string> name;  // --name OWNER/REPO
  std::string license = "Apache-2.0";
  std::vector<std::string> backends = {"cuda"};  // as parsed by parse_backends
  FrameworkOptions framework;
  bool overwrite = false;
  std::filesystem::path cwd;  // empty: the process's current directory
};

struct Target {
  std::filesystem::path dir;  // absolute, lexically normal
  RepoNames names;
};

// Where the project goes and what it is called:
//  PATH + --name -> PATH (relative to cwd); only --name -> cwd/<display name>;
//  only PATH -> PATH must itself be OWNER/REPO (dir cwd/<display name>);
//  neither -> an error. kb has no hub login to ask for the owner, so whenever
//  the owner cannot be read from --name or PATH it fails and asks for --name.
Target resolve_target(const InitOptions& options);

struct ScaffoldFile {
  std::string path;  // relative, '/' separated
  std::string content;
};

// Every file of the scaffold for these names, license, backends and
// framework, rendered in memory, sorted by path. Throws what
// check_framework_options throws.
std::vector<ScaffoldFile> render_scaffold(const RepoNames& names, const std::string& license,
                                          const std::vector<std::string>& backends,
                                          const FrameworkOptions& framework = {});

// The edition-5 build.toml of a new project.
std::string render_build_toml(const RepoNames& names, const std::string& license,
                              const std::vector<std::string>& backends, const FrameworkOptions& framework = {});

struct InitResult {
  Target target;
  std::vector<std::string> written;  // relative paths of the scaffold files
};

// resolve_target + render_scaffold, then: if any scaffold file already exists
// and !overwrite -> kb::Error listing them, nothing written; otherwise each
// file is written atomically (other files in the directory are kept), a git
// repository is initialised there (or reopened) and every non-ignored file is
// staged, without a commit.
InitResult init_project(const InitOptions& options);

// `git init` in `dir` and the equivalent of `git add .` (no commit).
void git_init_and_stage_all(const std::filesystem::path& dir);

}  // namespace kb::scaffold
