#include "libkb/pipeline/plan.h"

#include <algorithm>
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
      plan.skipped.push_back({backend, "tvm-ffi kernels are not supported by kb yet", ""});
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
    for (const auto& t : toolchains) {
      // Any torch can build CPU kernels; GPU backends need the matching torch.
      if (backend != Backend::Cpu && t.native_backend() != backend) continue;
      toolchain::VariantInputs inputs;
      if (backend == Backend::Cuda && nvcc) inputs.cuda_toolkit = nvcc->version;
      std::string name;
      try {
        name = toolchain::variant_for_build(config, backend, t, inputs).str();
      } catch (const Error& e) {
        reasons.push_back(t.describe() + ": " + e.what());
        continue;
      }
      if (seen.count(name)) continue;
      if (!wanted_variant(name)) {
        reasons.push_back(name + ": not selected by --variant");
        continue;
      }
      const Version& torch_version = t.torch.version;
      if (!within(torch_version, config.torch.minver, config.torch.maxver)) {
        reasons.push_back(name + ": torch " + torch_version.str() + " is outside build.toml's bounds");
        continue;
      }
      if (auto abi = config.stable_abi_for(backend);
          abi && Version({torch_version.major(), torch_version.minor()}) < *abi) {
        reasons.push_back(name + ": torch " + torch_version.str() + " is older than stable ABI " + abi->str());
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
  if (v.toolchain) {
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
