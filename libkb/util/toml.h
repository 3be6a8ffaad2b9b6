#pragma once
// TOML reading shared by build.toml and pyproject.toml:
// syntax errors and messages positioned the same way everywhere.
#include <toml++/toml.h>

#include <string>
#include <string_view>

namespace kb {

// "<source>:<line>:<col>" of a parsed node (1:1 for nodes without a source).
std::string toml_position(const std::string& source, const toml::source_position& where);

// Parses `text`; a syntax error throws kb::Error
// "<source>:<line>:<col>: invalid TOML: <description>".
toml::table parse_toml(std::string_view text, const std::string& source);

// "string", "integer", "float", "boolean", "array", "table", "date", "time", "date-time".
std::string toml_type_name(const toml::node& node);

}  // namespace kb
