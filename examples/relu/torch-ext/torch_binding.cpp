#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

// One schema for every build; the implementation registered is the one of the
// backend this variant is compiled for (exactly one *_KERNEL is defined).
TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("relu(Tensor! out, Tensor input) -> ()");
#if defined(CPU_KERNEL)
  ops.impl("relu", torch::kCPU, &relu);
#elif defined(CUDA_KERNEL) || defined(ROCM_KERNEL)
  ops.impl("relu", torch::kCUDA, &relu);
#else
#error "relu has kernels for the cpu and cuda backends only"
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
