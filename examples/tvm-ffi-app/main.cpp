// Loads a relu tvm-ffi kernel (such as tests/fixtures/kernels/relu-tvm-ffi,
// built) into this program and calls its functions `relu` and `numel` on a
// DLTensor over a float buffer, through tvm-ffi's C API: no torch, no Python.
//   kb-tvm-ffi-app-example KERNEL_PATH
//   kb-tvm-ffi-app-example --hub ORG/NAME (--version N | --revision REV) [--trust-remote-code]
// KERNEL_PATH: a kernel directory holding build/, a build/ directory or one
// tvm-ffi variant directory. Exits 1 when the result is wrong, 2 on a usage
// error.
#include <algorithm>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kb/tvm_ffi.h"

namespace tf = kb::runtime::tvm_ffi;

namespace {

const tf::LoadedKernel& load(const std::vector<std::string>& args) {
  if (args.empty()) throw std::invalid_argument("a kernel path or --hub ORG/NAME is needed");
  if (args[0] != "--hub") return tf::load_local_kernel(args[0]);
  if (args.size() < 2) throw std::invalid_argument("--hub needs a repository id");
  tf::LoadOptions options;
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
  return tf::get_kernel(args[1], options);
}

// A one-dimensional float32 CPU tensor over `data` (which it does not own).
DLTensor float_tensor(std::vector<float>& data, int64_t* shape) {
  *shape = static_cast<int64_t>(data.size());
  DLTensor t{};
  t.data = data.data();
  t.device = {kDLCPU, 0};
  t.ndim = 1;
  t.dtype = {kDLFloat, 32, 1};
  t.shape = shape;
  return t;
}

TVMFFIAny tensor_arg(DLTensor* t) {
  TVMFFIAny a{};
  a.type_index = kTVMFFIDLTensorPtr;
  a.v_ptr = t;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    std::cout << "environment: " << tf::environment().describe() << "\n";
    const tf::LoadedKernel& kernel = load(args);
    for (const auto& w : kernel.warnings) std::cerr << "warning: " << w << "\n";
    std::cout << "variant: " << kernel.variant_name() << "\n";
    std::string functions;
    for (const auto& f : kernel.functions) functions += (functions.empty() ? "" : ", ") + f;
    std::cout << "functions: " << functions << "\n";

    std::vector<float> input = {-2.0f, -1.0f, 0.0f, 1.0f, 2.0f}, output(input.size());
    int64_t in_shape = 0, out_shape = 0;
    DLTensor in = float_tensor(input, &in_shape), out = float_tensor(output, &out_shape);
    TVMFFIAny relu_args[] = {tensor_arg(&out), tensor_arg(&in)};
    tf::call(kernel, "relu", relu_args);  // relu(out, input): writes into out
    TVMFFIAny numel_args[] = {tensor_arg(&in)};
    TVMFFIAny numel = tf::call(kernel, "numel", numel_args);

    std::cout << "output:";
    for (float v : output) std::cout << " " << v;
    std::cout << "\nnumel: " << numel.v_int64 << "\n";
    for (size_t i = 0; i < input.size(); ++i)
      if (output[i] != std::max(input[i], 0.0f)) {
        std::cerr << "error: relu(" << input[i] << ") gave " << output[i] << "\n";
        return 1;
      }
    if (numel.type_index != kTVMFFIInt || numel.v_int64 != static_cast<int64_t>(input.size())) {
      std::cerr << "error: numel is not " << input.size() << "\n";
      return 1;
    }
    std::cout << "relu and numel are right\n";
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "usage: kb-tvm-ffi-app-example KERNEL_PATH | --hub ORG/NAME (--version N | --revision REV) "
                 "[--trust-remote-code]\nerror: "
              << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
