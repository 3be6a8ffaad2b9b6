// Loads a kernel built by kb (default: examples/relu) into this libtorch
// program and calls its relu op through the torch dispatcher, no Python.
//   kb-cpp-app-example [KERNEL_PATH]
// KERNEL_PATH: a kernel directory holding build/, a build/ directory or one
// variant directory. Exits 1 when the result differs from torch::relu.
#include <torch/torch.h>

#include <iostream>
#include <sstream>

#include "kb/runtime.h"

namespace {

std::string values(const torch::Tensor& t) {
  std::ostringstream out;
  torch::Tensor flat = t.contiguous().to(torch::kCPU, torch::kFloat).flatten();
  for (int64_t i = 0; i < flat.numel(); ++i) out << (i ? " " : "") << flat[i].item<float>();
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : KB_DEFAULT_KERNEL;
  try {
    std::cout << "environment: " << kb::runtime::libtorch_environment().describe() << "\n";
    const kb::runtime::LoadedKernel& kernel = kb::runtime::load_local_kernel(path);
    for (const auto& w : kernel.warnings) std::cerr << "warning: " << w << "\n";
    std::cout << "variant: " << kernel.variant_name() << "\n"
              << "namespace: " << kernel.ops_namespace << "\n";

    torch::Tensor input = torch::linspace(-2, 2, 9);
    torch::Tensor output = torch::empty_like(input);
    // The schema is relu(Tensor! out, Tensor input) -> (): the kernel writes into `out`.
    kb::runtime::op(kernel, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(output, input);

    std::cout << "input: " << values(input) << "\n" << "output: " << values(output) << "\n";
    if (!torch::equal(output, torch::relu(input))) {
      std::cerr << "error: the kernel's relu differs from torch::relu\n";
      return 1;
    }
    std::cout << "relu matches torch::relu\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
