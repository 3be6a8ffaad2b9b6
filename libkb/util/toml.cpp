#include "libkb/util/toml.h"

#include "libkb/util/error.h"

namespace kb {

std::string toml_position(const std::string& source, const toml::source_position& where) {
  auto line = where.line ? where.line : 1;
  auto column = where.column ? where.column : 1;
  return source + ":" + std::to_string(line) + ":" + std::to_string(column);
}

toml::table parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw Error(toml_position(source, e.source().begin) + ": invalid TOML: " + std::string(e.description()));
  }
}

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::array: return "array";
    case toml::node_type::table: return "table";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

}  // namespace kb
