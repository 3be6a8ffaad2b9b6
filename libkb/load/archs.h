#pragma once
// The architecture check of a build about to load: the GPU architectures its
// metadata.json declares (backend.archs) against the device of the process.
// A CUDA build declares compute capabilities ("8.0", "9.0a", "10.0f",
// "9.0+PTX"), a ROCm build gfx names ("gfx90a"). Builds of other backends,
// builds that declare nothing and processes without such a device are not
// checked: the check refuses only what it knows cannot run.
#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/metadata/metadata.h"

namespace kb::load {

// torch.cuda.get_device_capability(): (major, minor).
struct CudaCapability {
  long long major = 0;
  long long minor = 0;
  friend auto operator<=>(const CudaCapability&, const CudaCapability&) = default;
};

// What the check needs to know of the device a kernel will run on. A fact is
// absent when the process has no such device (torch not built for it, or no
// device visible): builds for that backend are then not checked.
struct DeviceArch {
  std::optional<CudaCapability> cuda;
  // gcnArchName as the device reports it; feature flags after ':' are
  // ignored ("gfx90a:sramecc+:xnack-" is gfx90a).
  std::optional<std::string> rocm;
  friend bool operator==(const DeviceArch&, const DeviceArch&) = default;
};

// Environment variables reserved for tests: they replace what was detected
// (also where no GPU is present), so the check can be exercised anywhere.
//   KB_TEST_DEVICE_CAPABILITY=9.0        a CUDA device of capability 9.0
//   KB_TEST_DEVICE_GCN_ARCH=gfx90a:xnack-  a ROCm device
inline constexpr const char* kTestCapabilityVariable = "KB_TEST_DEVICE_CAPABILITY";
inline constexpr const char* kTestGcnArchVariable = "KB_TEST_DEVICE_GCN_ARCH";

// "9.0" -> {9, 0}. Throws kb::Error naming `source` otherwise.
CudaCapability parse_cuda_capability(std::string_view text, std::string_view source);

// `detected` with the test variables applied over it.
DeviceArch with_test_device(DeviceArch detected);

// Whether one declared CUDA arch runs on `capability`; nullopt when the
// string is not a CUDA arch (a newer builder's spelling). Rules:
//   "9.0a"     exactly 9.0 (architecture-specific)
//   "10.0f"    10.x with x >= 0 (family-specific)
//   "9.0+PTX"  9.0 or any newer capability (JIT from PTX); "a"/"f" keep
//              their own rule when combined with +PTX
//   "8.0"      8.x with x >= 0
std::optional<bool> cuda_arch_supports(std::string_view arch, CudaCapability capability);

// Any declared arch runs on `capability`. A list none of whose entries can be
// read does not refuse (compatibility cannot be told).
bool cuda_archs_support(const std::vector<std::string>& archs, CudaCapability capability);

// A CUDA or ROCm build with a non-empty archs list: the builds the check
// applies to.
bool declares_archs(const metadata::BackendInfo& backend);

// Why a build of `backend` cannot run on `device`, or nullopt when it can (or
// nothing can be told):
//   "CUDA capability 8.6 of the current device is not supported by the
//    architectures of the build: 9.0a, 10.0f"
std::optional<std::string> arch_incompatibility(const metadata::BackendInfo& backend, const DeviceArch& device);

// The refusal a loader raises for arch_incompatibility (Python: RuntimeError):
// names the kernel, the variant, the reason and check_arch=False.
std::string arch_refusal_message(const std::string& kernel_name, const std::string& variant, const std::string& reason);

}  // namespace kb::load
