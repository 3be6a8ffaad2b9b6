// The ELF fuzz target's seed: a shared library with what kb's readers look
// at (exported and undefined symbols, versioned libstdc++ references,
// a DT_NEEDED list, a torch-like mangled name).
#include <string>
#include <vector>

namespace at {
struct Tensor {
  int dummy;
};
}  // namespace at

extern "C" int kb_seed_exported(int x) { return x * 2; }

std::string kb_seed_name(const std::vector<int>& values) { return std::to_string(values.size()); }

void kb_seed_op(at::Tensor& out, const at::Tensor& in) { out.dummy = in.dummy + 1; }
