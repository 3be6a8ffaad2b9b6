#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/all.h>

#include <algorithm>
#include <cstdint>

namespace {

// Grid-stride loop: a bounded grid covers any number of elements. No
// __restrict__, because out may be input itself (in place).
template <typename scalar_t>
__global__ void relu_kernel(scalar_t *out, const scalar_t *input, int64_t n) {
  // Compare in the op-math type (float for half and bfloat16): exact, and
  // false for NaN, so NaN passes through like torch.relu.
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const scalar_t v = input[i];
    out[i] = static_cast<opmath_t>(v) < opmath_t(0) ? scalar_t(0) : v;
  }
}

constexpr int kThreadsPerBlock = 256;

}  // namespace

void relu(torch::Tensor &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cuda(), "relu: input must be a CUDA tensor, got ", input.device());
  TORCH_CHECK(out.device() == input.device(), "relu: out is on ", out.device(), " but input is on ",
              input.device());
  TORCH_CHECK(out.scalar_type() == input.scalar_type(), "relu: out has dtype ", out.scalar_type(),
              " but input has dtype ", input.scalar_type());
  TORCH_CHECK(out.sizes() == input.sizes(), "relu: out has shape ", out.sizes(), " but input has shape ",
              input.sizes());
  TORCH_CHECK(input.is_contiguous(), "relu: input must be contiguous");
  TORCH_CHECK(out.is_contiguous(), "relu: out must be contiguous");

  const int64_t n = input.numel();
  if (n == 0) {
    return;
  }

  const at::cuda::OptionalCUDAGuard device_guard(input.device());
  const int max_blocks = at::cuda::getCurrentDeviceProperties()->multiProcessorCount * 8;
  const int64_t needed_blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int blocks = static_cast<int>(std::min<int64_t>(needed_blocks, max_blocks));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(), "relu_cuda", [&] {
    relu_kernel<scalar_t><<<blocks, kThreadsPerBlock, 0, stream>>>(out.data_ptr<scalar_t>(),
                                                                   input.data_ptr<scalar_t>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
