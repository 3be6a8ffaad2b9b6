#include "libkb/variant/variant.h"

#include <array>
#include <tuple>
#include <utility>
#include <vector>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::variant {
namespace {

struct ComputeSpelling {
  ComputeKind kind;
  std::string_view token;  // exact token, or prefix for versioned kinds
  config::Backend backend;
  bool versioned;
};

constexpr std::array<ComputeSpelling, 8> kComputeSpellings = {{
    {ComputeKind::Cpu, "cpu", config::Backend::Cpu, false},
    {ComputeKind::Metal, "metal", config::Backend::Metal, false},
    {ComputeKind::Tpu, "tpu", config::Backend::Tpu, false},
    {ComputeKind::Neuron, "neuron", config::Backend::Neuron, false},
    {ComputeKind::Cuda, "cu", config::Backend::Cuda, true},
    {ComputeKind::Rocm, "rocm", config::Backend::Rocm, true},
    {ComputeKind::Xpu, "xpu", config::Backend::Xpu, true},
    {ComputeKind::Cann, "cann", config::Backend::Cann, true},
}};

const ComputeSpelling& spelling(ComputeKind kind) {
  for (const auto& s : kComputeSpellings)
    if (s.kind == kind) return s;
  throw Error("internal error: unknown compute kind");
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A digit string as a number, rejecting spellings that would not format back
// the same way ("010"); a leading zero is only allowed for "0" itself.
std::optional<uint64_t> canonical_number(std::string_view digits) {
  if (!all_digits(digits) || digits.size() > 18) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  return std::stoull(std::string(digits));
}

// Splits "212" into one-digit major and the remaining minor (torch, stable ABI,
// tvm-ffi). Returns a reason on failure.
std::optional<std::pair<uint64_t, uint64_t>> split_framework_digits(std::string_view digits, std::string& why) {
  if (!all_digits(digits) || digits.size() < 2) {
    why = "expected a one-digit major and a minor version (e.g. 212 for 2.12), got `" + std::string(digits) + "`";
    return std::nullopt;
  }
  auto minor = canonical_number(digits.substr(1));
  if (!minor) {
    why = "minor version `" + std::string(digits.substr(1)) + "` has a leading zero";
    return std::nullopt;
  }
  return std::make_pair(static_cast<uint64_t>(digits[0] - '0'), *minor);
}

std::optional<Compute> parse_compute(std::string_view token, std::string& why) {
  for (const auto& s : kComputeSpellings) {
    if (!s.versioned) {
      if (token == s.token) return Compute{s.kind, 0, 0};
      continue;
    }
    if (!starts_with(token, s.token)) continue;
    std::string_view digits = token.substr(s.token.size());
    if (!all_digits(digits) || digits.size() < 2) {
      why = "compute token `" + std::string(token) + "` needs major and minor digits after `" + std::string(s.token) +
            "` (e.g. " + std::string(s.token) + "130)";
      return std::nullopt;
    }
    // The last digit is the minor version: cu128 = 12.8, xpu20253 = 2025.3.
    auto major = canonical_number(digits.substr(0, digits.size() - 1));
    if (!major) {
      why = "compute token `" + std::string(token) + "` has a major version with a leading zero";
      return std::nullopt;
    }
    return Compute{s.kind, *major, static_cast<uint64_t>(digits.back() - '0')};
  }
  why = "unknown compute token `" + std::string(token) +
        "` (expected cpu, metal, tpu, neuron, cu<MM>, rocm<MM>, xpu<MM> or cann<MM>)";
  return std::nullopt;
}

// The "<compute>-<cpu>-<os>" tail of an arch variant.
bool parse_arch_tail(const std::vector<std::string>& parts, size_t first, Compute& compute, std::string& cpu,
                     std::string& os, std::string& why) {
  if (parts.size() - first != 3) {
    why = "expected <compute>-<cpu>-<os> after the framework, got " + std::to_string(parts.size() - first) +
          " dash-separated part(s)";
    return false;
  }
  auto parsed = parse_compute(parts[first], why);
  if (!parsed) return false;
  if (parts[first + 1].empty() || parts[first + 2].empty()) {
    why = "empty CPU or OS part";
    return false;
  }
  compute = *parsed;
  cpu = parts[first + 1];
  os = parts[first + 2];
  return true;
}

uint64_t one_digit_major(const Version& v, std::string_view what) {
  if (v.major() > 9)
    throw Error(std::string(what) + " version " + v.str() +
                " cannot be written in a variant name (the major version must be one digit)");
  return v.major();
}

void require_arch_parts(const std::string& cpu, const std::string& os) {
  auto bad = [](const std::string& s) { return s.empty() || s.find('-') != std::string::npos; };
  if (bad(cpu) || bad(os))
    throw Error("invalid CPU/OS `" + cpu + "`/`" + os + "` for a variant name: must be non-empty without dashes");
}

}  // namespace

Compute Compute::parse(std::string_view token) {
  std::string why;
  auto c = parse_compute(token, why);
  if (!c) throw Error(why);
  return *c;
}

Compute Compute::from_backend(config::Backend backend, const std::optional<Version>& version) {
  for (const auto& s : kComputeSpellings) {
    if (s.backend != backend) continue;
    if (!s.versioned) return Compute{s.kind, 0, 0};
    if (!version || version->empty())
      throw Error("the `" + std::string(s.token) + "<MM>` compute token needs a version (backend `" +
                  std::string(config::backend_name(backend)) + "`)");
    if (version->minor() > 9)
      throw Error("version " + version->str() + " cannot be written as a `" + std::string(s.token) +
                  "` compute token (the minor version must be one digit)");
    return Compute{s.kind, version->major(), version->minor()};
  }
  throw Error("internal error: backend without a compute token");
}

bool Compute::versioned() const { return spelling(kind).versioned; }

config::Backend Compute::backend() const { return spelling(kind).backend; }

Version Compute::version() const {
  if (!versioned()) return Version();
  return Version({major, minor});
}

std::string Compute::str() const {
  const auto& s = spelling(kind);
  if (!s.versioned) return std::string(s.token);
  return std::string(s.token) + std::to_string(major) + std::to_string(minor);
}

Variant Variant::torch(const Version& torch, std::optional<bool> cxx11_abi, Compute compute, std::string cpu,
                       std::string os) {
  require_arch_parts(cpu, os);
  Variant v;
  v.kind_ = Kind::Torch;
  v.framework_major_ = one_digit_major(torch, "torch");
  v.framework_minor_ = torch.minor();
  v.cxx11_abi_ = cxx11_abi;
  v.compute_ = compute;
  v.cpu_ = std::move(cpu);
  v.os_ = std::move(os);
  return v;
}

Variant Variant::torch_stable_abi(const Version& abi, Compute compute, std::string cpu, std::string os) {
  require_arch_parts(cpu, os);
  Variant v;
  v.kind_ = Kind::TorchStableAbi;
  v.framework_major_ = one_digit_major(abi, "torch stable ABI");
  v.framework_minor_ = abi.minor();
  v.compute_ = compute;
  v.cpu_ = std::move(cpu);
  v.os_ = std::move(os);
  return v;
}

Variant Variant::tvm_ffi(const Version& tvm_ffi, Compute compute, std::string cpu, std::string os) {
  require_arch_parts(cpu, os);
  Variant v;
  v.kind_ = Kind::TvmFfi;
  v.framework_major_ = one_digit_major(tvm_ffi, "tvm-ffi");
  v.framework_minor_ = tvm_ffi.minor();
  v.compute_ = compute;
  v.cpu_ = std::move(cpu);
  v.os_ = std::move(os);
  return v;
}

Variant Variant::noarch(std::string backend) {
  if (backend.empty()) throw Error("a noarch variant needs a backend name (torch-<backend>)");
  Variant v;
  v.kind_ = Kind::Noarch;
  v.noarch_backend_ = std::move(backend);
  return v;
}

std::optional<Variant> Variant::try_parse(std::string_view name, std::string* why_out) {
  std::string why;
  auto fail = [&](std::string reason) -> std::optional<Variant> {
    if (why_out) *why_out = std::move(reason);
    return std::nullopt;
  };
  const std::vector<std::string> parts = split(name, '-');
  Variant v;

  if (starts_with(name, "torch-stable-abi")) {
    // parts: "torch", "stable", "abi211", compute, cpu, os
    auto digits = split_framework_digits(std::string_view(parts[2]).substr(3), why);
    if (!digits) return fail("stable ABI version: " + why);
    if (!parse_arch_tail(parts, 3, v.compute_, v.cpu_, v.os_, why)) return fail(why);
    v.kind_ = Kind::TorchStableAbi;
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    return v;
  }
  if (parts[0] == "torch") {
    std::string_view backend = name.size() > 6 ? name.substr(6) : std::string_view();
    if (backend.empty()) return fail("a noarch variant needs a backend after `torch-`");
    v.kind_ = Kind::Noarch;
    v.noarch_backend_ = std::string(backend);
    return v;
  }
  if (starts_with(parts[0], "torch")) {
    auto digits = split_framework_digits(std::string_view(parts[0]).substr(5), why);
    if (!digits) return fail("torch version: " + why);
    size_t tail = 1;
    if (parts.size() > 1 && (parts[1] == "cxx11" || parts[1] == "cxx98")) {
      v.cxx11_abi_ = parts[1] == "cxx11";
      tail = 2;
    }
    if (!parse_arch_tail(parts, tail, v.compute_, v.cpu_, v.os_, why)) return fail(why);
    v.kind_ = Kind::Torch;
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    return v;
  }
  if (parts[0] == "tvm" && parts.size() > 1 && starts_with(parts[1], "ffi")) {
    auto digits = split_framework_digits(std::string_view(parts[1]).substr(3), why);
    if (!digits) return fail("tvm-ffi version: " + why);
    if (!parse_arch_tail(parts, 2, v.compute_, v.cpu_, v.os_, why)) return fail(why);
    v.kind_ = Kind::TvmFfi;
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    return v;
  }
  return fail("unknown framework (expected torch<MM>, torch-stable-abi<MM>, tvm-ffi<MM> or torch-<backend>)");
}

Variant Variant::parse(std::string_view name) {
  std::string why;
  auto v = try_parse(name, &why);
  if (!v) throw Error("invalid variant name `" + std::string(name) + "`: " + why);
  return *v;
}

std::string Variant::str() const {
  std::string version = std::to_string(framework_major_) + std::to_string(framework_minor_);
  std::string tail = "-" + compute_.str() + "-" + cpu_ + "-" + os_;
  switch (kind_) {
    case Kind::Torch: {
      std::string tag;
      if (cxx11_abi_) tag = *cxx11_abi_ ? "-cxx11" : "-cxx98";
      return "torch" + version + tag + tail;
    }
    case Kind::TorchStableAbi:
      return "torch-stable-abi" + version + tail;
    case Kind::TvmFfi:
      return "tvm-ffi" + version + tail;
    case Kind::Noarch:
      return "torch-" + noarch_backend_;
  }
  return {};
}

std::string flat_version(const Version& version) {
  return std::to_string(version.major()) + std::to_string(version.minor());
}

std::string normalize_cpu(std::string_view machine) {
  std::string m = to_lower(machine);
  if (m == "x86_64" || m == "amd64") return "x86_64";
  if (m == "aarch64" || m == "arm64") return "aarch64";
  throw Error("unsupported CPU architecture `" + std::string(machine) +
              "` (variant names support x86_64/amd64 and aarch64/arm64)");
}

std::string normalize_os(std::string_view system, std::string* warning) {
  if (system == "Linux" || system == "linux") return "linux";
  if (system == "Darwin" || system == "darwin") return "darwin";
  if (system == "Windows" || system == "windows") return "windows";
  std::string lowered = to_lower(system);
  if (warning)
    *warning = "unknown operating system `" + std::string(system) + "`, using `" + lowered + "` in variant names";
  return lowered;
}

bool os_has_abi_tag(std::string_view os) { return os == "linux"; }

std::filesystem::path variant_dir(const std::filesystem::path& root, std::string_view variant) {
  return root / kBuildDir / variant;
}

std::string hub_variant_path(std::string_view variant) { return std::string(kBuildDir) + "/" + std::string(variant); }

}  // namespace kb::variant
