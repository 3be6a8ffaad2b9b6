#pragma once

#include <torch/all.h>

// out = max(input, 0) element-wise. `out` must have the shape, dtype and
// device of `input`; it may be `input` itself (in place).
void relu(torch::Tensor &out, torch::Tensor const &input);
