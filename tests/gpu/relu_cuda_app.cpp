// Loads a relu kernel built by kb into this libtorch program with
// kb::runtime and calls its op on CUDA tensors (tests/gpu/run-on-device.sh;
// examples/cpp-app runs on CPU tensors only).
//   relu_cuda_app --path KERNEL_PATH --expect VARIANT [--no-gpu]
//   relu_cuda_app --hub ORG/NAME --version N --expect VARIANT [--no-gpu]
// --hub loads through kb::runtime::get_kernel (LOCAL_KERNELS or KB_HUB from
// the environment). --no-gpu (a rehearsal without a device) stops after the
// load. Exits 0 when every check passes, 1 on a failed check, 2 on a usage
// error, 77 when no CUDA device is visible and --no-gpu was not given.
#include <torch/torch.h>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kb/runtime.h"

namespace {

int fail(const std::string& message) {
  std::cerr << "relu_cuda_app: FAIL: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string path, hub, expect;
  std::optional<int> version;
  bool gpu = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--path" && has_value)
      path = args[++i];
    else if (a == "--hub" && has_value)
      hub = args[++i];
    else if (a == "--version" && has_value)
      version = std::stoi(args[++i]);
    else if (a == "--expect" && has_value)
      expect = args[++i];
    else if (a == "--no-gpu")
      gpu = false;
    else {
      std::cerr << "usage: relu_cuda_app (--path DIR | --hub ID --version N) --expect VARIANT [--no-gpu]\n";
      return 2;
    }
  }
  try {
    std::cout << "environment: " << kb::runtime::libtorch_environment().describe() << std::endl;
    const kb::runtime::LoadedKernel* kernel = nullptr;
    if (!hub.empty()) {
      kb::runtime::LoadOptions options;
      options.version = version;
      kernel = &kb::runtime::get_kernel(hub, options);
      if (kernel->repo_info)
        std::cout << "from: " << kernel->repo_info->repo_id << " at " << kernel->repo_info->revision << "\n";
    } else {
      kernel = &kb::runtime::load_local_kernel(path);
    }
    for (const auto& w : kernel->warnings) std::cerr << "warning: " << w << "\n";
    std::cout << "variant: " << kernel->variant_name() << "\nlibrary: " << kernel->library.string()
              << "\nnamespace: " << kernel->ops_namespace << "\nops:";
    for (const auto& o : kernel->ops) std::cout << " " << o;
    std::cout << std::endl;
    if (!expect.empty() && kernel->variant_name() != expect)
      return fail("loaded " + kernel->variant_name() + ", expected " + expect);

    if (!gpu) {
      std::cout << "rehearsal: CUDA tensor checks skipped\n";
      return 0;
    }
    if (!torch::cuda::is_available()) {
      std::cout << "no CUDA device visible: CUDA tensor checks skipped\n";
      return 77;
    }
    std::cout << "cuda devices: " << static_cast<int>(torch::cuda::device_count()) << std::endl;
    auto relu = kb::runtime::op(*kernel, "relu").typed<void(at::Tensor&, const at::Tensor&)>();
    torch::manual_seed(0);
    for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16}) {
      for (int64_t n : {int64_t{1024}, int64_t{4097}, int64_t{1} << 22}) {
        torch::Tensor x = (torch::randn({n}, torch::device(torch::kCUDA)) * 4).to(dtype);
        torch::Tensor out = torch::full_like(x, 7);
        relu.call(out, x);
        torch::cuda::synchronize();
        if (!out.is_cuda() || !torch::equal(out, torch::relu(x)))
          return fail("relu differs from torch::relu for " + std::to_string(n) + " x " +
                      std::string(c10::toString(dtype)));
      }
    }
    std::cout << "relu on cuda (float/half/bfloat16, 1024..4M elements) matches torch::relu" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
