#include "libkb/template/placeholders.h"

#include "libkb/util/error.h"

namespace kb::templates {

namespace {

bool is_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

std::string substitute_placeholders(std::string_view text, const std::map<std::string, std::string>& vars,
                                    PlaceholderStyle style, std::string_view template_name) {
  const std::string_view d = style.delimiter;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(d, pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find(d, open + d.size());
    if (close == std::string_view::npos) {
      if (style.unknown_is_error)
        throw Error("template " + std::string(template_name) + ": unterminated placeholder at offset " +
                    std::to_string(open));
      break;
    }
    std::string_view key = text.substr(open + d.size(), close - open - d.size());
    auto it = is_key(key) ? vars.find(std::string(key)) : vars.end();
    if (it == vars.end()) {
      if (style.unknown_is_error)
        throw Error("template " + std::string(template_name) + ": unknown placeholder " + std::string(d) +
                    std::string(key) + std::string(d));
      // Not a placeholder: keep the opening delimiter; the closing one may open the next.
      out.append(text.substr(pos, open + d.size() - pos));
      pos = open + d.size();
      continue;
    }
    out.append(text.substr(pos, open - pos));
    out.append(it->second);
    pos = close + d.size();
  }
  out.append(text.substr(std::min(pos, text.size())));
  return out;
}

}  // namespace kb::templates
