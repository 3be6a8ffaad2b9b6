#include "libkb/load/archs.h"

#include <cstdlib>
#include <limits>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::load {

namespace {

// A non-empty run of ASCII digits as a number; values too large to hold
// saturate, which keeps every comparison with a real capability right.
std::optional<long long> digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  long long value = 0;
  constexpr long long kMax = std::numeric_limits<long long>::max();
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    int d = c - '0';
    value = value > (kMax - d) / 10 ? kMax : value * 10 + d;
  }
  return value;
}

struct ParsedArch {
  CudaCapability capability;
  char suffix = 0;  // 'a', 'f' or 0
  bool ptx = false;
};

std::optional<ParsedArch> parse_cuda_arch(std::string_view arch) {
  ParsedArch out;
  if (ends_with(arch, "+PTX")) {
    out.ptx = true;
    arch.remove_suffix(4);
  }
  if (!arch.empty() && (arch.back() == 'a' || arch.back() == 'f')) {
    out.suffix = arch.back();
    arch.remove_suffix(1);
  }
  size_t dot = arch.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<long long> major = digits(arch.substr(0, dot));
  std::optional<long long> minor = digits(arch.substr(dot + 1));
  if (!major || !minor) return std::nullopt;
  out.capability = {*major, *minor};
  return out;
}

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  return std::string(value);
}

}  // namespace

CudaCapability parse_cuda_capability(std::string_view text, std::string_view source) {
  std::string value = trim(text);
  std::optional<ParsedArch> parsed = parse_cuda_arch(value);
  if (!parsed || parsed->suffix || parsed->ptx)
    throw Error(std::string(source) + ": `" + value + "` is not a CUDA capability (expected major.minor, e.g. 9.0)");
  return parsed->capability;
}

DeviceArch with_test_device(DeviceArch detected) {
  if (std::optional<std::string> capability = env_value(kTestCapabilityVariable))
    detected.cuda = parse_cuda_capability(*capability, kTestCapabilityVariable);
  if (std::optional<std::string> gcn = env_value(kTestGcnArchVariable)) detected.rocm = trim(*gcn);
  return detected;
}

std::optional<bool> cuda_arch_supports(std::string_view arch, CudaCapability capability) {
  std::optional<ParsedArch> parsed = parse_cuda_arch(arch);
  if (!parsed) return std::nullopt;
  const CudaCapability& built = parsed->capability;
  // Architecture-specific code runs only on its own capability.
  if (parsed->suffix == 'a') return capability == built;
  // Family-specific code and plain SASS run within one major, on the same or a
  // newer minor.
  if (parsed->suffix == 'f' || !parsed->ptx) return capability.major == built.major && capability.minor >= built.minor;
  // PTX is compiled for the device when loaded: any newer capability.
  return capability >= built;
}

bool cuda_archs_support(const std::vector<std::string>& archs, CudaCapability capability) {
  bool any_readable = false;
  for (const std::string& arch : archs) {
    std::optional<bool> supports = cuda_arch_supports(arch, capability);
    if (supports && *supports) return true;
    any_readable = any_readable || supports.has_value();
  }
  return !any_readable;
}

bool declares_archs(const metadata::BackendInfo& backend) {
  return (backend.type == config::Backend::Cuda || backend.type == config::Backend::Rocm) && backend.archs &&
         !backend.archs->empty();
}

std::optional<std::string> arch_incompatibility(const metadata::BackendInfo& backend, const DeviceArch& device) {
  if (!declares_archs(backend)) return std::nullopt;
  const std::vector<std::string>& archs = *backend.archs;
  if (backend.type == config::Backend::Cuda) {
    if (!device.cuda || cuda_archs_support(archs, *device.cuda)) return std::nullopt;
    return "CUDA capability " + std::to_string(device.cuda->major) + "." + std::to_string(device.cuda->minor) +
           " of the current device is not supported by the architectures of the build: " + join(archs, ", ");
  }
  if (backend.type == config::Backend::Rocm) {
    if (!device.rocm) return std::nullopt;
    std::string gcn = device.rocm->substr(0, device.rocm->find(':'));
    for (const std::string& arch : archs)
      if (arch == gcn) return std::nullopt;
    return "ROCm arch " + gcn +
           " of the current device is not supported by the architectures of the build: " + join(archs, ", ");
  }
  return std::nullopt;
}

std::string arch_refusal_message(const std::string& kernel_name, const std::string& variant,
                                 const std::string& reason) {
  return "Kernel '" + kernel_name + "' variant '" + variant + "' does not support the current device: " + reason +
         ". The declared architectures can be incomplete (e.g. when a kernel has a Triton fallback), pass "
         "`check_arch=False` to skip this check. Warning: the kernel may fail or crash the process at run time when "
         "it does not support the device.";
}

}  // namespace kb::load
