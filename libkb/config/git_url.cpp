#include <algorithm>
#include <cctype>

#include "libkb/config/config.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::config {

namespace {

const std::vector<std::string>& allowed_schemes() {
  static const std::vector<std::string> schemes = {"https",   "http",      "git",     "ssh",
                                                   "git+ssh", "git+https", "git+http"};
  return schemes;
}

bool valid_scheme_syntax(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

[[noreturn]] void invalid(std::string_view text) {
  throw Error("invalid git URL `" + std::string(text) + "`");
}

// Host part of "user@host:port" / "[v6]:port"; empty when malformed.
std::string host_of_authority(std::string_view authority) {
  size_t at = authority.rfind('@');
  std::string_view hostport = at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return {};
    std::string_view rest = hostport.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' ||
                          rest.substr(1).find_first_not_of("0123456789") != std::string_view::npos))
      return {};
    return std::string(hostport.substr(0, close + 1));
  }
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    if (hostport.substr(colon + 1).find_first_not_of("0123456789") != std::string_view::npos)
      return {};
    hostport = hostport.substr(0, colon);
  }
  return std::string(hostport);
}

}  // namespace

GitUrl parse_git_url(std::string_view text) {
  if (text.empty()) invalid(text);
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      invalid(text);

  size_t sep = text.find("://");
  if (sep != std::string_view::npos) {
    std::string_view scheme = text.substr(0, sep);
    if (!valid_scheme_syntax(scheme)) invalid(text);
    std::string lower = to_lower(scheme);
    const auto& allowed = allowed_schemes();
    if (std::find(allowed.begin(), allowed.end(), lower) == allowed.end())
      throw Error("unsupported scheme `" + lower + "` in git URL `" + std::string(text) +
                  "`, expected one of: " + join(allowed, ", "));
    std::string_view rest = text.substr(sep + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (host_of_authority(authority).empty()) invalid(text);
    return GitUrl{std::string(text), std::string(text)};
  }

  // SCP-like "[user@]host:path", recognised the way git does: a colon
  // before the first slash.
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) invalid(text);
  std::string_view host = text.substr(0, colon);
  std::string_view path = text.substr(colon + 1);
  if (host.empty() || host.find('/') != std::string_view::npos || path.empty() ||
      path.front() == '/')
    invalid(text);
  // "https:host/x" is a broken URL, not a host called "https".
  std::string lower_host = to_lower(host);
  const auto& allowed = allowed_schemes();
  if (lower_host == "file" ||
      std::find(allowed.begin(), allowed.end(), lower_host) != allowed.end())
    invalid(text);
  return GitUrl{std::string(text), "ssh://" + std::string(host) + "/" + std::string(path)};
}

}  // namespace kb::config
