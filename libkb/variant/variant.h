#pragma once
// Build-variant names: the directory names under build/ that say which
// framework, compute backend, CPU and OS a build is for.
//
//   torch<MM>[-cxx11|-cxx98]-<compute>-<cpu>-<os>   torch212-cxx11-cu130-x86_64-linux
//   torch-stable-abi<MM>-<compute>-<cpu>-<os>       torch-stable-abi211-cpu-aarch64-darwin
//   tvm-ffi<MM>-<compute>-<cpu>-<os>                tvm-ffi01-cu128-x86_64-linux
//   torch-<backend>                                 torch-cuda, torch-universal
//
// <MM> is major.minor flattened ("2.12" -> "212"); torch and tvm-ffi majors are
// one digit, the rest is the minor. Compute tokens are cpu, metal, tpu, neuron,
// or cu/rocm/xpu/cann followed by major.minor flattened with a one-digit minor
// ("cu130" = 13.0, "xpu20253" = 2025.3). Parsing and formatting round-trip:
// Variant::parse(name).str() == name for every name parse accepts.
#include <compare>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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

  bool versioned() const;
  config::Backend backend() const;  // Cuda -> config::Backend::Cuda
  Version version() const;          // major.minor; empty for unversioned kinds
  std::string str() const;          // "cu130", "cpu"

  friend auto operator<=>(const Compute&, const Compute&) = default;
};

enum class Kind {
  Torch,           // torch212-cxx11-cu130-x86_64-linux
  TorchStableAbi,  // torch-stable-abi211-cu130-x86_64-linux
  TvmFfi,          // tvm-ffi01-cu130-x86_64-linux
  Noarch,          // torch-cuda
};

class Variant {
 public:
  // Torch arch variant. `cxx11_abi`: true -> "-cxx11", false -> "-cxx98",
  // nullopt -> no tag. Only major.minor of `torch` is kept.
  static Variant torch(const Version& torch, std::optional<bool> cxx11_abi, Compute compute, std::string cpu,
                       std::string os);
  static Variant torch_stable_abi(const Version& abi, Compute compute, std::string cpu, std::string os);
  static Variant tvm_ffi(const Version& tvm_ffi, Compute compute, std::string cpu, std::string os);
  // `backend` is free text ("cuda", "universal", "npu"), non-empty.
  static Variant noarch(std::string backend);

  // Throws kb::Error: "invalid variant name `NAME`: WHY".
  static Variant parse(std::string_view name);
  // Like parse, but returns nullopt and stores the reason in `why` (if given).
  static std::optional<Variant> try_parse(std::string_view name, std::string* why = nullptr);

  Kind kind() const { return kind_; }
  bool is_arch() const { return kind_ != Kind::Noarch; }

  // Torch / stable-ABI / tvm-ffi version (major.minor); empty for noarch.
  Version framework_version() const { return Version({framework_major_, framework_minor_}); }
  uint64_t framework_major() const { return framework_major_; }
  uint64_t framework_minor() const { return framework_minor_; }
  // Torch arch only: true "-cxx11", false "-cxx98", nullopt untagged.
  std::optional<bool> cxx11_abi() const { return cxx11_abi_; }
  // Arch kinds only.
  const Compute& compute() const { return compute_; }
  const std::string& cpu() const { return cpu_; }
  const std::string& os() const { return os_; }
  // Noarch only: the text after "torch-".
  const std::string& noarch_backend() const { return noarch_backend_; }

  std::string str() const;

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
