#pragma once
// Spelling values and keys as TOML text, for libkb's TOML writers (build.toml
// updates, the scaffold).
#include <string>
#include <string_view>

namespace kb::config::detail {

// A TOML basic string literal: "text" with escapes.
std::string toml_string(std::string_view text);
// A key as written in a table header or path: bare when it can be, quoted otherwise.
std::string toml_key(std::string_view key);

}  // namespace kb::config::detail
