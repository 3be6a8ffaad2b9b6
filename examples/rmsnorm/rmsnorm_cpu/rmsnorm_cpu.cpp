#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/all.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include "torch_binding.h"

namespace {

// Rows per parallel task.
constexpr int64_t kGrainRows = 16;

void check_shapes(const char *op, torch::Tensor const &out, torch::Tensor const &input, torch::Tensor const &weight) {
  TORCH_CHECK(input.dim() >= 1, op, ": input must have at least one dimension");
  TORCH_CHECK(weight.dim() == 1 && weight.size(0) == input.size(-1), op, ": weight has shape ", weight.sizes(),
              " but the last dimension of input is ", input.size(-1));
  TORCH_CHECK(out.sizes() == input.sizes(), op, ": out has shape ", out.sizes(), " but input has shape ",
              input.sizes());
  TORCH_CHECK(out.scalar_type() == input.scalar_type() && weight.scalar_type() == input.scalar_type(), op,
              ": input, weight and out must share a dtype (", input.scalar_type(), ", ", weight.scalar_type(), ", ",
              out.scalar_type(), ")");
}

void check_cpu(const char *op, std::initializer_list<const torch::Tensor *> tensors) {
  for (const torch::Tensor *t : tensors) TORCH_CHECK(t->device().is_cpu(), op, ": tensors must be on the CPU");
}

// 1 / sqrt(mean(x^2) + eps) of one row, in the op-math type.
template <typename scalar_t, typename acc_t = at::opmath_type<scalar_t>>
acc_t inverse_rms(const scalar_t *x, int64_t n, double eps) {
  acc_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<acc_t>(x[i]) * static_cast<acc_t>(x[i]);
  return acc_t(1) / std::sqrt(sum / static_cast<acc_t>(n) + static_cast<acc_t>(eps));
}

// The output goes through the input dtype before the weight multiplies it,
// as in the reference layer (normalise in float, cast, then scale).
template <typename scalar_t>
void forward_rows(scalar_t *out, const scalar_t *x, const scalar_t *w, int64_t rows, int64_t n, double eps) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, rows, kGrainRows, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t *xr = x + r * n;
      scalar_t *yr = out + r * n;
      acc_t inv = inverse_rms(xr, n, eps);
      for (int64_t i = 0; i < n; ++i) {
        scalar_t normalized = static_cast<scalar_t>(static_cast<acc_t>(xr[i]) * inv);
        yr[i] = static_cast<scalar_t>(static_cast<acc_t>(w[i]) * static_cast<acc_t>(normalized));
      }
    }
  });
}

// y_i = w_i x_i r with r = (mean(x^2) + eps)^-1/2:
//   dx_j = r w_j g_j - x_j r^3 / n * sum_i g_i w_i x_i
//   dw_i = sum over rows of g_i x_i r
template <typename scalar_t>
void backward_rows(scalar_t *grad_x, scalar_t *grad_w, const scalar_t *g, const scalar_t *x, const scalar_t *w,
                   int64_t rows, int64_t n, double eps) {
  using acc_t = at::opmath_type<scalar_t>;
  std::vector<acc_t> grad_w_total(n, acc_t(0));
  std::mutex merge;
  at::parallel_for(0, rows, kGrainRows, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> grad_w_part(n, acc_t(0));
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t *xr = x + r * n;
      const scalar_t *gr = g + r * n;
      scalar_t *dxr = grad_x + r * n;
      acc_t inv = inverse_rms(xr, n, eps);
      acc_t dot = 0;
      for (int64_t i = 0; i < n; ++i)
        dot += static_cast<acc_t>(gr[i]) * static_cast<acc_t>(w[i]) * static_cast<acc_t>(xr[i]);
      acc_t scale = inv * inv * inv * dot / static_cast<acc_t>(n);
      for (int64_t i = 0; i < n; ++i) {
        acc_t xi = static_cast<acc_t>(xr[i]);
        dxr[i] = static_cast<scalar_t>(inv * static_cast<acc_t>(w[i]) * static_cast<acc_t>(gr[i]) - xi * scale);
        grad_w_part[i] += static_cast<acc_t>(gr[i]) * xi * inv;
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    for (int64_t i = 0; i < n; ++i) grad_w_total[i] += grad_w_part[i];
  });
  for (int64_t i = 0; i < n; ++i) grad_w[i] = static_cast<scalar_t>(grad_w_total[i]);
}

}  // namespace

void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight, double eps) {
  check_cpu("rms_norm", {&out, &input, &weight});
  check_shapes("rms_norm", out, input, weight);
  const torch::Tensor x = input.contiguous();
  const torch::Tensor w = weight.contiguous();
  torch::Tensor y = out.is_contiguous() ? out : torch::empty_like(x, at::MemoryFormat::Contiguous);
  const int64_t n = x.size(-1);
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(), "rms_norm_cpu", [&] {
    forward_rows<scalar_t>(y.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), rows, n, eps);
  });
  if (!y.is_same(out)) out.copy_(y);
}

void rms_norm_backward(torch::Tensor &grad_input, torch::Tensor &grad_weight, torch::Tensor const &grad_out,
                       torch::Tensor const &input, torch::Tensor const &weight, double eps) {
  check_cpu("rms_norm_backward", {&grad_input, &grad_weight, &grad_out, &input, &weight});
  check_shapes("rms_norm_backward", grad_input, input, weight);
  TORCH_CHECK(grad_out.sizes() == input.sizes() && grad_out.scalar_type() == input.scalar_type(),
              "rms_norm_backward: grad_out must match input in shape and dtype");
  TORCH_CHECK(grad_weight.sizes() == weight.sizes() && grad_weight.scalar_type() == weight.scalar_type(),
              "rms_norm_backward: grad_weight must match weight in shape and dtype");
  const torch::Tensor x = input.contiguous();
  const torch::Tensor w = weight.contiguous();
  const torch::Tensor g = grad_out.contiguous();
  torch::Tensor dx = grad_input.is_contiguous() ? grad_input : torch::empty_like(x, at::MemoryFormat::Contiguous);
  torch::Tensor dw = grad_weight.is_contiguous() ? grad_weight : torch::empty_like(w, at::MemoryFormat::Contiguous);
  const int64_t n = x.size(-1);
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(),
                                  "rms_norm_backward_cpu", [&] {
                                    backward_rows<scalar_t>(dx.data_ptr<scalar_t>(), dw.data_ptr<scalar_t>(),
                                                            g.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                                                            w.data_ptr<scalar_t>(), rows, n, eps);
                                  });
  if (!dx.is_same(grad_input)) grad_input.copy_(dx);
  if (!dw.is_same(grad_weight)) grad_weight.copy_(dw);
}
