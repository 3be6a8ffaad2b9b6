// kb-cache: what the kernel cache holds, and whether it is sound.
//   kb cache ls [--cache-dir DIR] [--json] [--show-warnings] [--no-truncate]
//   kb cache verify [--cache-dir DIR] [--repair] [--json]
// `ls` lists each cached kernel version (refs v<N>) with its size, times,
// build variants and whether its files still match the hub's hashes; the
// output is the one `kernels cache ls` prints (libkb/cache/listing.h).
// `verify` re-hashes every blob and checks the layout (libkb/cache/audit.h);
// `--repair` removes what is wrong so the next load fetches it again.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <iostream>

#include "libkb/cache/audit.h"
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

  CLI::App* verify = app.add_subcommand(
      "verify", "Re-hash every cached file and check the cache's layout; exit 1 when problems remain");
  kb::cache::CacheVerifyRequest verify_request;
  verify->add_option("--cache-dir", cache_dir, "Verify a specific cache directory");
  verify->add_flag("--repair", verify_request.repair,
                   "Remove what is corrupt, partial or dangling, so the next load fetches it again");
  verify->add_flag("--json", verify_request.json, "Print the report as JSON");

  kb::tools::ToolRun run("kb-cache");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    std::optional<fs::path> dir;
    if (!cache_dir.empty()) dir = fs::path(cache_dir);
    if (verify->parsed()) {
      verify_request.cache_dir = dir;
      verify_request.progress = ::isatty(STDERR_FILENO);
      kb::cache::CacheVerifyResult result = kb::cache::cache_verify(verify_request);
      std::cout << result.out << std::flush;
      std::cerr << result.err << std::flush;
      return result.exit_code;
    }
    request.cache_dir = dir;
    kb::cache::CacheLsResult result = kb::cache::cache_ls(request);
    std::cout << result.out << std::flush;
    std::cerr << result.err << std::flush;
    return result.exit_code;
  });
}
