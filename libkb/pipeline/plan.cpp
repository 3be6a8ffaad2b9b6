#include "libkb/pipeline/plan.h"

#include <algorithm>
#include <functional>
#include <set>

#include "libkb/project/project.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::pipeline {

using config::Backend;
using config::BuildConfig;
using config::Framework;

namespace {

bool within(const Version& v, const std::optional<Version>& min, const std::optional<Version>& max) {
  Version mm({v.major(), v.minor()});
  return (!min || mm >= *min) && (!max || mm <= *max);
}

std::string backend_str(Backend b) { return std::string(config::backend_name(b)); }

// Why no toolchain of this machine can build an arch variant for `backend`.
std::string missing_toolchain_reason(Backend backend, bool any_torch) {
  if (!any_torch) return "no Python interpreter with torch found (use --python or KB_PYTHON)";
  switch (backend) {
    case Backend::Cuda:
      return "no CUDA build of torch found (run `make cuda-torch` or pass --python)";
    case Backend::Rocm:
      return "no ROCm build of torch found on this machine";
    case Backend::Metal:
      return "Metal kernels need macOS with an MPS-enabled torch";
    case Backend::Xpu:
      return "no XPU build of torch found on this machine";
    default:
      return "no toolchain for " + backend_str(backend) + " on this machine";
  }
}

// The variant `t` would build for `backend`, unless it cannot name one, has
// been planned already or --variant leaves it out (then why, into `reasons`).
std::optional<std::string> candidate_variant(const BuildConfig& config, Backend backend,
                                             const toolchain::PythonToolchain& t,
                                             const toolchain::VariantInputs& inputs, const std::set<std::string>& seen,
                                             const std::function<bool(const std::string&)>& wanted_variant,
                                             std::vector<std::string>& reasons) {
  std::string name;
  try {
    name = toolchain::variant_for_build(config, backend, t, inputs).str();
  } catch (const Error& e) {
    reasons.push_back(t.describe() + ": " + e.what());
    return std::nullopt;
  }
  if (seen.count(name)) return std::nullopt;
  if (!wanted_variant(name)) {
    reasons.push_back(name + ": not selected by --variant");
    return std::nullopt;
  }
  return name;
}

// Plans the variant of a tvm-ffi kernel for one backend: any interpreter with
// tvm_ffi builds it (no torch involved); CUDA needs nvcc, whose release names
// the variant. Returns the reasons when nothing can be planned.
std::vector<std::string> plan_tvm_ffi_backend(const BuildConfig& config, Backend backend, const std::string& ops,
                                              const std::vector<toolchain::PythonToolchain>& toolchains,
                                              const std::optional<toolchain::Nvcc>& nvcc,
                                              const std::function<bool(const std::string&)>& wanted_variant,
                                              std::set<std::string>& seen, Plan& plan) {
  if (!config.has_kernel_for(backend))
    return {"build.toml has no [kernel.*] with backend = \"" + backend_str(backend) +
            "\" (tvm-ffi kernels have no noarch variants)"};
  if (backend != Backend::Cpu && backend != Backend::Cuda)
    return {"kb builds tvm-ffi kernels for cpu and cuda, not " + backend_str(backend)};
  if (toolchains.empty()) return {"no Python interpreter with tvm_ffi found"};
  std::vector<std::string> reasons;
  std::optional<toolchain::Nvcc> compiler;
  if (backend == Backend::Cuda) {
    if (!nvcc) return {"no CUDA compiler (nvcc) found; set CUDA_HOME or add nvcc to PATH"};
    if (!within(nvcc->version, config.general.cuda_minver, config.general.cuda_maxver))
      return {"CUDA " + nvcc->version.str() + " (" + nvcc->path.string() + ") is outside build.toml's bounds"};
    compiler = nvcc;
  }
  for (const auto& t : toolchains) {
    toolchain::VariantInputs inputs;
    inputs.tvm_ffi = Version({t.tvm_ffi->version.major(), t.tvm_ffi->version.minor()});
    if (compiler) inputs.cuda_toolkit = compiler->version;
    auto name = candidate_variant(config, backend, t, inputs, seen, wanted_variant, reasons);
    if (!name) continue;
    seen.insert(*name);
    plan.planned.push_back({*name, backend, false, ops, t, compiler});
    return {};
  }
  return reasons;
}

// The interpreters a stable-ABI backend is built with: the newest torch
// first, as one stable-ABI build serves every newer torch (builder spec 2.4
// keeps the newest torch per compute version).
std::vector<const toolchain::PythonToolchain*> in_build_order(
    const std::vector<toolchain::PythonToolchain>& toolchains, bool newest_torch_first) {
  std::vector<const toolchain::PythonToolchain*> out;
  for (const auto& t : toolchains) out.push_back(&t);
  if (newest_torch_first)
    std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
      return b->torch.version < a->torch.version;
    });
  return out;
}

}  // namespace

Plan plan_variants(const BuildConfig& config, const std::string& unique_id,
                   const std::vector<toolchain::PythonToolchain>& toolchains,
                   const std::optional<toolchain::Nvcc>& nvcc, const PlanFilter& filter) {
  Plan plan;
  std::set<std::string> seen;
  auto wanted_variant = [&](const std::string& name) {
    return filter.variants.empty() ||
           std::find(filter.variants.begin(), filter.variants.end(), name) != filter.variants.end();
  };
  for (Backend backend : config.general.backends) {
    if (!filter.backends.empty() &&
        std::find(filter.backends.begin(), filter.backends.end(), backend) == filter.backends.end())
      continue;
    std::string ops = project::ops_name(config, backend, unique_id);
    bool arch = config.framework == Framework::Torch && config.has_kernel_for(backend);
    if (const config::KernelComponent* rust = config.rust_kernel_for(backend)) {
      plan.skipped.push_back({backend,
                              "kernel \"" + rust->name + "\" is written in Rust (language = \"" +
                                  std::string(config::kernel_language_name(rust->language())) +
                                  "\"), which kb cannot build yet",
                              ""});
      continue;
    }
    if (config.framework == Framework::TvmFfi) {
      auto reasons = plan_tvm_ffi_backend(config, backend, ops, toolchains, nvcc, wanted_variant, seen, plan);
      if (!reasons.empty()) plan.skipped.push_back({backend, join(reasons, "; "), ""});
      continue;
    }
    if (!arch) {
      std::string name = "torch-" + backend_str(backend);
      if (wanted_variant(name) && seen.insert(name).second)
        plan.planned.push_back({name, backend, true, ops, std::nullopt, std::nullopt});
      continue;
    }
    size_t planned_before = plan.planned.size();
    std::vector<std::string> reasons;
    const std::optional<Version> stable_abi = config.stable_abi_for(backend);
    for (const toolchain::PythonToolchain* candidate : in_build_order(toolchains, stable_abi.has_value())) {
      const toolchain::PythonToolchain& t = *candidate;
      // Any torch can build CPU kernels; GPU backends need the matching torch.
      if (backend != Backend::Cpu && t.native_backend() != backend) continue;
      toolchain::VariantInputs inputs;
      if (backend == Backend::Cuda && nvcc) inputs.cuda_toolkit = nvcc->version;
      auto planned_name = candidate_variant(config, backend, t, inputs, seen, wanted_variant, reasons);
      if (!planned_name) continue;
      const std::string& name = *planned_name;
      const Version& torch_version = t.torch.version;
      if (!within(torch_version, config.torch.minver, config.torch.maxver)) {
        reasons.push_back(name + ": torch " + torch_version.str() + " is outside build.toml's bounds");
        continue;
      }
      if (stable_abi && Version({torch_version.major(), torch_version.minor()}) < *stable_abi) {
        reasons.push_back(name + ": build.toml's " + config.stable_abi_key_for(backend) + " = \"" +
                          stable_abi->str() + "\" needs torch >= " + stable_abi->str() + ", but " + t.describe() +
                          " has torch " + t.torch.version_raw);
        continue;
      }
      std::optional<toolchain::Nvcc> compiler;
      if (backend == Backend::Cuda) {
        Version cuda = leading_version(t.torch.cuda.value_or("0"));
        if (!within(cuda, config.general.cuda_minver, config.general.cuda_maxver)) {
          reasons.push_back(name + ": CUDA " + cuda.str() + " is outside build.toml's bounds");
          continue;
        }
        if (!nvcc) {
          reasons.push_back(name + ": no CUDA compiler (nvcc) found; set CUDA_HOME or add nvcc to PATH");
          continue;
        }
        if (nvcc->version.major() != cuda.major()) {
          reasons.push_back(name + ": nvcc " + nvcc->version.str() + " does not match torch's CUDA " + cuda.str());
          continue;
        }
        compiler = nvcc;
      }
      seen.insert(name);
      plan.planned.push_back({name, backend, false, ops, t, compiler});
    }
    if (plan.planned.size() == planned_before) {
      std::string reason = reasons.empty() ? missing_toolchain_reason(backend, !toolchains.empty()) : reasons.front();
      for (size_t i = 1; i < reasons.size(); ++i) reason += "; " + reasons[i];
      plan.skipped.push_back({backend, reason, ""});
    }
  }
  for (const auto& wanted : filter.variants) {
    if (seen.count(wanted)) continue;
    std::vector<std::string> buildable;
    PlanFilter all = filter;
    all.variants.clear();
    for (const auto& v : plan_variants(config, unique_id, toolchains, nvcc, all).planned)
      buildable.push_back(v.variant);
    throw Error("--variant " + wanted + " is not a variant this machine can build" +
                (buildable.empty() ? std::string(" (it builds none)") : " (it builds: " + join(buildable, ", ") + ")"));
  }
  return plan;
}

events::Json planned_event(const PlannedVariant& v, const BuildConfig& config, const std::string& kernel_dir,
                           const std::string& project_dir) {
  events::Json e = events::Json::object();
  e["event"] = std::string(events::kVariantPlanned);
  e["variant"] = v.variant;
  e["backend"] = backend_str(v.backend);
  e["kind"] = v.noarch ? "noarch" : "arch";
  e["kernel_dir"] = kernel_dir;
  e["project_dir"] = project_dir;
  e["module"] = config.module_name();
  e["ops_name"] = v.ops_name;
  if (v.toolchain && config.framework == Framework::TvmFfi) {
    const toolchain::TvmFfiFacts& tvm_ffi = *v.toolchain->tvm_ffi;
    e["python"] = v.toolchain->python.string();
    e["tvm_ffi_version"] = tvm_ffi.version_raw;
    if (v.nvcc) e["cuda_version"] = v.nvcc->version.major_minor();
    e["cmake_args"] = std::vector<std::string>{"-Dtvm_ffi_DIR=" + tvm_ffi.cmake_dir.string(),
                                               "-DKB_TVM_FFI_VERSION=" + tvm_ffi.version_raw};
  } else if (v.toolchain) {
    e["python"] = v.toolchain->python.string();
    e["torch_version"] = v.toolchain->torch.version_raw;
    if (v.toolchain->torch.cuda) e["cuda_version"] = *v.toolchain->torch.cuda;
    std::vector<std::string> args;
    const std::filesystem::path& torch_cmake = v.toolchain->torch.cmake_dir;
    if (!torch_cmake.empty()) {
      args.push_back("-DTorch_DIR=" + torch_cmake.string());
      // TorchConfig looks for libtorch with PATHS, which rank below the system
      // directories; a system libtorch (Debian's) would win over the one of this
      // toolchain unless the toolchain's prefix (<torch>/share/cmake/Torch/../../..)
      // comes first.
      args.push_back("-DCMAKE_PREFIX_PATH=" + torch_cmake.parent_path().parent_path().parent_path().string());
    }
    e["cmake_args"] = args;
  }
  if (v.nvcc) e["nvcc"] = v.nvcc->path.string();
  return e;
}

events::Json skipped_event(const SkippedBackend& s) {
  events::Json e = events::Json::object();
  e["event"] = std::string(events::kVariantSkipped);
  e["backend"] = backend_str(s.backend);
  e["reason"] = s.reason;
  if (!s.variant.empty()) e["variant"] = s.variant;
  return e;
}

}  // namespace kb::pipeline
