// Variant names of builds (the names the generated CMake computes).
#include "libkb/toolchain/toolchain.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::toolchain {
namespace {

std::string backend_str(config::Backend b) { return std::string(config::backend_name(b)); }

// torch.version.xpu "20250300" -> 2025.3 (year, then the digit after the month's leading zero).
std::optional<Version> xpu_version_from_torch(const std::string& xpu) {
  if (xpu.size() < 6) return std::nullopt;
  try {
    return Version::parse(xpu.substr(0, 4) + "." + xpu.substr(5, 1));
  } catch (const Error&) {
    return std::nullopt;
  }
}

variant::Compute compute_for(config::Backend backend, const PythonToolchain* python, const VariantInputs& inputs) {
  const std::string who = python ? " with " + python->describe() : "";
  std::optional<Version> version;
  switch (backend) {
    case config::Backend::Cuda:
      if (inputs.cuda_toolkit)
        version = inputs.cuda_toolkit;
      else if (python && python->torch.cuda)
        version = leading_version(*python->torch.cuda);
      if (!version)
        throw Error("cannot name a cuda build" + who + ": no CUDA version is known (torch.version.cuda is None and no nvcc version was given)");
      break;
    case config::Backend::Rocm:
      if (python && python->torch.hip) version = leading_version(split(*python->torch.hip, '-')[0]);
      if (!version) throw Error("cannot name a rocm build" + who + ": torch.version.hip is None");
      break;
    case config::Backend::Xpu:
      if (inputs.xpu_toolkit)
        version = inputs.xpu_toolkit;
      else if (python && python->torch.xpu)
        version = xpu_version_from_torch(*python->torch.xpu);
      if (!version) throw Error("cannot name an xpu build" + who + ": no oneAPI (icpx) version is known");
      break;
    case config::Backend::Cann:
      throw Error("cann kernels cannot be compiled; they are noarch only");
    default:
      break;
  }
  if (version) version = Version({version->major(), version->minor()});
  return variant::Compute::from_backend(backend, version);
}

}  // namespace

variant::Compute compute_for_build(config::Backend backend, const PythonToolchain& python, const VariantInputs& inputs) {
  return compute_for(backend, &python, inputs);
}

variant::Variant variant_for_build(const config::BuildConfig& config, config::Backend backend,
                                   const PythonToolchain& python, const VariantInputs& inputs) {
  if (config.framework == config::Framework::TvmFfi) {
    if (!inputs.tvm_ffi) throw Error("cannot name a tvm-ffi build: the tvm-ffi version is unknown");
    // tvm-ffi builds take versions from the compilers, not from torch.
    return variant::Variant::tvm_ffi(*inputs.tvm_ffi, compute_for(backend, nullptr, inputs), python.cpu(),
                                     python.os());
  }
  if (config.framework == config::Framework::TorchNoarch || !config.has_kernel_for(backend))
    return variant::Variant::noarch(backend_str(backend));

  if (backend != config::Backend::Cpu && python.native_backend() != backend)
    throw Error("cannot build the " + backend_str(backend) + " kernels of " + config.general.name + " with " +
                python.describe() + ": that torch was built for " + backend_str(python.native_backend()));
  variant::Compute compute = compute_for(backend, &python, inputs);
  const std::string os = python.os();
  if (auto abi = config.stable_abi_for(backend))
    return variant::Variant::torch_stable_abi(*abi, compute, python.cpu(), os);
  std::optional<bool> tag;
  if (variant::os_has_abi_tag(os)) tag = python.torch.cxx11_abi;
  return variant::Variant::torch(python.torch.version, tag, compute, python.cpu(), os);
}

}  // namespace kb::toolchain
