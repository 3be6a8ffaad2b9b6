// Discovery of nvcc and its CUDA release.
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "libkb/toolchain/facts_cache.h"
#include "libkb/toolchain/toolchain.h"
#include "libkb/util/error.h"
#include "libkb/util/process.h"

namespace kb::toolchain {
namespace {

constexpr const char* kSection = "nvcc";

std::vector<fs::path> nvcc_candidates() {
  std::vector<fs::path> out;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* home = std::getenv(var); home && *home) out.push_back(fs::path(home) / "bin" / "nvcc");
  if (auto on_path = find_program("nvcc")) out.push_back(*on_path);
  out.push_back("/usr/local/cuda/bin/nvcc");
  return out;
}

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) && !fs::is_directory(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<Version> parse_nvcc_release(std::string_view output) {
  static const std::regex release(R"(release (\d+)\.(\d+))");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(output.begin(), output.end(), m, release)) return std::nullopt;
  return Version({std::stoull(m[1].str()), std::stoull(m[2].str())});
}

std::optional<Nvcc> discover_nvcc(const NvccOptions& options) {
  fs::path found;
  for (const auto& candidate : nvcc_candidates()) {
    if (is_executable_file(candidate)) {
      found = candidate;
      break;
    }
  }
  if (found.empty()) return std::nullopt;

  detail::FactsCache cache(options.cache_file.value_or(default_cache_file()));
  std::error_code ec;
  fs::path resolved = fs::canonical(found, ec);
  if (ec) resolved = found;
  const nlohmann::json context = nlohmann::json::object();
  Nvcc nvcc;
  nvcc.path = found;
  if (options.use_cache) {
    if (auto facts = cache.lookup(kSection, resolved.string(), context)) {
      if (auto it = facts->find("release"); it != facts->end() && it->is_string()) {
        try {
          nvcc.version = Version::parse(it->get<std::string>());
          nvcc.from_cache = true;
          return nvcc;
        } catch (const Error&) {
          // fall through and ask nvcc again
        }
      }
    }
  }
  ProcessResult result = run_process({.argv = {found.string(), "--version"}});
  auto release = result.ok() ? parse_nvcc_release(result.out) : std::nullopt;
  if (!release)
    throw Error("`" + found.string() + " --version` did not report a CUDA release (exit code " +
                std::to_string(result.exit_code) + ")");
  nvcc.version = *release;
  cache.store(kSection, resolved.string(), {resolved}, context, {{"release", release->major_minor()}});
  cache.save();
  return nvcc;
}

}  // namespace kb::toolchain
