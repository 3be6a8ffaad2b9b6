// kb-card: render a kernel's card template (CARD.md) as the README.md of its
// hub repository (`kb card`, the existing tool's `fill-card`).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "libkb/card/card.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{
      "Render KERNEL_DIR/CARD.md, a Jinja template (trim_blocks), to OUTPUT or stdout.\n"
      "Context: repo_id ([general.hub] repo-id, required), version, license (lowercased),\n"
      "functions (the top-level __all__ of the Python module, without \"layers\"), layers\n"
      "(top-level classes of <module>/layers, when __all__ lists \"layers\"), has_benchmark\n"
      "(benchmarks/benchmark.py exists), upstream and source (normalised git URLs).",
      "kb-card"};
  std::string kernel_dir = ".";
  std::optional<std::string> output;
  app.add_option("KERNEL_DIR", kernel_dir, "Kernel directory (default: .)");
  app.add_option("OUTPUT", output, "Write the card to this file (default: stdout)");
  kb::tools::ToolRun run("kb-card");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    std::error_code ec;
    if (!fs::is_directory(kernel_dir, ec)) throw kb::Error("`" + kernel_dir + "` is not a directory");
    std::string card = kb::card::render_card(kernel_dir);
    if (output) {
      kb::write_file_atomic(*output, card);
      std::cerr << "Generated " << *output << "\n";
    } else {
      std::cout << card << std::flush;
    }
    return 0;
  });
}
