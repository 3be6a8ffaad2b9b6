// Kernel cards: CARD.md as a Jinja template rendered with a card's context,
// and the Python sources the context is read from (__all__, class names).
#include "fuzz/fuzz_support.h"
#include "libkb/card/card.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  std::string_view source = fuzz::text(data, size);
  static const card::Context context = {
      {"repo_id", std::string("kernels-community/relu")},
      {"version", int64_t{1}},
      {"license", std::string("apache-2.0")},
      {"functions", std::vector<std::string>{"relu", "gelu"}},
      {"layers", std::vector<std::string>{"ReLU"}},
      {"has_benchmark", true},
  };
  fuzz::accepted([&] { templates::render_template(source, context, "CARD.md"); });
  card::python_all_names(source);
  card::python_class_names(source);
  return 0;
}
