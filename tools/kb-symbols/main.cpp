// kb-symbols: writes build/<variant>/symbols.json, the public API of each
// built variant (functions with signatures, layers with their attributes),
// for `kernels describe-api`. It imports the variant with the interpreter it
// was built for; a variant that cannot be imported here is skipped with a
// warning, never failed.
//   kb-genproject . | kb-compile | kb-checkabi | kb-symbols | kb-metadata
//   kb-symbols [DIR] [--python PY]      every variant found in DIR
// In a stream it acts on variant-built (its "python", else --python, else the
// default interpreter with torch) and forwards it after writing, so
// kb-metadata's digest covers symbols.json.
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/events/events.h"
#include "libkb/events/fields.h"
#include "libkb/metadata/discover.h"
#include "libkb/runtime/variants_report.h"
#include "libkb/symbols/symbols.h"
#include "tools/support/tool_main.h"

namespace ev = kb::events;
namespace fs = std::filesystem;

namespace {

// The interpreter for a variant: the one it was built with, else --python,
// else the default one with torch (empty when there is none).
class Interpreters {
 public:
  explicit Interpreters(std::string option) : option_(std::move(option)) {}
  fs::path for_variant(const std::optional<std::string>& built_with) {
    if (built_with && !built_with->empty()) return *built_with;
    if (!option_.empty()) return option_;
    if (!default_) {
      auto found = kb::runtime::select_python(std::nullopt);
      default_ = found ? found->python : fs::path();
    }
    return *default_;
  }

 private:
  std::string option_;
  std::optional<fs::path> default_;
};

// Writes one variant's symbols.json; reports on stderr and, in a stream, as events.
void handle_variant(const std::string& variant, const fs::path& dir, const fs::path& python, ev::Writer* out) {
  kb::symbols::SymbolsResult result = kb::symbols::write_symbols(dir, python);
  if (result.skipped) {
    std::string message = "no symbols.json for " + variant + ": " + *result.skipped;
    std::cerr << "kb-symbols: " << variant << ": warning: " << message << "\n";
    if (out) out->warning(message, variant);
    return;
  }
  std::cerr << "kb-symbols: " << variant << ": " << result.functions << " function(s), " << result.layers << " layer(s)"
            << (result.written ? "" : " (unchanged)") << "\n";
  if (!out) return;
  ev::Json e = out->make("symbols-written");
  e["variant"] = variant;
  e["dir"] = dir.string();
  e["path"] = result.path.string();
  e["functions"] = result.functions;
  e["layers"] = result.layers;
  out->emit(e);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Write build/<variant>/symbols.json (the public functions and layers of each built variant, for\n"
      "`kernels describe-api`) by importing the variant with the interpreter it was built for.\n"
      "A variant that cannot be imported here is skipped with a warning.\n\n"
      "Without DIR and with a pipe on stdin it reads the kb event stream and writes the file for each\n"
      "variant-built event before forwarding it. With DIR it handles every variant found in\n"
      "DIR/result, DIR/build or DIR.",
      "kb-symbols"};
  std::string dir, python;
  app.add_option("DIR", dir, "Kernel directory (or a directory of variants)");
  app.add_option("--python", python,
                 "Interpreter for variants whose build did not record one (default: the first with torch)");
  kb::tools::ToolRun run("kb-symbols");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    Interpreters interpreters(python);
    if (dir.empty() && ev::stdin_is_stream()) {
      ev::Writer& out = run.begin_stream();
      int handled = 0;
      ev::PumpResult stream = ev::pump(std::cin, out, [&](const ev::Json& e) {
        if (ev::event_name(e) != ev::kVariantBuilt) return false;
        ev::VariantBuiltEvent built = ev::VariantBuiltEvent::from_json(e);
        handle_variant(built.variant, built.dir, interpreters.for_variant(ev::optional_string_field(e, "python")),
                       &out);
        ++handled;
        return false;  // forwarded now, after symbols.json is in place
      });
      out.finished(!stream.malformed, {{"variants", handled}});
      return !stream.malformed && !stream.upstream_failed ? 0 : 1;
    }
    kb::metadata::DiscoveredVariants found =
        kb::metadata::discover_variants(dir.empty() ? fs::path(".") : fs::path(dir));
    for (const fs::path& variant : found.variants)
      handle_variant(variant.filename().string(), variant, interpreters.for_variant(std::nullopt), nullptr);
    return 0;
  });
}
