#pragma once
// Internal to libkb/config: strict reading of a parsed TOML tree. Every
// failure throws kb::Error positioned as "<file>:<line>:<col>: [<table>] <message>".
#include <toml++/toml.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/config/config.h"

namespace kb::config::detail {

struct ReadContext {
  std::string source;  // file name used in messages
  int edition = 6;     // schema being applied: 6, 5, 4 or 3
};

// `table_path` empty: the document root, no "[...]" part in the message.
[[noreturn]] void fail_at(const ReadContext& ctx, const toml::source_position& where,
                          std::string_view table_path, std::string_view message);

// A did-you-mean candidate for a misspelt `word`: kb::closest_match, plus
// single swaps of adjacent letters ("torhc" -> "torch"). Empty when none fits.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

// "string", "integer", "float", "boolean", "array", "table", "date", "time", "date-time".
std::string type_name(const toml::node& node);

class TableReader {
 public:
  TableReader(const ReadContext& ctx, const toml::table& table, std::string path)
      : ctx_(&ctx), table_(&table), path_(std::move(path)) {}

  const toml::table& table() const { return *table_; }
  const std::string& path() const { return path_; }
  const ReadContext& context() const { return *ctx_; }
  const toml::node* get(std::string_view key) const { return table_->get(key); }
  bool has(std::string_view key) const { return table_->contains(key); }
  std::string child_path(std::string_view key) const;

  [[noreturn]] void fail(const toml::node& at, std::string_view message) const;
  [[noreturn]] void fail_header(std::string_view message) const { fail(*table_, message); }

  // Rejects any key outside `allowed`, reporting the first one in the file.
  // `explain` may return extra words on why a key is not allowed here; when
  // it returns nothing, a did-you-mean suggestion is offered instead.
  using Explain = std::function<std::string(std::string_view key)>;
  void deny_unknown_keys(const std::vector<std::string>& allowed,
                         const Explain& explain = {}) const;

  const toml::node& require(std::string_view key) const;

  std::optional<std::string> opt_string(std::string_view key) const;
  std::string req_string(std::string_view key) const;
  std::optional<uint64_t> opt_uint(std::string_view key) const;
  uint64_t req_uint(std::string_view key) const;
  std::optional<std::vector<std::string>> opt_strings(std::string_view key) const;
  std::vector<std::string> req_strings(std::string_view key) const;
  std::vector<std::string> strings(std::string_view key) const;
  std::optional<Version> opt_version(std::string_view key) const;
  Version version_value(const toml::node& node, std::string_view key) const;
  std::optional<GitUrl> opt_git_url(std::string_view key) const;
  std::optional<TableReader> opt_table(std::string_view key) const;
  // Array of { repo-id = "...", version = N | revision = "..." }.
  std::optional<std::vector<KernelDependency>> opt_kernel_depends(std::string_view key) const;

  // Each element of a string array with its node, for per-element checks.
  std::vector<std::pair<std::string, const toml::node*>> string_elements(
      std::string_view key) const;

 private:
  const ReadContext* ctx_;
  const toml::table* table_;
  std::string path_;
};

// A document read against the schema of ctx.edition (3, 4, 5 or 6). For
// edition 3 the legacy defaults apply (version 1, empty [torch-noarch]) and
// `license_given` tells whether the migration can succeed.
struct ReadResult {
  BuildConfig config;
  bool license_given = true;
};
ReadResult read_document(const toml::table& root, const ReadContext& ctx);

}  // namespace kb::config::detail
