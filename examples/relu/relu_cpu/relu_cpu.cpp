#include <ATen/Dispatch.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/all.h>

#include <cstdint>

namespace {

// Elements per parallel task: small tensors stay on one thread.
constexpr int64_t kGrainSize = 32768;
// Elements per block. Fixed-size blocks let the compiler turn each block into
// SIMD loads, compares and stores even at -O2.
constexpr int64_t kBlock = 16;

template <typename scalar_t>
inline scalar_t relu_one(scalar_t v) {
  // Compared in the op-math type (float for half and bfloat16), which is exact.
  // `v < 0` is false for NaN, so NaN passes through like torch.relu.
  using opmath_t = at::opmath_type<scalar_t>;
  return static_cast<opmath_t>(v) < opmath_t(0) ? scalar_t(0) : v;
}

template <typename scalar_t>
void relu_contiguous(scalar_t *dst, const scalar_t *src, int64_t n) {
  at::parallel_for(0, n, kGrainSize, [=](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + kBlock <= end; i += kBlock) {
      // The whole block is read before any of it is written, so dst == src
      // (in place) is safe.
      scalar_t block[kBlock];
      for (int64_t j = 0; j < kBlock; ++j) block[j] = src[i + j];
      for (int64_t j = 0; j < kBlock; ++j) dst[i + j] = relu_one(block[j]);
    }
    for (; i < end; ++i) dst[i] = relu_one(src[i]);
  });
}

}  // namespace

void relu(torch::Tensor &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cpu(), "relu: input must be a CPU tensor, got ", input.device());
  TORCH_CHECK(out.device().is_cpu(), "relu: out must be a CPU tensor, got ", out.device());
  TORCH_CHECK(out.scalar_type() == input.scalar_type(), "relu: out has dtype ", out.scalar_type(),
              " but input has dtype ", input.scalar_type());
  TORCH_CHECK(out.sizes() == input.sizes(), "relu: out has shape ", out.sizes(), " but input has shape ",
              input.sizes());

  const torch::Tensor src = input.contiguous();
  // Reading and writing the same element is safe, so out may be input itself;
  // any other overlap, or a strided out, goes through a temporary.
  const auto overlap = at::get_overlap_status(out, src);
  const bool direct = out.is_contiguous() && (overlap == at::MemOverlapStatus::No ||
                                              overlap == at::MemOverlapStatus::Full);
  torch::Tensor dst = direct ? out : torch::empty_like(src, at::MemoryFormat::Contiguous);

  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, src.scalar_type(), "relu_cpu", [&] {
    relu_contiguous<scalar_t>(dst.data_ptr<scalar_t>(), src.data_ptr<scalar_t>(), src.numel());
  });

  if (!direct) {
    out.copy_(dst);
  }
}
