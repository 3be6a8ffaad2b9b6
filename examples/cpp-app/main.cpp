// Loads a relu kernel into this libtorch program and calls its relu op
// through the torch dispatcher, no Python.
//   kb-cpp-app-example [KERNEL_PATH]
//   kb-cpp-app-example --hub ORG/NAME (--version N | --revision REV) [--trust-remote-code]
// KERNEL_PATH (default: examples/relu): a kernel directory holding build/, a
// build/ directory or one variant directory. --hub fetches the kernel from
// the hub KB_HUB names (the Hugging Face Hub at HF_ENDPOINT by default) into
// the cache, as get_kernel does in Python. Exits 1 when the result differs
// from torch::relu, 2 on a usage error.
#include <torch/torch.h>

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kb/runtime.h"

namespace {

std::string values(const torch::Tensor& t) {
  std::ostringstream out;
  torch::Tensor flat = t.contiguous().to(torch::kCPU, torch::kFloat).flatten();
  for (int64_t i = 0; i < flat.numel(); ++i) out << (i ? " " : "") << flat[i].item<float>();
  return out.str();
}

// The kernel the command line names: a hub repository or a local path.
const kb::runtime::LoadedKernel& load(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "--hub") return kb::runtime::load_local_kernel(args.empty() ? KB_DEFAULT_KERNEL : args[0]);
  if (args.size() < 2) throw std::invalid_argument("--hub needs a repository id");
  kb::runtime::LoadOptions options;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--trust-remote-code") {
      options.trust_remote_code = true;
    } else if ((args[i] == "--version" || args[i] == "--revision") && i + 1 < args.size()) {
      if (args[i] == "--version")
        options.version = std::stoi(args[i + 1]);
      else
        options.revision = args[i + 1];
      ++i;
    } else {
      throw std::invalid_argument("unexpected argument: " + args[i]);
    }
  }
  const kb::runtime::LoadedKernel& kernel = kb::runtime::get_kernel(args[1], options);
  std::cout << "from: " << kernel.repo_info->repo_id << " at " << kernel.repo_info->revision << "\n";
  return kernel;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    std::cout << "environment: " << kb::runtime::libtorch_environment().describe() << "\n";
    const kb::runtime::LoadedKernel& kernel = load(args);
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
  } catch (const std::invalid_argument& e) {
    std::cerr << "usage: kb-cpp-app-example [KERNEL_PATH] | --hub ORG/NAME (--version N | --revision REV) "
                 "[--trust-remote-code]\nerror: "
              << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
