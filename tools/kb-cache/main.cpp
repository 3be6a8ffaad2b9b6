// kb-cache: what the kernel cache holds.
//   kb cache ls [--cache-dir DIR] [--json] [--show-warnings] [--no-truncate]
// Lists each cached kernel version (refs v<N>) with its size, times, build
// variants and whether its files still match the hub's hashes; the output is
// the one `kernels cache ls` prints (both come from libkb/cache/listing.h).
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/cache/listing.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Inspect the kernel cache (KERNELS_CACHE, else the Hugging Face cache).", "kb-cache"};
  app.require_subcommand(1);
  CLI::App* ls = app.add_subcommand("ls", "List cached kernel versions and their build variants");
  std::string cache_dir;
  kb::cache::CacheLsRequest request;
  ls->add_option("--cache-dir", cache_dir, "Inspect a specific cache directory");
  ls->add_flag("--json", request.json, "Print cached kernel information as JSON");
  ls->add_flag("--show-warnings", request.show_warnings, "Show details of cache inconsistencies");
  ls->add_flag("--no-truncate", request.no_truncate, "Display full values regardless of terminal width");
  kb::tools::ToolRun run("kb-cache");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    if (!cache_dir.empty()) request.cache_dir = fs::path(cache_dir);
    kb::cache::CacheLsResult result = kb::cache::cache_ls(request);
    std::cout << result.out << std::flush;
    std::cerr << result.err << std::flush;
    return result.exit_code;
  });
}
