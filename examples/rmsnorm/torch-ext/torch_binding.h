#pragma once

#include <torch/all.h>

// RMS normalisation over the last dimension, as Llama-style models use it:
//   out = weight * (input / sqrt(mean(input^2) + eps))
// computed in float (double for double input). `out` has the shape and dtype
// of `input`; `weight` has one element per entry of the last dimension.
void rms_norm(torch::Tensor &out, torch::Tensor const &input, torch::Tensor const &weight, double eps);

// Gradients of rms_norm for `grad_out`: written to `grad_input` (shape of
// input) and `grad_weight` (shape of weight).
void rms_norm_backward(torch::Tensor &grad_input, torch::Tensor &grad_weight, torch::Tensor const &grad_out,
                       torch::Tensor const &input, torch::Tensor const &weight, double eps);
