#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()");
  ops.def(
      "rms_norm_backward(Tensor! grad_input, Tensor! grad_weight, Tensor grad_out, Tensor input, Tensor weight, "
      "float eps) -> ()");
#if defined(CPU_KERNEL)
  ops.impl("rms_norm", torch::kCPU, &rms_norm);
  ops.impl("rms_norm_backward", torch::kCPU, &rms_norm_backward);
#else
#error "rmsnorm has a kernel for the cpu backend only"
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
