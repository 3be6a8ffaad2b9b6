#include "libkb/config/toml_reader.h"

#include <algorithm>

#include "libkb/config/toml_text.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "libkb/util/toml.h"

namespace kb::config::detail {

namespace {

bool before(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

std::string dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

void fail_at(const ReadContext& ctx, const toml::source_position& where,
             std::string_view table_path, std::string_view message) {
  std::string text = toml_position(ctx.source, where) + ": ";
  if (!table_path.empty()) text += "[" + std::string(table_path) + "] ";
  text += message;
  throw Error(text);
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  if (std::string guess = closest_match(word, candidates); !guess.empty()) return guess;
  for (const auto& c : candidates) {
    if (c.size() != word.size()) continue;
    size_t first = 0;
    while (first < c.size() && c[first] == word[first]) ++first;
    if (first + 1 < c.size() && c[first] == word[first + 1] && c[first + 1] == word[first] &&
        c.substr(first + 2) == word.substr(first + 2))
      return c;
  }
  return {};
}

std::string type_name(const toml::node& node) { return toml_type_name(node); }

std::string TableReader::child_path(std::string_view key) const {
  return path_.empty() ? toml_key(key) : path_ + "." + toml_key(key);
}

void TableReader::fail(const toml::node& at, std::string_view message) const {
  fail_at(*ctx_, at.source().begin, path_, message);
}

void TableReader::deny_unknown_keys(const std::vector<std::string>& allowed,
                                    const Explain& explain) const {
  const toml::key* first = nullptr;
  const toml::node* first_value = nullptr;
  for (auto&& [key, value] : *table_) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
    if (!first || before(key.source().begin, first->source().begin)) {
      first = &key;
      first_value = &value;
    }
  }
  if (!first) return;
  std::string name(first->str());
  bool is_table = first_value->is_table();
  std::string message =
      is_table ? "unknown table [" + child_path(name) + "]" : "unknown key " + dq(name);
  std::string why = explain ? explain(name) : std::string();
  if (!why.empty()) {
    message += " (" + why + ")";
  } else if (std::string guess = suggest(name, allowed); !guess.empty()) {
    message += is_table ? " (did you mean [" + child_path(guess) + "]?)"
                        : " (did you mean " + dq(guess) + "?)";
  } else if (allowed.empty()) {
    message += "; this table takes no keys";
  } else {
    message += "; expected one of: " + join(allowed, ", ");
  }
  fail_at(*ctx_, first->source().begin, path_, message);
}

const toml::node& TableReader::require(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) fail_header("missing required key " + dq(key));
  return *node;
}

std::optional<std::string> TableReader::opt_string(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) fail(*node, dq(key) + " must be a string, found " + type_name(*node));
  return node->as_string()->get();
}

std::string TableReader::req_string(std::string_view key) const {
  require(key);
  return *opt_string(key);
}

std::optional<uint64_t> TableReader::opt_uint(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_integer())
    fail(*node, dq(key) + " must be a non-negative integer, found " + type_name(*node));
  int64_t value = node->as_integer()->get();
  if (value < 0)
    fail(*node, dq(key) + " must be a non-negative integer, found " + std::to_string(value));
  return static_cast<uint64_t>(value);
}

uint64_t TableReader::req_uint(std::string_view key) const {
  require(key);
  return *opt_uint(key);
}

std::vector<std::pair<std::string, const toml::node*>> TableReader::string_elements(
    std::string_view key) const {
  std::vector<std::pair<std::string, const toml::node*>> out;
  const toml::node* node = get(key);
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) fail(*node, dq(key) + " must be an array of strings, found " + type_name(*node));
  for (const toml::node& element : *array) {
    if (!element.is_string())
      fail(element, dq(key) + " must contain only strings, found " + type_name(element));
    out.emplace_back(element.as_string()->get(), &element);
  }
  return out;
}

std::optional<std::vector<std::string>> TableReader::opt_strings(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  std::vector<std::string> out;
  for (auto& [text, node] : string_elements(key)) out.push_back(text);
  return out;
}

std::vector<std::string> TableReader::req_strings(std::string_view key) const {
  require(key);
  return *opt_strings(key);
}

std::vector<std::string> TableReader::strings(std::string_view key) const {
  return opt_strings(key).value_or(std::vector<std::string>{});
}

Version TableReader::version_value(const toml::node& node, std::string_view key) const {
  if (!node.is_string())
    fail(node,
         dq(key) + " must be a version string in quotes (e.g. \"2.12\"), found " + type_name(node));
  const std::string& text = node.as_string()->get();
  // Edition 6 writes every version as exactly major.minor: "13" and "12.8.0" are refused.
  if (ctx_->edition >= 6) {
    size_t dot = text.find('.');
    auto digits = [](std::string_view part) {
      return !part.empty() && part.find_first_not_of("0123456789") == std::string_view::npos;
    };
    if (dot == std::string::npos || !digits(std::string_view(text).substr(0, dot)) ||
        !digits(std::string_view(text).substr(dot + 1)))
      fail(node, dq(key) + " must be a version of exactly two parts, major.minor (e.g. \"12.8\"), found " + dq(text));
  }
  try {
    return Version::parse(text);
  } catch (const Error& e) {
    fail(node, dq(key) + " is not a valid version: " + e.what());
  }
}

std::optional<Version> TableReader::opt_version(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  return version_value(*node, key);
}

std::optional<GitUrl> TableReader::opt_git_url(std::string_view key) const {
  std::optional<std::string> text = opt_string(key);
  if (!text) return std::nullopt;
  try {
    return parse_git_url(*text);
  } catch (const Error& e) {
    fail(*get(key), dq(key) + ": " + e.what());
  }
}

std::optional<TableReader> TableReader::opt_table(std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  if (!node->is_table()) fail(*node, dq(key) + " must be a table, found " + type_name(*node));
  return TableReader(*ctx_, *node->as_table(), child_path(key));
}

std::optional<std::vector<KernelDependency>> TableReader::opt_kernel_depends(
    std::string_view key) const {
  const toml::node* node = get(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array) fail(*node, dq(key) + " must be an array of tables, found " + type_name(*node));
  std::vector<KernelDependency> out;
  for (const toml::node& element : *array) {
    if (!element.is_table())
      fail(element,
           dq(key) +
               " entries must be tables like { repo-id = \"org/name\", version = 1 }, found " +
               type_name(element));
    TableReader entry(*ctx_, *element.as_table(), child_path(key));
    entry.deny_unknown_keys({"repo-id", "version", "revision"});
    KernelDependency dep;
    dep.repo_id = entry.req_string("repo-id");
    dep.version = entry.opt_uint("version");
    dep.revision = entry.opt_string("revision");
    if (dep.version && dep.revision)
      entry.fail_header("\"version\" and \"revision\" are mutually exclusive");
    if (!dep.version && !dep.revision)
      entry.fail_header("either \"version\" or \"revision\" must be specified");
    out.push_back(std::move(dep));
  }
  return out;
}

}  // namespace kb::config::detail
