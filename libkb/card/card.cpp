#include "libkb/card/card.h"

#include <cctype>

#include "libkb/util/fs.h"
#include "libkb/util/strings.h"

namespace kb::card {

namespace fs = std::filesystem;

namespace {

// ------------------------------------------------ a Python tokenizer, just enough
// to find top-level statements: strings (all prefixes, triple quotes),
// comments, bracket nesting, line continuations and statement boundaries.

struct PyToken {
  enum class Kind { Name, String, Number, Op, End };
  Kind kind = Kind::End;
  std::string text;         // String: the decoded value
  bool plain_str = false;   // String: a str literal (not bytes, not an f-string)
  bool top_level = false;   // first token of a statement at indentation 0
};

bool is_ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Decodes the escapes that matter for identifiers; unknown escapes stay as
// written, as Python keeps them.
std::string decode_escapes(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i];
      continue;
    }
    char e = body[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case '\n': break;  // line continuation inside the literal
      default:
        out += '\\';
        out += e;
    }
  }
  return out;
}

// std::nullopt when a string literal is never closed.
std::optional<std::vector<PyToken>> tokenize_python(std::string_view src) {
  std::vector<PyToken> out;
  size_t i = 0, line_start = 0;
  int depth = 0;
  bool stmt_start = true;    // the next token starts a statement
  bool line_begins = true;   // ... and is the first of its logical line
  bool line_top = false;     // the current logical line starts at column 0
  auto end_statement = [&] {
    if (!out.empty() && out.back().kind != PyToken::Kind::End) out.push_back({PyToken::Kind::End, "", false, false});
    stmt_start = true;
  };
  auto push = [&](PyToken t, size_t at) {
    if (stmt_start && depth == 0) {
      if (line_begins) {
        line_top = at == line_start;
        line_begins = false;
      }
      t.top_level = line_top;
    }
    stmt_start = false;
    out.push_back(std::move(t));
  };
  while (i < src.size()) {
    unsigned char c = static_cast<unsigned char>(src[i]);
    if (c == '\n') {
      ++i;
      line_start = i;
      if (depth == 0) {
        end_statement();
        line_begins = true;
      }
      continue;
    }
    if (c == '\\' && i + 1 < src.size() && (src[i + 1] == '\n' || src[i + 1] == '\r')) {
      i += src[i + 1] == '\r' && i + 2 < src.size() && src[i + 2] == '\n' ? 3 : 2;
      line_start = i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < src.size() && src[i] != '\n') ++i;
      continue;
    }
    size_t start = i;
    if (is_ident_char(c) && !std::isdigit(c)) {
      while (i < src.size() && is_ident_char(static_cast<unsigned char>(src[i]))) ++i;
      std::string word(src.substr(start, i - start));
      std::string prefix = to_lower(word);
      bool string_prefix = prefix == "r" || prefix == "u" || prefix == "b" || prefix == "f" || prefix == "rb" ||
                           prefix == "br" || prefix == "fr" || prefix == "rf";
      if (!(string_prefix && i < src.size() && (src[i] == '"' || src[i] == '\''))) {
        push({PyToken::Kind::Name, word, false, false}, start);
        continue;
      }
      c = static_cast<unsigned char>(src[i]);  // a prefixed string: fall through
    }
    if (c == '"' || c == '\'') {
      std::string prefix = to_lower(src.substr(start, i - start));
      bool raw = prefix.find('r') != std::string::npos;
      char q = static_cast<char>(c);
      bool triple = src.compare(i, 3, std::string(3, q)) == 0;
      size_t body = i + (triple ? 3 : 1), j = body;
      bool closed = false;
      while (j < src.size()) {
        if (src[j] == '\\') {
          j += 2;
        } else if (!triple && src[j] == '\n') {
          break;
        } else if (triple ? src.compare(j, 3, std::string(3, q)) == 0 : src[j] == q) {
          closed = true;
          break;
        } else {
          ++j;
        }
      }
      if (!closed) return std::nullopt;
      std::string_view text = src.substr(body, j - body);
      for (size_t k = body; k < j; ++k)
        if (src[k] == '\n') line_start = k + 1;
      PyToken t{PyToken::Kind::String, raw ? std::string(text) : decode_escapes(text), false, false};
      t.plain_str = prefix.find('b') == std::string::npos && prefix.find('f') == std::string::npos;
      push(std::move(t), start);
      i = j + (triple ? 3 : 1);
      continue;
    }
    if (std::isdigit(c) || (c == '.' && i + 1 < src.size() && std::isdigit(static_cast<unsigned char>(src[i + 1])))) {
      while (i < src.size() && (is_ident_char(static_cast<unsigned char>(src[i])) || src[i] == '.')) ++i;
      push({PyToken::Kind::Number, std::string(src.substr(start, i - start)), false, false}, start);
      continue;
    }
    // Operators: one character, or two when followed by '=' ("==", "+=", ...)
    // so that `__all__ += [...]` is not mistaken for an assignment.
    std::string op(1, static_cast<char>(c));
    ++i;
    if (i < src.size() && src[i] == '=' && std::string_view("=!<>+-*/%&|^@:").find(static_cast<char>(c)) != std::string_view::npos)
      op += src[i++];
    if (op == "(" || op == "[" || op == "{") {
      push({PyToken::Kind::Op, op, false, false}, start);
      ++depth;
    } else if (op == ")" || op == "]" || op == "}") {
      depth = depth > 0 ? depth - 1 : 0;
      push({PyToken::Kind::Op, op, false, false}, start);
    } else if (op == ";" && depth == 0) {
      end_statement();
    } else {
      push({PyToken::Kind::Op, op, false, false}, start);
    }
  }
  end_statement();
  return out;
}

bool is_op(const PyToken& t, std::string_view op) { return t.kind == PyToken::Kind::Op && t.text == op; }

// The string items of the list literal whose '[' is at toks[open], when the
// statement's value is exactly that list; std::nullopt otherwise.
std::optional<std::vector<std::string>> list_strings(const std::vector<PyToken>& toks, size_t open) {
  std::vector<std::vector<const PyToken*>> items(1);
  int depth = 0;
  size_t k = open;
  for (; k < toks.size(); ++k) {
    const PyToken& t = toks[k];
    if (t.kind == PyToken::Kind::End) return std::nullopt;
    if (is_op(t, "[") || is_op(t, "(") || is_op(t, "{")) {
      if (++depth == 1) continue;
    } else if (is_op(t, "]") || is_op(t, ")") || is_op(t, "}")) {
      if (--depth == 0) break;
    } else if (depth == 1 && is_op(t, ",")) {
      items.emplace_back();
      continue;
    }
    items.back().push_back(&t);
  }
  if (k + 1 >= toks.size() || toks[k + 1].kind != PyToken::Kind::End) return std::nullopt;  // `[...] + x`
  std::vector<std::string> names;
  for (const auto& item : items) {
    if (item.empty()) continue;
    std::string value;
    bool plain = true;
    for (const PyToken* t : item) {
      plain = plain && t->kind == PyToken::Kind::String && t->plain_str;
      value += t->text;  // adjacent literals concatenate
    }
    if (plain) names.push_back(value);
  }
  return names;
}

std::optional<std::string> read_if_exists(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return read_file(path);
}

}  // namespace

std::optional<std::vector<std::string>> python_all_names(std::string_view source) {
  std::optional<std::vector<PyToken>> toks = tokenize_python(source);
  if (!toks) return std::nullopt;
  for (size_t s = 0; s < toks->size(); ++s) {
    if (!(*toks)[s].top_level) continue;
    // Targets of `a = b = [...]`; any of them may be __all__.
    size_t j = s;
    bool assigns_all = false;
    while (j + 1 < toks->size() && (*toks)[j].kind == PyToken::Kind::Name && is_op((*toks)[j + 1], "=")) {
      assigns_all = assigns_all || (*toks)[j].text == "__all__";
      j += 2;
    }
    if (!assigns_all || j >= toks->size() || !is_op((*toks)[j], "[")) continue;
    std::optional<std::vector<std::string>> names = list_strings(*toks, j);
    if (names && !names->empty()) return names;
  }
  return std::nullopt;
}

std::vector<std::string> python_class_names(std::string_view source) {
  std::vector<std::string> out;
  std::optional<std::vector<PyToken>> toks = tokenize_python(source);
  if (!toks) return out;
  for (size_t s = 0; s + 1 < toks->size(); ++s) {
    const PyToken& t = (*toks)[s];
    if (t.top_level && t.kind == PyToken::Kind::Name && t.text == "class" &&
        (*toks)[s + 1].kind == PyToken::Kind::Name)
      out.push_back((*toks)[s + 1].text);
  }
  return out;
}

Context card_context(const fs::path& kernel_dir, const config::BuildConfig& config) {
  const config::General& general = config.general;
  if (!general.hub_repo_id) throw MissingRepoIdError();
  Context context;
  context["repo_id"] = *general.hub_repo_id;
  context["version"] = static_cast<int64_t>(general.version);
  context["license"] = to_lower(general.license);
  context["has_benchmark"] = fs::exists(kernel_dir / "benchmarks" / "benchmark.py");
  if (general.upstream) context["upstream"] = general.upstream->normalized;
  if (general.source) context["source"] = general.source->normalized;

  const fs::path module_dir = kernel_dir / config.extension_dir() / config.module_name();
  std::optional<std::vector<std::string>> all;
  if (std::optional<std::string> init = read_if_exists(module_dir / "__init__.py")) all = python_all_names(*init);
  if (!all) return context;
  std::vector<std::string> functions;
  bool exports_layers = false;
  for (const std::string& name : *all) {
    if (name == "layers")
      exports_layers = true;
    else
      functions.push_back(name);
  }
  if (!functions.empty()) context["functions"] = functions;
  if (exports_layers) {
    std::optional<std::string> layers = read_if_exists(module_dir / "layers" / "__init__.py");
    if (!layers) layers = read_if_exists(module_dir / "layers.py");
    if (layers) {
      std::vector<std::string> classes = python_class_names(*layers);
      if (!classes.empty()) context["layers"] = classes;
    }
  }
  return context;
}

std::string render_card(const fs::path& kernel_dir, const config::BuildConfig& config) {
  const fs::path path = kernel_dir / "CARD.md";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("CARD.md template not found at `" + path.string() + "`");
  // The template is checked before the context, so a malformed card is
  // reported even when repo-id is missing too.
  Template card(read_file(path), path.string());
  return card.render(card_context(kernel_dir, config));
}

std::string render_card(const fs::path& kernel_dir) {
  return render_card(kernel_dir, config::load_build_config(kernel_dir));
}

BuildCardResult write_build_card(const fs::path& kernel_dir) {
  BuildCardResult result;
  std::error_code ec;
  if (!fs::exists(kernel_dir / "CARD.md", ec)) return result;
  config::BuildConfig config = config::load_build_config(kernel_dir);
  if (!config.general.hub_repo_id) {
    result.skipped = MissingRepoIdError().what();
    return result;
  }
  const fs::path out = kernel_dir / "build" / "CARD.md";
  write_file_if_changed(out, render_card(kernel_dir, config));
  result.written = out;
  return result;
}

}  // namespace kb::card
