#pragma once
// Placeholder substitution for the files kb generates: `@KEY@` in the CMake
// and Python project templates, `@@key@@` in the `kb init` scaffold (whose
// files also carry Jinja `{{ }}` text for the card, left untouched). One
// scan over the text, so a substituted value is never scanned again.
#include <map>
#include <string>
#include <string_view>

namespace kb::templates {

struct PlaceholderStyle {
  std::string_view delimiter;  // "@" or "@@", on both sides of the key
  // Unknown keys: kept verbatim (CMake text has its own @VAR@ uses), or a
  // kb::Error naming the template and the placeholder.
  bool unknown_is_error = false;
};

inline constexpr PlaceholderStyle kProjectPlaceholders{"@", false};
inline constexpr PlaceholderStyle kScaffoldPlaceholders{"@@", true};

// `text` with each delimited key found in `vars` replaced by its value. Keys
// are letters, digits and '_'; other delimited text is not a placeholder. In
// the strict style an unterminated or unknown placeholder throws kb::Error
// "template NAME: ...".
std::string substitute_placeholders(std::string_view text, const std::map<std::string, std::string>& vars,
                                    PlaceholderStyle style, std::string_view template_name);

}  // namespace kb::templates
