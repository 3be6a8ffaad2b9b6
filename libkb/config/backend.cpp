#include <algorithm>

#include "libkb/config/config.h"
#include "libkb/util/strings.h"

namespace kb::config {

const std::array<Backend, 8>& all_backends() {
  static const std::array<Backend, 8> backends = {Backend::Cann,   Backend::Cpu,  Backend::Cuda, Backend::Metal,
                                                  Backend::Neuron, Backend::Rocm, Backend::Tpu,  Backend::Xpu};
  return backends;
}

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::Cann:
      return "cann";
    case Backend::Cpu:
      return "cpu";
    case Backend::Cuda:
      return "cuda";
    case Backend::Metal:
      return "metal";
    case Backend::Neuron:
      return "neuron";
    case Backend::Rocm:
      return "rocm";
    case Backend::Tpu:
      return "tpu";
    case Backend::Xpu:
      return "xpu";
  }
  return "unknown";
}

std::optional<Backend> parse_backend(std::string_view name) {
  std::string lower = to_lower(name);
  for (Backend b : all_backends())
    if (backend_name(b) == lower) return b;
  return std::nullopt;
}

bool is_compiled_backend(Backend b) {
  return b == Backend::Cpu || b == Backend::Cuda || b == Backend::Metal || b == Backend::Rocm || b == Backend::Xpu;
}

const std::vector<KernelLanguage>& all_kernel_languages() {
  static const std::vector<KernelLanguage> languages = {
      KernelLanguage::CppCpu,  KernelLanguage::CppCuda, KernelLanguage::CppMetal,      KernelLanguage::CppRocm,
      KernelLanguage::CppXpu,  KernelLanguage::RustCpu, KernelLanguage::RustCudaOxide, KernelLanguage::RustCutile};
  return languages;
}

std::string_view kernel_language_name(KernelLanguage l) {
  switch (l) {
    case KernelLanguage::CppCpu:
      return "cpp-cpu";
    case KernelLanguage::CppCuda:
      return "cpp-cuda";
    case KernelLanguage::CppMetal:
      return "cpp-metal";
    case KernelLanguage::CppRocm:
      return "cpp-rocm";
    case KernelLanguage::CppXpu:
      return "cpp-xpu";
    case KernelLanguage::RustCpu:
      return "rust-cpu";
    case KernelLanguage::RustCudaOxide:
      return "rust-cuda-oxide";
    case KernelLanguage::RustCutile:
      return "rust-cutile";
  }
  return "cpp-cpu";
}

std::optional<KernelLanguage> parse_kernel_language(std::string_view name) {
  for (KernelLanguage l : all_kernel_languages())
    if (kernel_language_name(l) == name) return l;
  return std::nullopt;
}

Backend kernel_language_backend(KernelLanguage l) {
  switch (l) {
    case KernelLanguage::CppCpu:
    case KernelLanguage::RustCpu:
      return Backend::Cpu;
    case KernelLanguage::CppCuda:
    case KernelLanguage::RustCudaOxide:
    case KernelLanguage::RustCutile:
      return Backend::Cuda;
    case KernelLanguage::CppMetal:
      return Backend::Metal;
    case KernelLanguage::CppRocm:
      return Backend::Rocm;
    case KernelLanguage::CppXpu:
      return Backend::Xpu;
  }
  return Backend::Cpu;
}

bool is_rust_language(KernelLanguage l) {
  return l == KernelLanguage::RustCpu || l == KernelLanguage::RustCudaOxide || l == KernelLanguage::RustCutile;
}

KernelLanguage cpp_language_for(Backend b) {
  switch (b) {
    case Backend::Cuda:
      return KernelLanguage::CppCuda;
    case Backend::Metal:
      return KernelLanguage::CppMetal;
    case Backend::Rocm:
      return KernelLanguage::CppRocm;
    case Backend::Xpu:
      return KernelLanguage::CppXpu;
    default:
      return KernelLanguage::CppCpu;
  }
}

std::string_view framework_table_name(Framework f) {
  switch (f) {
    case Framework::Torch:
      return "torch";
    case Framework::TorchNoarch:
      return "torch-noarch";
    case Framework::TvmFfi:
      return "tvm-ffi";
  }
  return "torch";
}

std::string BuildConfig::module_name() const { return python_module_name(general.name); }

std::string BuildConfig::extension_dir() const { return framework == Framework::TvmFfi ? "tvm-ffi-ext" : "torch-ext"; }

std::vector<std::string> BuildConfig::pyext() const {
  const std::optional<std::vector<std::string>>* configured = nullptr;
  switch (framework) {
    case Framework::Torch:
      configured = &torch.pyext;
      break;
    case Framework::TorchNoarch:
      configured = &torch_noarch.pyext;
      break;
    case Framework::TvmFfi:
      configured = &tvm_ffi.pyext;
      break;
  }
  if (configured && configured->has_value()) return **configured;
  return {"py", "pyi"};
}

bool BuildConfig::has_kernel_for(Backend b) const {
  return std::any_of(kernels.begin(), kernels.end(), [b](const KernelComponent& k) { return k.backend == b; });
}

const KernelComponent* BuildConfig::rust_kernel_for(Backend b) const {
  for (const auto& k : kernels)
    if (k.backend == b && k.rust) return &k;
  return nullptr;
}

std::string BuildConfig::stable_abi_key_for(Backend b) const {
  if (torch.stable_abi_all) return "[torch] stable-abi";
  return "[torch.stable-abi] " + std::string(backend_name(b));
}

std::optional<Version> BuildConfig::stable_abi_for(Backend b) const {
  if (framework != Framework::Torch) return std::nullopt;
  if (torch.stable_abi_all) return torch.stable_abi_all;
  auto it = torch.stable_abi_per_backend.find(b);
  if (it == torch.stable_abi_per_backend.end()) return std::nullopt;
  return it->second;
}

std::vector<KernelDependency> BuildConfig::kernel_depends_for(Backend b) const {
  std::vector<KernelDependency> out = general.kernel_depends;
  if (b == Backend::Cuda || b == Backend::Neuron || b == Backend::Xpu) {
    auto it = general.backend_kernel_depends.find(b);
    if (it != general.backend_kernel_depends.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

}  // namespace kb::config
