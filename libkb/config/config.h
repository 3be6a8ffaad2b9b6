#pragma once
// build.toml: the in-memory model and its loaders. Editions 6 and 5 are
// parsed strictly into one model (an edition-6 `language = "cpp-cuda"` kernel
// is the edition-5 `backend = "cuda"` kernel); an edition-less file is read as
// v4 and upgraded in memory (with a warning); v3 is accepted only by update-build.
// Every error names the file, line and column and the table/key at fault:
//   build.toml:12:3: [kernel.relu] unknown key "cuda-capabilites" (did you mean "cuda-capabilities"?)
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/util/version.h"

namespace kb::config {

// Canonical order: used whenever "all backends" are iterated.
enum class Backend { Cann, Cpu, Cuda, Metal, Neuron, Rocm, Tpu, Xpu };

const std::array<Backend, 8>& all_backends();
std::string_view backend_name(Backend b);  // lowercase: "cuda"
// Case-insensitive; std::nullopt for unknown names.
std::optional<Backend> parse_backend(std::string_view name);
// Backends that may carry [kernel.*] components: cpu, cuda, metal, rocm, xpu.
bool is_compiled_backend(Backend b);

// A git URL from `upstream` / `source`: the text as written and its
// normalised form (SCP "host:path" becomes "ssh://host/path").
struct GitUrl {
  std::string original;
  std::string normalized;
  friend bool operator==(const GitUrl&, const GitUrl&) = default;
};
// Throws kb::Error ("unsupported scheme `X` in git URL `Y`, expected one of: ..."
// or "invalid git URL `X`").
GitUrl parse_git_url(std::string_view text);

// A [general] kernel-depends entry: a Hub kernel this kernel needs.
struct KernelDependency {
  std::string repo_id;
  std::optional<uint64_t> version;  // exactly one of version / revision
  std::optional<std::string> revision;
  friend bool operator==(const KernelDependency&, const KernelDependency&) = default;
};
// One string per way of asking for a kernel ("org/name version 1",
// "org/name revision v1": version 1 and a revision named "v1" differ), for
// the dependency walks of loading and locking.
std::string dependency_key(const KernelDependency& d);
// Deeper than any real dependency tree: stops a hub serving an endless chain
// of distinct kernels.
inline constexpr size_t kMaxDependencyDepth = 64;

enum class Framework { Torch, TorchNoarch, TvmFfi };
std::string_view framework_table_name(Framework f);  // "torch", "torch-noarch", "tvm-ffi"

struct TorchTable {
  std::vector<std::string> src;
  std::vector<std::string> include;
  std::optional<std::vector<std::string>> pyext;  // absent: default ["py", "pyi"]
  std::optional<Version> minver;
  std::optional<Version> maxver;
  // stable-abi: either one version for every backend or one per listed backend.
  std::optional<Version> stable_abi_all;
  std::map<Backend, Version> stable_abi_per_backend;
  std::vector<std::string> cxx_flags;
  friend bool operator==(const TorchTable&, const TorchTable&) = default;
};

struct TorchNoarchTable {
  std::optional<std::vector<std::string>> pyext;
  std::vector<std::string> cuda_capabilities;  // keys are snake_case in the file
  std::vector<std::string> rocm_archs;
  friend bool operator==(const TorchNoarchTable&, const TorchNoarchTable&) = default;
};

struct TvmFfiTable {
  std::vector<std::string> src;
  std::vector<std::string> include;
  std::optional<std::vector<std::string>> pyext;
  std::vector<std::string> cxx_flags;
  friend bool operator==(const TvmFfiTable&, const TvmFfiTable&) = default;
};

// Edition 6 `language` of a [kernel.*] table: the source language and the
// backend it is compiled for.
enum class KernelLanguage { CppCpu, CppCuda, CppMetal, CppRocm, CppXpu, RustCpu, RustCudaOxide, RustCutile };
const std::vector<KernelLanguage>& all_kernel_languages();
std::string_view kernel_language_name(KernelLanguage l);  // "cpp-cuda", "rust-cpu", ...
std::optional<KernelLanguage> parse_kernel_language(std::string_view name);  // exact spelling
Backend kernel_language_backend(KernelLanguage l);
bool is_rust_language(KernelLanguage l);
// The C++ language of a compiled backend (cpu -> cpp-cpu).
KernelLanguage cpp_language_for(Backend b);

// A Rust kernel (edition 6, needs the [tvm-ffi] framework). kb reads and
// validates these but does not build them.
struct RustKernel {
  KernelLanguage language = KernelLanguage::RustCpu;
  std::string cargo_manifest;             // path of the crate's Cargo.toml
  std::optional<Version> tileiras_minver;  // rust-cutile only
  friend bool operator==(const RustKernel&, const RustKernel&) = default;
};

// One [kernel.<name>] component.
struct KernelComponent {
  std::string name;
  Backend backend = Backend::Cpu;
  // Set for Rust kernels (edition 6); absent for C++ kernels.
  std::optional<RustKernel> rust;
  KernelLanguage language() const { return rust ? rust->language : cpp_language_for(backend); }
  std::vector<std::string> src;
  std::vector<std::string> depends;  // cutlass_3_6, torch, ...
  std::vector<std::string> include;
  std::vector<std::string> cxx_flags;
  // cuda only (also rust-cuda-oxide)
  std::vector<std::string> cuda_capabilities;
  std::vector<std::string> cuda_flags;
  std::optional<Version> cuda_minver;
  // rocm only
  std::vector<std::string> rocm_archs;
  std::vector<std::string> hip_flags;
  // xpu only
  std::vector<std::string> sycl_flags;
  friend bool operator==(const KernelComponent&, const KernelComponent&) = default;
};

// How a built variant ships its Python package: as files in the variant
// directory, or as `<id>.zip` next to the shared objects ([general] build-layout).
enum class BuildLayout { Files, Zip };
std::string_view build_layout_name(BuildLayout layout);               // "files" / "zip"
std::optional<BuildLayout> parse_build_layout(std::string_view text);  // exact names only

struct General {
  std::string name;
  uint64_t version = 0;
  std::string license;
  std::optional<GitUrl> upstream;
  std::optional<GitUrl> source;
  std::vector<Backend> backends;
  BuildLayout build_layout = BuildLayout::Files;  // edition 6 only; "files" before
  std::vector<std::string> python_depends;
  std::vector<KernelDependency> kernel_depends;
  // [general.cuda]
  std::optional<Version> cuda_minver;
  std::optional<Version> cuda_maxver;
  // [general.<backend>] kernel-depends / python-depends (cuda, neuron, tpu, xpu)
  std::map<Backend, std::vector<KernelDependency>> backend_kernel_depends;
  std::map<Backend, std::vector<std::string>> backend_python_depends;
  // [general.hub]
  std::optional<std::string> hub_repo_id;
  std::optional<std::string> hub_branch;
  friend bool operator==(const General&, const General&) = default;
};

struct BuildConfig {
  int edition = 6;  // edition the file was written in: 6, 5, 4 (upgraded in memory) or 3
  General general;
  Framework framework = Framework::Torch;
  TorchTable torch;                      // valid when framework == Torch
  TorchNoarchTable torch_noarch;         // valid when framework == TorchNoarch
  TvmFfiTable tvm_ffi;                   // valid when framework == TvmFfi
  std::vector<KernelComponent> kernels;  // sorted by name

  // Kernel name with '-' replaced by '_' (the Python package name).
  std::string module_name() const;
  // "torch-ext" or "tvm-ffi-ext".
  std::string extension_dir() const;
  // The framework table's pyext (default {"py", "pyi"}).
  std::vector<std::string> pyext() const;
  bool has_kernel_for(Backend b) const;
  // The first Rust kernel compiled for backend `b` (kb cannot build these).
  const KernelComponent* rust_kernel_for(Backend b) const;
  // Stable-ABI version that applies to backend `b`, if any.
  std::optional<Version> stable_abi_for(Backend b) const;
  // The build.toml key that sets it, for messages: "[torch] stable-abi" or
  // "[torch.stable-abi] cuda".
  std::string stable_abi_key_for(Backend b) const;
  // general + backend kernel-depends (backend part for cuda, neuron, xpu).
  std::vector<KernelDependency> kernel_depends_for(Backend b) const;
  // general + backend python-depends names (backend part for cuda, tpu, xpu),
  // validated against the curated dependency table: throws
  // "Unknown dependency: `\"x\"`" / "Unknown dependency `\"x\"` for backend `\"cuda\"`"
  // / "No dependencies are defined for backend: \"tpu\"".
  std::vector<std::string> python_depends_for(Backend b) const;
  // Pip package names of python_depends_for(b) (for pyproject.toml).
  // std::nullopt: the general dependencies only.
  std::vector<std::string> pip_packages_for(std::optional<Backend> b) const;

  friend bool operator==(const BuildConfig&, const BuildConfig&) = default;
};

// The C++ dependency names allowed in [kernel.*] `depends`, in spec order
// (edition 6 adds torch-stable-abi-shim).
const std::vector<std::string>& known_cpp_dependencies(int edition = 6);

// The newest build.toml edition: what update-build writes.
inline constexpr int kCurrentEdition = 6;

// One pip package of a curated Python dependency; `import_name` is the
// module to probe for it (absent: nothing to probe, e.g. onednn-devel).
struct PythonPackage {
  std::string pip;
  std::optional<std::string> import_name;
  friend bool operator==(const PythonPackage&, const PythonPackage&) = default;
};
// The curated table entry for `name`: the general table when `backend` is
// std::nullopt, else that backend's table. nullptr when the name is not
// there (or the backend has no table at all: cann, tpu).
const std::vector<PythonPackage>* find_python_dependency(std::string_view name, std::optional<Backend> backend);

// Reads <kernel_dir>/build.toml. v4 files are upgraded and a warning is
// appended to `warnings` (when given); v3 is rejected unless allow_v3.
struct LoadOptions {
  bool allow_v3 = false;
};
BuildConfig load_build_config(const std::filesystem::path& kernel_dir, const LoadOptions& options = {},
                              std::vector<std::string>* warnings = nullptr);

// Parses TOML text; `source_name` prefixes error positions ("build.toml").
BuildConfig parse_build_config(std::string_view text, const std::string& source_name, const LoadOptions& options = {},
                               std::vector<std::string>* warnings = nullptr);

// The edition-6 TOML text of a config (what update-build writes). Comments
// and the original layout are not kept: toml++ does not preserve them.
std::string to_toml(const BuildConfig& config);

// update-build: the edition-6 form of <kernel_dir>/build.toml (editions 3-5).
struct UpdateBuildResult {
  int from_edition = 0;  // edition the file was written in
  bool changed = false;  // false: already the current edition, nothing to write
  std::string text;      // the edition-6 text (the file's own text when unchanged)
};
// Reads and converts without writing. Throws kb::Error naming file and key
// when the file is invalid or cannot be expressed in edition 6 (e.g. a
// three-part version where edition 6 takes major.minor).
UpdateBuildResult plan_build_update(const std::filesystem::path& kernel_dir);
// Converts and, when changed, replaces build.toml atomically; on any error the
// file is left untouched.
UpdateBuildResult update_build_file(const std::filesystem::path& kernel_dir);

// Kernel-name rule: ^[a-z][-a-z0-9]*[a-z0-9]$; throws kb::Error explaining the rules.
void validate_kernel_name(std::string_view name);

// The importable Python spelling of a kernel name: '-' becomes '_'
// ("flash-attn" -> "flash_attn"). The package directory of a variant and the
// module a loader imports are named so.
std::string python_module_name(std::string_view kernel_name);

}  // namespace kb::config
