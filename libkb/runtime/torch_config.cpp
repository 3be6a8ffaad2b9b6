#include "libkb/runtime/torch_config.h"

#include <cctype>

#include "libkb/util/strings.h"

namespace kb::runtime {

namespace {

constexpr std::string_view kSettings = "Build settings:";

// Length of the "KEY=" that starts at `pos` (KEY: [A-Z][A-Z0-9_]*), or 0.
size_t key_length(std::string_view line, size_t pos) {
  size_t i = pos;
  if (i >= line.size() || !std::isupper(static_cast<unsigned char>(line[i]))) return 0;
  while (i < line.size() && (std::isupper(static_cast<unsigned char>(line[i])) ||
                             std::isdigit(static_cast<unsigned char>(line[i])) || line[i] == '_'))
    ++i;
  return i < line.size() && line[i] == '=' ? i - pos + 1 : 0;
}

bool is_on(const std::map<std::string, std::string>& settings, const std::string& key) {
  auto it = settings.find(key);
  if (it == settings.end()) return false;
  std::string v = to_lower(trim(it->second));
  return v == "1" || v == "on" || v == "true" || v == "yes";
}

std::optional<std::string> non_empty(const std::map<std::string, std::string>& settings, const std::string& key) {
  auto it = settings.find(key);
  if (it == settings.end() || trim(it->second).empty()) return std::nullopt;
  return trim(it->second);
}

}  // namespace

std::map<std::string, std::string> parse_build_settings(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t at = text.find(kSettings);
  if (at == std::string_view::npos) return out;
  std::string_view line = text.substr(at + kSettings.size());
  line = line.substr(0, line.find('\n'));
  // Entry starts: the first key, then every ", KEY=".
  size_t pos = line.find_first_not_of(' ');
  while (pos != std::string_view::npos && pos < line.size()) {
    size_t klen = key_length(line, pos);
    if (klen == 0) break;
    size_t value_start = pos + klen;
    size_t next = std::string_view::npos;
    for (size_t c = line.find(", ", value_start); c != std::string_view::npos; c = line.find(", ", c + 1))
      if (key_length(line, c + 2) > 0) {
        next = c;
        break;
      }
    std::string value = trim(line.substr(value_start, next == std::string_view::npos ? std::string_view::npos
                                                                                      : next - value_start));
    // The line ends with ", " after the last entry.
    if (next == std::string_view::npos && ends_with(value, ",")) value = trim(value.substr(0, value.size() - 1));
    out[std::string(line.substr(pos, klen - 1))] = value;
    pos = next == std::string_view::npos ? next : next + 2;
  }
  return out;
}

std::optional<resolve::TorchFacts> torch_facts_from_build_settings(const std::map<std::string, std::string>& settings,
                                                                   bool cxx11_abi) {
  auto version = non_empty(settings, "TORCH_VERSION");
  if (!version) return std::nullopt;
  resolve::TorchFacts facts;
  facts.version = *version;
  facts.cxx11_abi = cxx11_abi;
  if (is_on(settings, "USE_CUDA")) facts.cuda = non_empty(settings, "CUDA_VERSION");
  if (is_on(settings, "USE_ROCM")) facts.hip = non_empty(settings, "ROCM_VERSION");
  if (is_on(settings, "USE_XPU")) facts.xpu = non_empty(settings, "SYCL_COMPILER_VERSION");
  return facts;
}

}  // namespace kb::runtime
