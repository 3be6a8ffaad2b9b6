#include "libkb/pipeline/scratch.h"

#include <string>

#include "libkb/util/dirs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"

namespace kb::pipeline {

namespace fs = std::filesystem;

namespace {

// A file name made of the kernel name: safe characters only, never empty,
// never "." or "..", and short enough to leave room for the hash.
std::string safe_name(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out += keep ? c : '_';
  }
  if (out.empty() || out.find_first_not_of('.') == std::string::npos) out = "kernel";
  return out;
}

}  // namespace

fs::path scratch_root() {
  std::string root = env_or("KB_SCRATCH_DIR", "");
  if (!root.empty()) return fs::absolute(root).lexically_normal();
  return user_cache_dir() / "kb" / "scratch";
}

fs::path scratch_dir(const fs::path& kernel_dir, std::string_view kernel_name) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(fs::absolute(kernel_dir), ec);
  if (ec) canonical = fs::absolute(kernel_dir).lexically_normal();
  std::string digest = to_hex(sha256_bytes(canonical.string())).substr(0, 12);
  return scratch_root() / (safe_name(kernel_name) + "-" + digest);
}

fs::path scratch_project_dir(const fs::path& scratch) { return scratch / "project"; }

fs::path scratch_cmake_dir(const fs::path& scratch, std::string_view variant) {
  return scratch / "cmake" / std::string(variant);
}

}  // namespace kb::pipeline
