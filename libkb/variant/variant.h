#pragma once
// Build-variant names: the directory names under build/ that say which
// framework, compute backend, Python ABI, CPU and OS a build is for.
//
// Legacy names (every kernels release reads them; the Python ABI is implicitly
// cpython-3.9-abi3):
//   torch<MM>[-cxx11|-cxx98]-<compute>-<cpu>-<os>   torch212-cxx11-cu130-x86_64-linux
//   torch-stable-abi<MM>-<compute>-<cpu>-<os>       torch-stable-abi211-cpu-aarch64-darwin
//   tvm-ffi<MM>-<compute>-<cpu>-<os>                tvm-ffi01-cu128-x86_64-linux
// Dotted names (kernels >= 0.19 only):
//   torch-<M.m>[-cxx11|-cxx98]-<backend>-cpython-<X.Y>-<abi3|abi3t>-<cpu>-<os>
//       torch-2.10-cxx11-cuda-12.8-cpython-3.12-abi3-x86_64-linux
//   torch-stable-abi-<M.m>-..., tvm-ffi-<M.m>-...   (same tail)
// Noarch: torch-<backend>, mlx-<backend>           torch-cuda, torch-universal, mlx-metal
// SDKs (no framework, dotted only):
//   sdk | sdk-<backend name> | sdk[-<backend>]-cpython-<X.Y>-<abi>-<cpu>-<os>
//
// <MM> is major.minor flattened ("2.12" -> "212"); torch and tvm-ffi majors are
// one digit, the rest is the minor. Legacy compute tokens are cpu, metal, tpu,
// neuron, or cu/rocm/xpu/cann followed by major.minor flattened with a one-digit
// minor ("cu130" = 13.0, "xpu20253" = 2025.3; "rocm714" = 7.14, the one
// two-digit minor). Dotted backends spell the name out and keep the dot:
// "cuda-12.8", "rocm-7.14", "xpu-2025.3", "cpu". abi3t (free-threaded Python)
// needs Python 3.15 or later. Parsing and formatting round-trip:
// Variant::parse(name).str() == name for every name parse accepts.
#include <compare>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/util/version.h"

namespace kb::variant {

// The compute part of a variant name.
enum class ComputeKind { Cpu, Metal, Tpu, Neuron, Cuda, Rocm, Xpu, Cann };

struct Compute {
  ComputeKind kind = ComputeKind::Cpu;
  uint64_t major = 0;  // versioned kinds (cuda, rocm, xpu, cann) only
  uint64_t minor = 0;  // 0..9: the token holds one digit for the minor

  // "cu130" -> {Cuda, 13, 0}. Throws kb::Error naming the token and the problem.
  static Compute parse(std::string_view token);
  // Unversioned kinds ignore `version`; versioned kinds require it. Neuron and
  // Cann are runtime-only tokens but can still be formed. Throws kb::Error when
  // a version is missing or its minor does not fit in one digit.
  static Compute from_backend(config::Backend backend, const std::optional<Version>& version = std::nullopt);

  // A dotted backend from its dash-separated parts: {"cuda", "12.8"}, {"cpu"}.
  // Throws kb::Error naming the parts and the problem.
  static Compute parse_dotted(const std::vector<std::string>& parts);

  bool versioned() const;
  // Whether a legacy token can hold the version (one-digit minor; rocm714).
  bool has_legacy_token() const;
  config::Backend backend() const;  // Cuda -> config::Backend::Cuda
  Version version() const;          // major.minor; empty for unversioned kinds
  std::string str() const;          // legacy token: "cu130", "cpu"
  std::string dotted() const;       // dotted form: "cuda-13.0", "cpu"

  friend auto operator<=>(const Compute&, const Compute&) = default;
};

enum class Kind {
  Torch,           // torch212-cxx11-cu130-x86_64-linux
  TorchStableAbi,  // torch-stable-abi211-cu130-x86_64-linux
  TvmFfi,          // tvm-ffi01-cu130-x86_64-linux
  Noarch,          // torch-cuda, mlx-metal
  Sdk,             // sdk, sdk-cuda, sdk-cuda-12.8-cpython-3.12-abi3-x86_64-linux
};

// How a name spells framework and backend versions: `torch212-...-cu128` or
// `torch-2.12-...-cuda-12.8-cpython-3.9-abi3`. SDK names are always dotted.
enum class NameForm { Legacy, Dotted };

// The framework of a noarch variant: torch-<backend> or mlx-<backend>.
enum class NoarchFramework { Torch, Mlx };

// The Python a variant's compiled parts need: the oldest CPython version and
// the stable ABI flavour (abi3 for builds with a GIL, abi3t for free-threaded
// builds, Python 3.15 and later).
struct PythonAbi {
  uint64_t major = 3;
  uint64_t minor = 9;
  bool abi3t = false;

  Version version() const { return Version({major, minor}); }
  std::string str() const;  // "cpython-3.9-abi3"
  friend auto operator<=>(const PythonAbi&, const PythonAbi&) = default;
};

class Variant {
 public:
  // Torch arch variant. `cxx11_abi`: true -> "-cxx11", false -> "-cxx98",
  // nullopt -> no tag. Only major.minor of `torch` is kept.
  static Variant torch(const Version& torch, std::optional<bool> cxx11_abi, Compute compute, std::string cpu,
                       std::string os);
  static Variant torch_stable_abi(const Version& abi, Compute compute, std::string cpu, std::string os);
  static Variant tvm_ffi(const Version& tvm_ffi, Compute compute, std::string cpu, std::string os);
  // `backend` is free text ("cuda", "universal", "cann"), non-empty.
  static Variant noarch(std::string backend, NoarchFramework framework = NoarchFramework::Torch);
  // SDK variants: `sdk`, `sdk-<backend name>` (no compiled parts), or with
  // compiled parts for a Python ABI, CPU and OS, for one backend or for any
  // (`compute` nullopt).
  static Variant sdk(std::optional<std::string> backend_name = std::nullopt);
  static Variant sdk_compiled(std::optional<Compute> compute, PythonAbi python, std::string cpu, std::string os);

  // The same arch variant in the other name form. Dotted names may carry any
  // Python ABI (with_python); going back to the legacy form needs cpython-3.9-abi3
  // and versions the legacy tokens can hold. Throws kb::Error otherwise; noarch
  // and SDK variants are returned unchanged.
  Variant with_name_form(NameForm form) const;
  // The same dotted arch or compiled SDK variant for another Python ABI.
  // Throws kb::Error for legacy names and for abi3t before Python 3.15.
  Variant with_python(PythonAbi python) const;

  // Throws kb::Error: "invalid variant name `NAME`: WHY".
  static Variant parse(std::string_view name);
  // Like parse, but returns nullopt and stores the reason in `why` (if given).
  static std::optional<Variant> try_parse(std::string_view name, std::string* why = nullptr);

  Kind kind() const { return kind_; }
  // Torch, stable-ABI and tvm-ffi variants (compiled for a framework).
  bool is_arch() const { return kind_ != Kind::Noarch && kind_ != Kind::Sdk; }
  NameForm name_form() const { return form_; }
  // Whether the variant holds compiled Python extensions: arch variants and
  // SDKs with a CPU and OS. Those carry a Python ABI and a CPU/OS.
  bool has_python_abi() const { return is_arch() || (kind_ == Kind::Sdk && !cpu_.empty()); }
  // cpython-3.9-abi3 for legacy names.
  const PythonAbi& python() const { return python_; }

  // Torch / stable-ABI / tvm-ffi version (major.minor); empty for noarch.
  Version framework_version() const { return Version({framework_major_, framework_minor_}); }
  uint64_t framework_major() const { return framework_major_; }
  uint64_t framework_minor() const { return framework_minor_; }
  // Torch arch only: true "-cxx11", false "-cxx98", nullopt untagged.
  std::optional<bool> cxx11_abi() const { return cxx11_abi_; }
  // Arch kinds, and SDKs with a versioned backend (sdk_has_compute).
  const Compute& compute() const { return compute_; }
  // Arch kinds and compiled SDKs; empty otherwise.
  const std::string& cpu() const { return cpu_; }
  const std::string& os() const { return os_; }
  // Noarch: the text after "torch-"/"mlx-". SDK: the backend of `sdk-<name>`
  // (empty for the others).
  const std::string& noarch_backend() const { return noarch_backend_; }
  NoarchFramework noarch_framework() const { return noarch_framework_; }
  // SDK only: a compiled SDK for one backend (sdk-cuda-12.8-cpython-...).
  bool sdk_has_compute() const { return sdk_has_compute_; }

  std::string str() const;

  // The same build under either name form: torch210-cxx11-cu128-x86_64-linux
  // and torch-2.10-cxx11-cuda-12.8-cpython-3.9-abi3-x86_64-linux. (== compares
  // names: two names are two directories.)
  bool same_build(const Variant& other) const;

  friend bool operator==(const Variant&, const Variant&) = default;
  // Orders by name, for stable listings (not a preference order).
  friend std::strong_ordering operator<=>(const Variant& a, const Variant& b) { return a.str() <=> b.str(); }

 private:
  Kind kind_ = Kind::Noarch;
  uint64_t framework_major_ = 0;
  uint64_t framework_minor_ = 0;
  std::optional<bool> cxx11_abi_;
  Compute compute_;
  std::string cpu_;
  std::string os_;
  std::string noarch_backend_;
  NameForm form_ = NameForm::Legacy;
  PythonAbi python_;
  NoarchFramework noarch_framework_ = NoarchFramework::Torch;
  bool sdk_has_compute_ = false;
};

// major.minor flattened: 2.12 -> "212", 13 -> "130", 2025.3.2 -> "20253".
std::string flat_version(const Version& version);

// Platform CPU names as variant names spell them: x86_64/amd64 -> "x86_64",
// aarch64/arm64 -> "aarch64" (case-insensitive). Others: kb::Error.
std::string normalize_cpu(std::string_view machine);
// Platform OS names: Linux -> "linux", Darwin -> "darwin", Windows ->
// "windows". Other names are lowercased and a warning is stored in `warning`.
std::string normalize_os(std::string_view system, std::string* warning = nullptr);
// Whether torch arch variants for `os` carry an ABI tag (only Linux does).
bool os_has_abi_tag(std::string_view os);

// Where variants live: build/<variant> under a kernel directory or a hub
// snapshot, and "build/<variant>" in a hub repository's paths.
inline constexpr std::string_view kBuildDir = "build";
std::filesystem::path variant_dir(const std::filesystem::path& root, std::string_view variant);
std::string hub_variant_path(std::string_view variant);  // "build/<variant>", no trailing '/'

}  // namespace kb::variant
