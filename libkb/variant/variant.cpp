#include "libkb/variant/variant.h"

#include <algorithm>
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
    // ROCm 7.14 is the one release with a two-digit minor in a legacy token.
    if (s.kind == ComputeKind::Rocm && digits == "714") return Compute{s.kind, 7, 14};
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

// The name dotted backends spell out: "cuda" where legacy tokens say "cu".
std::string_view dotted_name(const ComputeSpelling& s) { return s.kind == ComputeKind::Cuda ? "cuda" : s.token; }

// "2.12" -> {2, 12}; both numbers without leading zeros.
std::optional<std::pair<uint64_t, uint64_t>> parse_dotted_version(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto major = canonical_number(text.substr(0, dot));
  auto minor = canonical_number(text.substr(dot + 1));
  if (!major || !minor) return std::nullopt;
  return std::make_pair(*major, *minor);
}

std::optional<Compute> parse_dotted_compute(const std::vector<std::string>& parts, std::string& why) {
  std::string shown = "`" + join(parts, "-") + "`";
  if (parts.empty()) {
    why = "missing backend";
    return std::nullopt;
  }
  for (const auto& s : kComputeSpellings) {
    if (parts[0] != dotted_name(s)) continue;
    if (!s.versioned) {
      if (parts.size() == 1) return Compute{s.kind, 0, 0};
      why = "backend " + shown + ": `" + parts[0] + "` takes no version";
      return std::nullopt;
    }
    if (parts.size() != 2) {
      why = "backend " + shown + ": expected `" + parts[0] + "-<major>.<minor>`";
      return std::nullopt;
    }
    auto version = parse_dotted_version(parts[1]);
    if (!version) {
      why = "backend " + shown + ": version `" + parts[1] + "` is not <major>.<minor>";
      return std::nullopt;
    }
    return Compute{s.kind, version->first, version->second};
  }
  why = "unknown backend " + shown + " (expected cpu, metal, tpu, neuron, cuda-X.Y, rocm-X.Y, xpu-X.Y or cann-X.Y)";
  return std::nullopt;
}

constexpr std::string_view kPythonMarker = "cpython";

// "3.12", "abi3t" -> PythonAbi; abi3t needs 3.15 or later.
std::optional<PythonAbi> parse_python(std::string_view version, std::string_view abi, std::string& why) {
  auto v = parse_dotted_version(version);
  if (!v) {
    why = "Python version `" + std::string(version) + "` is not <major>.<minor>";
    return std::nullopt;
  }
  if (abi != "abi3" && abi != "abi3t") {
    why = "unknown Python ABI `" + std::string(abi) + "` (expected abi3 or abi3t)";
    return std::nullopt;
  }
  PythonAbi python{v->first, v->second, abi == "abi3t"};
  if (python.abi3t && python.version() < Version({3, 15})) {
    why = "abi3t needs Python 3.15 or later, not " + std::string(version);
    return std::nullopt;
  }
  return python;
}

// The "<cpu>-<os>" at the end of `parts` (from `first` on), removed from it.
bool take_system(std::vector<std::string>& parts, size_t first, std::string& cpu, std::string& os, std::string& why) {
  if (parts.size() < first + 2) {
    why = "expected <cpu>-<os> at the end";
    return false;
  }
  cpu = parts[parts.size() - 2];
  os = parts.back();
  if (cpu.empty() || os.empty()) {
    why = "empty CPU or OS part";
    return false;
  }
  parts.resize(parts.size() - 2);
  return true;
}

// The "cpython-<X.Y>-<abi>" part of a dotted name: from the first marker (at
// `first` or later) to the end of `parts`, removed from it. nullopt with an
// empty `why` when there is no marker.
std::optional<PythonAbi> take_python(std::vector<std::string>& parts, size_t first, std::string& why) {
  auto marker = std::find(parts.begin() + static_cast<std::ptrdiff_t>(first), parts.end(), kPythonMarker);
  if (marker == parts.end()) return std::nullopt;
  if (parts.end() - marker != 3) {
    why = "expected cpython-<major>.<minor>-<abi3|abi3t> right before <cpu>-<os>";
    return std::nullopt;
  }
  auto python = parse_python(*(marker + 1), *(marker + 2), why);
  if (python) parts.erase(marker, parts.end());
  return python;
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

Compute Compute::parse_dotted(const std::vector<std::string>& parts) {
  std::string why;
  auto c = parse_dotted_compute(parts, why);
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
    Compute c{s.kind, version->major(), version->minor()};
    if (!c.has_legacy_token())
      throw Error("version " + version->str() + " cannot be written as a `" + std::string(s.token) +
                  "` compute token (the minor version must be one digit)");
    return c;
  }
  throw Error("internal error: backend without a compute token");
}

bool Compute::versioned() const { return spelling(kind).versioned; }

bool Compute::has_legacy_token() const {
  return !versioned() || minor <= 9 || (kind == ComputeKind::Rocm && major == 7 && minor == 14);
}

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

std::string Compute::dotted() const {
  const auto& s = spelling(kind);
  if (!s.versioned) return std::string(s.token);
  return std::string(dotted_name(s)) + "-" + std::to_string(major) + "." + std::to_string(minor);
}

std::string PythonAbi::str() const {
  return std::string(kPythonMarker) + "-" + std::to_string(major) + "." + std::to_string(minor) +
         (abi3t ? "-abi3t" : "-abi3");
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

Variant Variant::noarch(std::string backend, NoarchFramework framework) {
  if (backend.empty()) throw Error("a noarch variant needs a backend name (torch-<backend>)");
  Variant v;
  v.kind_ = Kind::Noarch;
  v.noarch_backend_ = std::move(backend);
  v.noarch_framework_ = framework;
  return v;
}

Variant Variant::sdk(std::optional<std::string> backend_name) {
  if (backend_name && (backend_name->empty() || backend_name->find('-') != std::string::npos))
    throw Error("invalid SDK backend name `" + *backend_name + "`: must be non-empty without dashes");
  Variant v;
  v.kind_ = Kind::Sdk;
  v.form_ = NameForm::Dotted;
  v.noarch_backend_ = backend_name.value_or("");
  return v;
}

Variant Variant::sdk_compiled(std::optional<Compute> compute, PythonAbi python, std::string cpu, std::string os) {
  require_arch_parts(cpu, os);
  if (python.abi3t && python.version() < Version({3, 15}))
    throw Error("abi3t needs Python 3.15 or later, not " + python.version().major_minor());
  Variant v;
  v.kind_ = Kind::Sdk;
  v.form_ = NameForm::Dotted;
  v.python_ = python;
  v.sdk_has_compute_ = compute.has_value();
  if (compute) v.compute_ = *compute;
  v.cpu_ = std::move(cpu);
  v.os_ = std::move(os);
  return v;
}

Variant Variant::with_name_form(NameForm form) const {
  if (!is_arch() || form == form_) return *this;
  if (form == NameForm::Legacy) {
    if (python_ != PythonAbi{})
      throw Error("`" + str() + "` cannot be named in the legacy form, which only holds cpython-3.9-abi3");
    if (framework_major_ > 9 || !compute_.has_legacy_token())
      throw Error("`" + str() + "` has versions the legacy form cannot hold");
  }
  Variant v = *this;
  v.form_ = form;
  return v;
}

Variant Variant::with_python(PythonAbi python) const {
  if (!has_python_abi() || form_ != NameForm::Dotted)
    throw Error("`" + str() + "` cannot carry a Python ABI: only dotted arch and compiled SDK names do");
  if (python.abi3t && python.version() < Version({3, 15}))
    throw Error("abi3t needs Python 3.15 or later, not " + python.version().major_minor());
  Variant v = *this;
  v.python_ = python;
  return v;
}

namespace {

bool starts_with_digit(const std::string& s) { return !s.empty() && s[0] >= '0' && s[0] <= '9'; }

// Everything after the framework of an arch name: [<backend>][-cpython-...]-<cpu>-<os>.
bool parse_arch_rest(std::vector<std::string> parts, size_t first, NameForm form, Compute& compute, PythonAbi& python,
                     std::string& cpu, std::string& os, std::string& why) {
  if (form == NameForm::Legacy && parts.size() - first != 3) {
    why = "expected <compute>-<cpu>-<os> after the framework, got " + std::to_string(parts.size() - first) +
          " dash-separated part(s)" + (parts.size() - first == 2 ? ": missing backend" : "");
    return false;
  }
  if (!take_system(parts, first, cpu, os, why)) return false;
  if (form == NameForm::Dotted) {
    auto parsed = take_python(parts, first, why);
    if (!parsed) {
      if (why.empty()) why = "missing Python version and ABI (cpython-<major>.<minor>-<abi3|abi3t>)";
      return false;
    }
    python = *parsed;
  }
  std::vector<std::string> backend(parts.begin() + static_cast<std::ptrdiff_t>(first), parts.end());
  if (backend.empty()) {
    why = "missing backend";
    return false;
  }
  std::optional<Compute> parsed;
  if (form == NameForm::Dotted) {
    parsed = parse_dotted_compute(backend, why);
  } else {
    parsed = parse_compute(backend[0], why);
  }
  if (!parsed) return false;
  compute = *parsed;
  return true;
}

// sdk | sdk-<name> | sdk[-<backend>]-cpython-<X.Y>-<abi>-<cpu>-<os>
std::optional<Variant> parse_sdk(std::vector<std::string> parts, std::string& why) {
  if (std::find(parts.begin(), parts.end(), kPythonMarker) == parts.end()) {
    if (parts.size() == 1) return Variant::sdk();
    if (parts.size() == 2 && !parts[1].empty()) return Variant::sdk(parts[1]);
    why =
        "an SDK without compiled parts is `sdk` or `sdk-<backend>`; compiled SDKs need "
        "cpython-<major>.<minor>-<abi3|abi3t>-<cpu>-<os>";
    return std::nullopt;
  }
  std::string cpu, os;
  if (!take_system(parts, 1, cpu, os, why)) return std::nullopt;
  auto python = take_python(parts, 1, why);
  if (!python) {
    if (why.empty()) why = "expected cpython-<major>.<minor>-<abi3|abi3t> before <cpu>-<os>";
    return std::nullopt;
  }
  std::optional<Compute> compute;
  if (parts.size() > 1) {
    compute = parse_dotted_compute(std::vector<std::string>(parts.begin() + 1, parts.end()), why);
    if (!compute) return std::nullopt;
  }
  return Variant::sdk_compiled(compute, *python, cpu, os);
}

}  // namespace

std::optional<Variant> Variant::try_parse(std::string_view name, std::string* why_out) {
  std::string why;
  auto fail = [&](std::string reason) -> std::optional<Variant> {
    if (why_out) *why_out = std::move(reason);
    return std::nullopt;
  };
  const std::vector<std::string> parts = split(name, '-');
  Variant v;
  auto arch = [&](Kind kind, NameForm form, size_t rest) -> std::optional<Variant> {
    v.kind_ = kind;
    v.form_ = form;
    if (!parse_arch_rest(parts, rest, form, v.compute_, v.python_, v.cpu_, v.os_, why)) return fail(why);
    return v;
  };
  // A dotted framework version ("2.10") into the variant.
  auto dotted_version = [&](const std::string& text) {
    auto version = parse_dotted_version(text);
    if (!version) return false;
    std::tie(v.framework_major_, v.framework_minor_) = *version;
    return true;
  };

  if (parts[0] == "sdk") {
    auto sdk = parse_sdk(parts, why);
    if (!sdk) return fail(why);
    return sdk;
  }
  if (starts_with(name, "torch-stable-abi")) {
    if (parts.size() > 3 && parts[2] == "abi") {
      // torch-stable-abi-2.11-...
      if (!dotted_version(parts[3])) return fail("stable ABI version `" + parts[3] + "` is not <major>.<minor>");
      return arch(Kind::TorchStableAbi, NameForm::Dotted, 4);
    }
    // torch-stable-abi211-...
    auto digits = split_framework_digits(std::string_view(parts[2]).substr(3), why);
    if (!digits) return fail("stable ABI version: " + why);
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    return arch(Kind::TorchStableAbi, NameForm::Legacy, 3);
  }
  if (parts[0] == "torch" && parts.size() > 1 && starts_with_digit(parts[1])) {
    // torch-2.10[-cxx11]-...
    if (!dotted_version(parts[1])) return fail("torch version `" + parts[1] + "` is not <major>.<minor>");
    size_t rest = 2;
    if (parts.size() > 2 && (parts[2] == "cxx11" || parts[2] == "cxx98")) {
      v.cxx11_abi_ = parts[2] == "cxx11";
      rest = 3;
    }
    return arch(Kind::Torch, NameForm::Dotted, rest);
  }
  if (parts[0] == "torch" || (parts[0] == "mlx" && parts.size() > 1 && !starts_with_digit(parts[1]))) {
    std::string_view backend = name.substr(std::min(name.size(), parts[0].size() + 1));
    if (backend.empty()) return fail("a noarch variant needs a backend after `" + parts[0] + "-`");
    v.kind_ = Kind::Noarch;
    v.noarch_backend_ = std::string(backend);
    v.noarch_framework_ = parts[0] == "mlx" ? NoarchFramework::Mlx : NoarchFramework::Torch;
    return v;
  }
  if (starts_with(parts[0], "torch")) {
    auto digits = split_framework_digits(std::string_view(parts[0]).substr(5), why);
    if (!digits) return fail("torch version: " + why);
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    size_t rest = 1;
    if (parts.size() > 1 && (parts[1] == "cxx11" || parts[1] == "cxx98")) {
      v.cxx11_abi_ = parts[1] == "cxx11";
      rest = 2;
    }
    return arch(Kind::Torch, NameForm::Legacy, rest);
  }
  if (parts[0] == "tvm" && parts.size() > 1 && starts_with(parts[1], "ffi")) {
    if (parts[1] == "ffi" && parts.size() > 2) {
      // tvm-ffi-0.1-...
      if (!dotted_version(parts[2])) return fail("tvm-ffi version `" + parts[2] + "` is not <major>.<minor>");
      return arch(Kind::TvmFfi, NameForm::Dotted, 3);
    }
    auto digits = split_framework_digits(std::string_view(parts[1]).substr(3), why);
    if (!digits) return fail("tvm-ffi version: " + why);
    std::tie(v.framework_major_, v.framework_minor_) = *digits;
    return arch(Kind::TvmFfi, NameForm::Legacy, 2);
  }
  return fail(
      "unknown framework (expected torch<MM>, torch-<M.m>, torch-stable-abi…, tvm-ffi…, torch-<backend>, "
      "mlx-<backend> or sdk…)");
}

Variant Variant::parse(std::string_view name) {
  std::string why;
  auto v = try_parse(name, &why);
  if (!v) throw Error("invalid variant name `" + std::string(name) + "`: " + why);
  return *v;
}

bool Variant::same_build(const Variant& other) const {
  Variant a = *this, b = other;
  a.form_ = b.form_ = NameForm::Dotted;
  return a == b;
}

std::string Variant::str() const {
  const bool dotted = form_ == NameForm::Dotted;
  std::string version = dotted ? std::to_string(framework_major_) + "." + std::to_string(framework_minor_)
                               : std::to_string(framework_major_) + std::to_string(framework_minor_);
  std::string tail = "-" + (dotted ? compute_.dotted() + "-" + python_.str() : compute_.str()) + "-" + cpu_ + "-" + os_;
  switch (kind_) {
    case Kind::Torch: {
      std::string tag;
      if (cxx11_abi_) tag = *cxx11_abi_ ? "-cxx11" : "-cxx98";
      return (dotted ? "torch-" : "torch") + version + tag + tail;
    }
    case Kind::TorchStableAbi:
      return (dotted ? "torch-stable-abi-" : "torch-stable-abi") + version + tail;
    case Kind::TvmFfi:
      return (dotted ? "tvm-ffi-" : "tvm-ffi") + version + tail;
    case Kind::Noarch:
      return (noarch_framework_ == NoarchFramework::Mlx ? "mlx-" : "torch-") + noarch_backend_;
    case Kind::Sdk: {
      std::string out = "sdk";
      if (!noarch_backend_.empty()) out += "-" + noarch_backend_;
      if (cpu_.empty()) return out;
      if (sdk_has_compute_) out += "-" + compute_.dotted();
      return out + "-" + python_.str() + "-" + cpu_ + "-" + os_;
    }
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
