// kb-update-build (`kb update-build`): rewrites a kernel's build.toml of
// edition 3, 4 or 5 as edition 6, atomically; the conversion is libkb's
// (config::plan_build_update).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "libkb/config/config.h"
#include "libkb/util/error.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;

namespace {

std::string edition_name(int edition) {
  return edition >= 5 ? "edition " + std::to_string(edition) : "the legacy v" + std::to_string(edition) + " format";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Upgrade KERNEL_DIR/build.toml (edition 5, or the legacy v4/v3 formats) to edition 6 in place.\n"
      "The file is replaced atomically, and only when the whole new form reads back as the same\n"
      "configuration; on any error it is left untouched. A file that already is edition 6 is left\n"
      "alone. The new file is written in kb's layout: comments and the old formatting are NOT\n"
      "kept (the TOML library kb uses does not preserve them); use --dry-run to review first.\n"
      "Exit status: 0 done (or nothing to do), 1 invalid build.toml or, with --check, an\n"
      "upgrade is needed, 2 usage error.",
      "kb-update-build"};
  std::string kernel_dir = ".";
  bool dry_run = false, check = false;
  app.add_option("KERNEL_DIR", kernel_dir, "Kernel directory with build.toml (default: .)");
  app.add_flag("-n,--dry-run", dry_run, "Print the edition-6 build.toml on stdout; write nothing");
  app.add_flag("--check", check, "Write nothing; exit 1 when build.toml is not edition 6 yet");
  kb::tools::ToolRun run("kb-update-build");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    if (dry_run && check) throw kb::tools::UsageError("--dry-run and --check cannot be combined");
    std::error_code ec;
    if (!fs::is_directory(kernel_dir, ec)) throw kb::Error("`" + kernel_dir + "` is not a directory");
    fs::path file = fs::path(kernel_dir) / "build.toml";
    if (dry_run || check) {
      kb::config::UpdateBuildResult plan = kb::config::plan_build_update(kernel_dir);
      if (dry_run) std::cout << plan.text << std::flush;
      if (!plan.changed) {
        std::cerr << file.string() << " already is edition " << kb::config::kCurrentEdition << "\n";
        return 0;
      }
      std::cerr << file.string() << " uses " << edition_name(plan.from_edition)
                << "; `kb update-build` upgrades it to edition " << kb::config::kCurrentEdition << "\n";
      return check ? 1 : 0;
    }
    kb::config::UpdateBuildResult result = kb::config::update_build_file(kernel_dir);
    if (!result.changed) {
      std::cerr << file.string() << " already is edition " << kb::config::kCurrentEdition << ", left unchanged\n";
      return 0;
    }
    std::cerr << "Updated " << file.string() << " from " << edition_name(result.from_edition) << " to edition "
              << kb::config::kCurrentEdition << " (comments and formatting are not kept)\n";
    return 0;
  });
}
