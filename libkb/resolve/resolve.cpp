#include "libkb/resolve/resolve.h"

#include <algorithm>
#include <array>
#include <set>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::resolve {

namespace fs = std::filesystem;
using variant::ComputeKind;
using variant::Kind;
using variant::Variant;

namespace {

std::string optional_str(const std::optional<Version>& v) { return v ? v->str() : "None"; }

// Framework versions print major.minor, "2.0" included, as the runtime does.
std::string optional_major_minor(const std::optional<Version>& v) { return v ? v->major_minor() : "None"; }

std::string bool_str(std::optional<bool> b) { return b ? (*b ? "True" : "False") : "None"; }

// A CPU variant standing in for an accelerator torch cannot use (see
// Environment::cpu_fallback).
bool is_cpu_fallback(const Variant& v, const Environment& env) {
  if (!env.cpu_fallback) return false;
  if (v.kind() == Kind::Noarch)
    return v.noarch_framework() == variant::NoarchFramework::Torch && v.noarch_backend() == "cpu";
  return v.is_arch() && v.compute().kind == ComputeKind::Cpu;
}

std::string cpu_fallback_note(const Environment& env) {
  std::string name = env.backend.kind == ComputeKind::Rocm ? "ROCm" : "CUDA";
  return "CPU fallback: torch is built for " + name + " (" + env.backend.str() + ") but no " + name +
         " device is available";
}

// The sort key of the current runtime (smaller first): accepted before
// rejected, CPU fallbacks after every variant of the backend itself; then
// the kind (stable ABI with the newest ABI first, torch with untagged before
// tagged, tvm-ffi, compiled SDKs with backend-agnostic ones after those for a
// backend, noarch with universal last, `sdk-<backend>`, `sdk`); then the
// highest backend minor version; then abi3 before abi3t and the newest Python.
using SortKey = std::array<int64_t, 8>;

SortKey sort_key(const Decision& d) {
  // Accepted decisions carry a reason only when they are CPU fallbacks.
  int64_t rejected = d.accepted ? (d.reason.empty() ? 0 : 1) : 2;
  const Variant& v = d.variant;
  auto minor = [&]() -> int64_t { return v.compute().versioned() ? -static_cast<int64_t>(v.compute().minor) : 0; };
  const variant::PythonAbi& py = v.python();
  const int64_t abi = py.abi3t ? 1 : 0, py_major = -static_cast<int64_t>(py.major),
                py_minor = -static_cast<int64_t>(py.minor);
  switch (v.kind()) {
    case Kind::TorchStableAbi:
      return {rejected,
              0,
              -static_cast<int64_t>(v.framework_major()),
              -static_cast<int64_t>(v.framework_minor()),
              minor(),
              abi,
              py_major,
              py_minor};
    case Kind::Torch:
      return {rejected, 1, 0, v.cxx11_abi() ? 1 : 0, minor(), abi, py_major, py_minor};
    case Kind::TvmFfi:
      return {rejected, 2, 0, 0, minor(), abi, py_major, py_minor};
    case Kind::Sdk:
      if (v.has_python_abi()) return {rejected, 3, 0, 0, v.sdk_has_compute() ? minor() : 1, abi, py_major, py_minor};
      return {rejected, v.noarch_backend().empty() ? 6 : 5, 0, 0, 0, 0, 0, 0};
    case Kind::Noarch:
      return {rejected, 4, 0, 0, v.noarch_backend() == "universal" ? 1 : 0, 0, 0, 0};
  }
  return {rejected, 7, 0, 0, 0, 0, 0, 0};
}

// "13.0": compute versions always print major.minor, as torch.version.cuda does.
std::string compute_version(const variant::Compute& c) {
  return std::to_string(c.major) + "." + std::to_string(c.minor);
}

// The backend as the variant's name spells it.
std::string backend_token(const variant::Compute& c, const Variant& v) {
  return v.name_form() == variant::NameForm::Dotted ? c.dotted() : c.str();
}

std::optional<std::string> backend_reason(const Variant& v, const Environment& env) {
  const variant::Compute& want = env.backend;
  const variant::Compute& have = v.compute();
  // CUDA and ROCm minor releases are backward compatible: cu126 runs on a
  // 12.9 system, rocm70 on 7.1; the major must match.
  for (auto [kind, name] : {std::pair{ComputeKind::Cuda, "CUDA"}, std::pair{ComputeKind::Rocm, "ROCm"}}) {
    if (want.kind != kind || have.kind != kind) continue;
    if (have.major != want.major || have.minor > want.minor)
      return std::string(name) + " version (" + compute_version(have) + ") is not compatible with system " + name +
             " version (" + compute_version(want) + ")";
    return std::nullopt;
  }
  if (have.kind != want.kind || have.version() != want.version())
    return "backend (" + backend_token(have, v) + ") does not match selected backend (" + want.str() + ")";
  if (have.kind == ComputeKind::Metal && (!env.macos || *env.macos < Version({26, 0})))
    return "Metal kernels require macOS 26.0 or later, system macOS version is " + optional_str(env.macos);
  return std::nullopt;
}

// Compiled parts need a Python that loads their ABI.
std::optional<std::string> python_reason(const Variant& v, const Environment& env) {
  const variant::PythonAbi& py = v.python();
  if (!py.abi3t && env.free_threaded) return "abi3 is not supported on free-threaded Python, abi3t is required";
  if (env.python && *env.python < py.version())
    return "Python " + py.version().major_minor() + " or later is required, system Python version is " +
           env.python->major_minor();
  return std::nullopt;
}

std::optional<std::string> system_reason(const Variant& v, const Environment& env) {
  if (v.cpu() != env.cpu) return "CPU (" + v.cpu() + ") does not match system CPU (" + env.cpu + ")";
  if (v.os() != env.os) return "OS (" + v.os() + ") does not match system OS (" + env.os + ")";
  return std::nullopt;
}

}  // namespace

std::string Environment::describe() const {
  std::string out = torch ? "torch " + torch->str() : std::string("no torch");
  if (tvm_ffi_only) out = "tvm-ffi " + optional_major_minor(tvm_ffi);
  if (cxx11_abi) out += *cxx11_abi ? ", cxx11" : ", cxx98";
  out += ", " + backend.str() + ", " + cpu + "-" + os;
  if (macos) out += ", macOS " + macos->str();
  return out;
}

variant::Compute detect_backend(const std::optional<TorchFacts>& torch) {
  auto versioned = [](ComputeKind kind, const Version& v) {
    variant::Compute c;
    c.kind = kind;
    c.major = v.major();
    c.minor = v.minor();
    return c;
  };
  variant::Compute cpu;
  if (!torch) return cpu;
  if (torch->tpu) return variant::Compute{ComputeKind::Tpu};
  if (torch->neuron) return variant::Compute{ComputeKind::Neuron};
  if (torch->cuda) return versioned(ComputeKind::Cuda, Version::parse(*torch->cuda));
  if (torch->hip) return versioned(ComputeKind::Rocm, leading_version(*torch->hip));
  if (torch->mps) return variant::Compute{ComputeKind::Metal};
  if (torch->xpu) {
    // "20250300" -> 2025.3: year, then the release digit.
    const std::string& x = *torch->xpu;
    if (x.size() < 6) throw Error("cannot read the XPU version from torch.version.xpu = \"" + x + "\"");
    return versioned(ComputeKind::Xpu, Version::parse(x.substr(0, 4) + "." + x.substr(5, 1)));
  }
  if (torch->cann) return versioned(ComputeKind::Cann, *torch->cann);
  return cpu;
}

Environment make_environment(std::string_view machine, std::string_view system, const std::optional<TorchFacts>& torch,
                             const std::optional<std::string>& backend_override) {
  Environment env;
  env.os = variant::normalize_os(system);
  std::string m = to_lower(std::string(machine));
  // Variant names know x86_64 and aarch64; other CPUs keep their name and so
  // match no arch variant.
  env.cpu = (m == "amd64" || m == "x86_64") ? "x86_64" : (m == "arm64" || m == "aarch64") ? "aarch64" : m;
  env.backend = select_backend(detect_backend(torch), backend_override);
  bool accelerator = env.backend.kind == ComputeKind::Cuda || env.backend.kind == ComputeKind::Rocm;
  bool overridden = backend_override && !backend_override->empty();
  env.cpu_fallback = torch && accelerator && !overridden && torch->device_available == false;
  if (torch) {
    Version v = leading_version(torch->version);
    env.torch = Version({v.major(), v.minor()});
    if (variant::os_has_abi_tag(env.os)) env.cxx11_abi = torch->cxx11_abi;
  }
  return env;
}

Environment make_cuda_runtime_environment(std::string_view machine, std::string_view system,
                                          const Version& cuda_runtime, std::optional<bool> device_available,
                                          const std::optional<std::string>& backend_override) {
  Environment env = make_environment(machine, system, std::nullopt);
  bool overridden = backend_override && !backend_override->empty();
  // Without torch nothing else in the process could use a CUDA build on a
  // machine whose runtime sees no device: resolve for the CPU.
  if (!overridden && device_available == false) return env;
  env.backend = select_backend(variant::Compute::from_backend(config::Backend::Cuda, cuda_runtime), backend_override);
  return env;
}

Environment with_backend(Environment env, const std::optional<std::string>& name) {
  if (!name || name->empty()) return env;
  env.backend = select_backend(env.backend, name);
  env.cpu_fallback = false;
  return env;
}

variant::Compute select_backend(const variant::Compute& detected, const std::optional<std::string>& name) {
  if (!name || name->empty()) return detected;
  variant::Compute cpu;
  std::string detected_name(config::backend_name(detected.backend()));
  if (*name == "cpu") return cpu;
  if (*name == detected_name) return detected;
  std::set<std::string> supported = {"cpu", detected_name};
  throw Error("Invalid backend '" + *name + "', system supported backends: " +
              join(std::vector<std::string>(supported.begin(), supported.end()), ", "));
}

std::string noarch_backend_name(const variant::Compute& backend) {
  return std::string(config::backend_name(backend.backend()));
}

std::optional<std::string> rejection_reason(const Variant& v, const Environment& env) {
  if (env.tvm_ffi_only && v.kind() != Kind::TvmFfi)
    return "not a tvm-ffi variant (a program without torch and Python loads only tvm-ffi variants)";
  const std::string system = noarch_backend_name(env.backend);
  if (v.kind() == Kind::Noarch) {
    if (v.noarch_framework() == variant::NoarchFramework::Mlx && !env.mlx)
      return "MLX is not installed in the environment";
    if (v.noarch_backend() == system || v.noarch_backend() == "universal" || is_cpu_fallback(v, env))
      return std::nullopt;
    return "backend (" + v.noarch_backend() + ") does not match system backend (" + system + ") and is not universal";
  }
  if (v.kind() == Kind::Sdk) {
    if (v.has_python_abi()) {
      if (auto why = python_reason(v, env)) return why;
      if (auto why = system_reason(v, env)) return why;
      return v.sdk_has_compute() ? backend_reason(v, env) : std::nullopt;
    }
    if (!v.noarch_backend().empty() && v.noarch_backend() != system)
      return "backend (" + v.noarch_backend() + ") does not match system backend (" + system + ")";
    return std::nullopt;
  }
  if (auto why = python_reason(v, env)) return why;
  if (auto why = system_reason(v, env)) return why;
  Version framework = v.framework_version();
  switch (v.kind()) {
    case Kind::Torch:
      if (!env.torch || *env.torch != framework)
        return "Torch version (" + framework.major_minor() + ") does not match environment Torch version (" +
               optional_major_minor(env.torch) + ")";
      if (v.cxx11_abi() && v.cxx11_abi() != env.cxx11_abi)
        return "Torch CXX11 ABI (" + bool_str(v.cxx11_abi()) + ") does not match environment Torch CXX11 ABI (" +
               bool_str(env.cxx11_abi) + ")";
      break;
    case Kind::TorchStableAbi:
      if (!env.torch || framework > *env.torch)
        return "Torch stable ABI version (" + framework.major_minor() + ") is too new for environment Torch version (" +
               optional_major_minor(env.torch) + ")";
      break;
    case Kind::TvmFfi:
      if (!env.tvm_ffi || *env.tvm_ffi != framework)
        return "tvm-ffi version (" + framework.major_minor() + ") does not match environment tvm-ffi version (" +
               optional_major_minor(env.tvm_ffi) + ")";
      break;
    case Kind::Noarch:
    case Kind::Sdk:
      break;
  }
  if (is_cpu_fallback(v, env)) return std::nullopt;
  return backend_reason(v, env);
}

const Decision* Resolution::best() const { return !trace.empty() && trace.front().accepted ? &trace.front() : nullptr; }

std::vector<Variant> Resolution::accepted() const {
  std::vector<Variant> out;
  for (const auto& d : trace)
    if (d.accepted) out.push_back(d.variant);
  return out;
}

Resolution resolve(std::vector<Variant> candidates, const Environment& env) {
  Resolution r;
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (auto& v : candidates) {
    auto reason = rejection_reason(v, env);
    if (!reason && is_cpu_fallback(v, env)) {
      // A CPU variant loads only when nothing for the backend itself does;
      // the trace says why it was accepted at all.
      r.trace.push_back({std::move(v), true, cpu_fallback_note(env)});
      continue;
    }
    r.trace.push_back({std::move(v), !reason, reason.value_or("")});
  }
  std::stable_sort(r.trace.begin(), r.trace.end(),
                   [](const Decision& a, const Decision& b) { return sort_key(a) < sort_key(b); });
  return r;
}

std::string render_trace(const std::vector<Decision>& trace) {
  std::vector<std::string> lines;
  const Variant* preferred = !trace.empty() && trace.front().accepted ? &trace.front().variant : nullptr;
  for (const Decision& d : trace) {
    if (d.accepted) {
      std::string note = d.reason.empty() ? "" : " (" + d.reason + ")";
      // A legacy name and its dotted twin are one build: both are preferred.
      bool is_preferred = preferred && d.variant.same_build(*preferred);
      lines.push_back(d.variant.str() + (is_preferred ? " compatible, preferred" : " compatible") + note + " ✅");
    } else
      lines.push_back(d.variant.str() + ": " + d.reason);
  }
  return join(lines, "\n");
}

std::vector<Variant> list_variant_dirs(const fs::path& dir, std::vector<std::string>* skipped) {
  std::vector<Variant> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    std::string name = it->path().filename().string();
    if (name.front() == '.') continue;  // kb's own records (.kb-abi), never a variant
    std::string why;
    if (auto v = Variant::try_parse(name, &why))
      out.push_back(std::move(*v));
    else if (skipped)
      skipped->push_back(name + ": " + why);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> variant_bases(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path / "build", ec)) return {path / "build"};
  return {path};
}

LocalChoice choose_local_variant(const fs::path& path, const Environment& env) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("Could not find kernel in " + path.string());
  std::vector<Decision> rejected;
  for (const fs::path& base : variant_bases(path)) {
    std::vector<Variant> found = list_variant_dirs(base);
    if (found.empty()) continue;
    Resolution r = resolve(found, env);
    if (const Decision* best = r.best()) return {base / best->variant.str(), best->variant, std::move(r)};
    rejected.insert(rejected.end(), r.trace.begin(), r.trace.end());
  }
  // A variant directory itself: it holds the kernel's metadata.json.
  if (fs::is_regular_file(path / "metadata.json", ec)) return {path, std::nullopt, {}};
  if (!rejected.empty())
    throw Error("Cannot find a build variant for this system in " + path.string() + " (" + env.describe() + "):\n\n" +
                render_trace(rejected));
  throw Error("Could not find kernel in " + path.string() +
              ": expected a kernel directory with build/, a build/ directory or a variant directory with "
              "metadata.json");
}

}  // namespace kb::resolve
