#include "libkb/template/jinja.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "libkb/util/error.h"

namespace kb::templates {

namespace {

// ---------------------------------------------------------------- expressions

struct Expr {
  enum class Kind { Literal, Name, Attr, Index, Not, And, Or, Eq, Ne, In, NotIn, Test };
  Kind kind = Kind::Literal;
  Value literal;
  std::string name;     // Name: the variable; Attr: the attribute; Test: the test
  bool negate = false;  // Test: `is not`
  std::vector<Expr> args;
};

struct ExprToken {
  enum class Kind { Name, String, Int, Op, End };
  Kind kind = Kind::End;
  std::string text;
};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Errors inside a tag: the caller prefixes "<template>:<line>: ".
[[noreturn]] void fail(const std::string& where, const std::string& message) { throw Error(where + message); }

std::vector<ExprToken> tokenize_expr(std::string_view s, const std::string& where) {
  std::vector<ExprToken> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (is_name_start(c)) {
      size_t start = i;
      while (i < s.size() && is_name_char(s[i])) ++i;
      out.push_back({ExprToken::Kind::Name, std::string(s.substr(start, i - start))});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && is_name_char(s[i]))
        fail(where, "invalid number `" + std::string(s.substr(start, i - start + 1)) + "`");
      out.push_back({ExprToken::Kind::Int, std::string(s.substr(start, i - start))});
    } else if (c == '"' || c == '\'') {
      std::string value;
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          char e = s[j + 1];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          j += 2;
        } else if (s[j] == c) {
          closed = true;
          ++j;
          break;
        } else {
          value += s[j++];
        }
      }
      if (!closed) fail(where, "unterminated string literal in `" + std::string(s) + "`");
      out.push_back({ExprToken::Kind::String, value});
      i = j;
    } else if ((c == '=' || c == '!') && i + 1 < s.size() && s[i + 1] == '=') {
      out.push_back({ExprToken::Kind::Op, std::string(s.substr(i, 2))});
      i += 2;
    } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == '.' || c == '-') {
      out.push_back({ExprToken::Kind::Op, std::string(1, c)});
      ++i;
    } else {
      fail(where, "unexpected character `" + std::string(1, c) + "` in `" + std::string(s) + "`");
    }
  }
  out.push_back({ExprToken::Kind::End, ""});
  return out;
}

// Recursive descent, loosest binding first: or, and, not, comparison/in,
// `is` tests, postfix ([index], .attr), primary.
class ExprParser {
 public:
  ExprParser(std::string_view text, std::string where)
      : text_(text), where_(std::move(where)), toks_(tokenize_expr(text, where_)) {}

  Expr parse_all() {
    if (peek().kind == ExprToken::Kind::End) fail(where_, "expected an expression");
    Expr e = parse_or();
    if (peek().kind != ExprToken::Kind::End)
      fail(where_, "unexpected `" + peek().text + "` in expression `" + std::string(text_) + "`");
    return e;
  }

 private:
  const ExprToken& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  bool at_name(std::string_view word, size_t ahead = 0) const {
    return peek(ahead).kind == ExprToken::Kind::Name && peek(ahead).text == word;
  }
  bool at_op(std::string_view op) const { return peek().kind == ExprToken::Kind::Op && peek().text == op; }
  void expect_op(std::string_view op) {
    if (!at_op(op)) fail(where_, "expected `" + std::string(op) + "` in expression `" + std::string(text_) + "`");
    ++pos_;
  }

  static Expr binary(Expr::Kind kind, Expr lhs, Expr rhs) {
    Expr e;
    e.kind = kind;
    e.args.push_back(std::move(lhs));
    e.args.push_back(std::move(rhs));
    return e;
  }

  Expr parse_or() {
    Expr lhs = parse_and();
    while (at_name("or")) {
      ++pos_;
      lhs = binary(Expr::Kind::Or, std::move(lhs), parse_and());
    }
    return lhs;
  }
  Expr parse_and() {
    Expr lhs = parse_not();
    while (at_name("and")) {
      ++pos_;
      lhs = binary(Expr::Kind::And, std::move(lhs), parse_not());
    }
    return lhs;
  }
  Expr parse_not() {
    if (at_name("not")) {
      ++pos_;
      Expr e;
      e.kind = Expr::Kind::Not;
      e.args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  Expr parse_compare() {
    Expr lhs = parse_test();
    if (at_op("==") || at_op("!=")) {
      Expr::Kind kind = peek().text == "==" ? Expr::Kind::Eq : Expr::Kind::Ne;
      ++pos_;
      return binary(kind, std::move(lhs), parse_test());
    }
    if (at_name("in")) {
      ++pos_;
      return binary(Expr::Kind::In, std::move(lhs), parse_test());
    }
    if (at_name("not") && at_name("in", 1)) {
      pos_ += 2;
      return binary(Expr::Kind::NotIn, std::move(lhs), parse_test());
    }
    return lhs;
  }
  Expr parse_test() {
    Expr operand = parse_postfix();
    if (!at_name("is")) return operand;
    ++pos_;
    Expr e;
    e.kind = Expr::Kind::Test;
    if (at_name("not")) {
      e.negate = true;
      ++pos_;
    }
    if (peek().kind != ExprToken::Kind::Name)
      fail(where_, "expected a test name after `is` in `" + std::string(text_) + "`");
    e.name = peek().text;
    if (e.name != "defined" && e.name != "undefined")
      fail(where_, "unknown test `" + e.name + "` (supported: defined, undefined)");
    ++pos_;
    e.args.push_back(std::move(operand));
    return e;
  }
  Expr parse_postfix() {
    Expr e = parse_primary();
    while (true) {
      if (at_op("[")) {
        ++pos_;
        Expr index = parse_or();
        expect_op("]");
        e = binary(Expr::Kind::Index, std::move(e), std::move(index));
      } else if (at_op(".")) {
        ++pos_;
        if (peek().kind != ExprToken::Kind::Name)
          fail(where_, "expected an attribute name after `.` in `" + std::string(text_) + "`");
        Expr attr;
        attr.kind = Expr::Kind::Attr;
        attr.name = peek().text;
        ++pos_;
        attr.args.push_back(std::move(e));
        e = std::move(attr);
      } else {
        return e;
      }
    }
  }
  int64_t integer(const std::string& digits) const {
    try {
      return static_cast<int64_t>(std::stoll(digits));
    } catch (const std::exception&) {
      fail(where_, "integer `" + digits + "` is too large");
    }
  }
  Expr parse_primary() {
    const ExprToken& t = peek();
    Expr e;
    switch (t.kind) {
      case ExprToken::Kind::String:
        e.literal = t.text;
        ++pos_;
        return e;
      case ExprToken::Kind::Int:
        e.literal = integer(t.text);
        ++pos_;
        return e;
      case ExprToken::Kind::Name:
        ++pos_;
        if (t.text == "true" || t.text == "True") {
          e.literal = true;
        } else if (t.text == "false" || t.text == "False") {
          e.literal = false;
        } else if (t.text == "and" || t.text == "or" || t.text == "not" || t.text == "is" || t.text == "in") {
          fail(where_, "unexpected `" + t.text + "` in expression `" + std::string(text_) + "`");
        } else {
          e.kind = Expr::Kind::Name;
          e.name = t.text;
        }
        return e;
      case ExprToken::Kind::Op:
        if (t.text == "(") {
          ++pos_;
          e = parse_or();
          expect_op(")");
          return e;
        }
        if (t.text == "-" && peek(1).kind == ExprToken::Kind::Int) {
          e.literal = -integer(peek(1).text);
          pos_ += 2;
          return e;
        }
        break;
      case ExprToken::Kind::End:
        fail(where_, "expression `" + std::string(text_) + "` ends too early");
    }
    fail(where_, "unexpected `" + t.text + "` in expression `" + std::string(text_) + "`");
  }

  std::string_view text_;
  std::string where_;
  std::vector<ExprToken> toks_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------- values

bool truthy(const std::optional<Value>& v) {
  if (!v) return false;
  return std::visit(
      [](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>)
          return x;
        else if constexpr (std::is_same_v<T, int64_t>)
          return x != 0;
        else
          return !x.empty();
      },
      *v);
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string to_text(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          std::string out = "[";
          for (size_t i = 0; i < x.size(); ++i) out += (i ? ", " : "") + quoted(x[i]);
          return out + "]";
        }
      },
      v);
}

const char* type_name(const Value& v) {
  switch (v.index()) {
    case 0:
      return "a boolean";
    case 1:
      return "an integer";
    case 2:
      return "a string";
    default:
      return "a list";
  }
}

// How an expression reads in messages ("functions[0]").
std::string describe(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::Name:
      return e.name;
    case Expr::Kind::Attr:
      return describe(e.args[0]) + "." + e.name;
    case Expr::Kind::Index:
      return describe(e.args[0]) + "[" + describe(e.args[1]) + "]";
    case Expr::Kind::Literal:
      return std::holds_alternative<std::string>(e.literal) ? quoted(std::get<std::string>(e.literal))
                                                            : to_text(e.literal);
    default:
      return "expression";
  }
}

struct Scope {
  const Context* globals = nullptr;
  std::map<std::string, Value> locals;  // loop variables, "loop.index", ...

  const Value* lookup(const std::string& name) const {
    if (auto it = locals.find(name); it != locals.end()) return &it->second;
    if (auto it = globals->find(name); it != globals->end()) return &it->second;
    return nullptr;
  }
};

std::optional<Value> eval(const Expr& e, const Scope& scope, const std::string& where) {
  switch (e.kind) {
    case Expr::Kind::Literal:
      return e.literal;
    case Expr::Kind::Name: {
      const Value* v = scope.lookup(e.name);
      return v ? std::optional<Value>(*v) : std::nullopt;
    }
    case Expr::Kind::Attr: {
      // Only the loop object has attributes here (loop.index, loop.last, ...).
      if (e.args[0].kind == Expr::Kind::Name) {
        if (const Value* v = scope.lookup(e.args[0].name + "." + e.name)) return *v;
      }
      std::optional<Value> base = eval(e.args[0], scope, where);
      if (!base) fail(where, "`" + describe(e.args[0]) + "` is undefined, so `" + describe(e) + "` cannot be read");
      return std::nullopt;
    }
    case Expr::Kind::Index: {
      std::optional<Value> base = eval(e.args[0], scope, where);
      std::optional<Value> index = eval(e.args[1], scope, where);
      if (!base) fail(where, "`" + describe(e.args[0]) + "` is undefined, so `" + describe(e) + "` cannot be read");
      if (!index || !std::holds_alternative<int64_t>(*index))
        fail(where, "the index in `" + describe(e) + "` must be an integer");
      int64_t i = std::get<int64_t>(*index);
      if (auto* list = std::get_if<std::vector<std::string>>(&*base)) {
        int64_t n = static_cast<int64_t>(list->size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return std::nullopt;
        return Value((*list)[static_cast<size_t>(i)]);
      }
      if (auto* s = std::get_if<std::string>(&*base)) {
        int64_t n = static_cast<int64_t>(s->size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return std::nullopt;
        return Value(std::string(1, (*s)[static_cast<size_t>(i)]));
      }
      fail(where, "`" + describe(e.args[0]) + "` is " + type_name(*base) + " and cannot be indexed");
    }
    case Expr::Kind::Not:
      return Value(!truthy(eval(e.args[0], scope, where)));
    case Expr::Kind::And: {
      std::optional<Value> lhs = eval(e.args[0], scope, where);
      return truthy(lhs) ? eval(e.args[1], scope, where) : lhs;
    }
    case Expr::Kind::Or: {
      std::optional<Value> lhs = eval(e.args[0], scope, where);
      return truthy(lhs) ? lhs : eval(e.args[1], scope, where);
    }
    case Expr::Kind::Eq:
    case Expr::Kind::Ne: {
      bool equal = eval(e.args[0], scope, where) == eval(e.args[1], scope, where);
      return Value(e.kind == Expr::Kind::Eq ? equal : !equal);
    }
    case Expr::Kind::In:
    case Expr::Kind::NotIn: {
      std::optional<Value> needle = eval(e.args[0], scope, where);
      std::optional<Value> hay = eval(e.args[1], scope, where);
      bool found = false;
      if (hay && needle && std::holds_alternative<std::string>(*needle)) {
        const std::string& n = std::get<std::string>(*needle);
        if (auto* list = std::get_if<std::vector<std::string>>(&*hay))
          found = std::find(list->begin(), list->end(), n) != list->end();
        else if (auto* s = std::get_if<std::string>(&*hay))
          found = s->find(n) != std::string::npos;
      }
      return Value(e.kind == Expr::Kind::In ? found : !found);
    }
    case Expr::Kind::Test: {
      bool defined = eval(e.args[0], scope, where).has_value();
      bool result = e.name == "defined" ? defined : !defined;
      return Value(e.negate ? !result : result);
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- lexer

struct Token {
  enum class Kind { Text, Output, Block };
  Kind kind = Kind::Text;
  std::string text;  // Text: literal text; Output/Block: the tag's inner text, trimmed
  int line = 1;
};

std::string trim_ws(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

int count_lines(std::string_view s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// End of a `{{`/`{%` tag starting at `from` (the index of `close`), skipping
// string literals so a "}}" inside quotes does not end the tag.
size_t find_tag_end(std::string_view src, size_t from, std::string_view close) {
  char quote = 0;
  for (size_t i = from; i < src.size(); ++i) {
    char c = src[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (src.compare(i, close.size(), close) == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// The `{% endraw %}` tag after `from`: its start, end (one past `%}`) and
// whether it strips whitespace before it.
struct RawEnd {
  size_t start = std::string_view::npos, end = 0;
  bool strip_before = false, strip_after = false;
};
RawEnd find_endraw(std::string_view src, size_t from) {
  for (size_t at = src.find("{%", from); at != std::string_view::npos; at = src.find("{%", at + 2)) {
    size_t i = at + 2;
    RawEnd r;
    if (i < src.size() && (src[i] == '-' || src[i] == '+')) r.strip_before = src[i++] == '-';
    while (i < src.size() && std::isspace(static_cast<unsigned char>(src[i]))) ++i;
    if (src.compare(i, 6, "endraw") != 0) continue;
    i += 6;
    while (i < src.size() && std::isspace(static_cast<unsigned char>(src[i]))) ++i;
    if (i < src.size() && src[i] == '-') {
      r.strip_after = true;
      ++i;
    }
    if (src.compare(i, 2, "%}") != 0) continue;
    r.start = at;
    r.end = i + 2;
    return r;
  }
  return {};
}

void rstrip(std::string& s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
}

std::vector<Token> lex(std::string_view src, const std::string& name) {
  std::vector<Token> out;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false;  // the previous tag ended with `-`
  bool trim_next = false;   // trim_blocks: the previous tag was a block or comment
  auto where = [&](int l) { return name + ":" + std::to_string(l) + ": "; };
  // Text between tags, with the previous tag's whitespace rules applied.
  auto take_text = [&](size_t end) {
    std::string text(src.substr(pos, end - pos));
    if (strip_next) {
      size_t b = 0;
      while (b < text.size() && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
      text.erase(0, b);
    } else if (trim_next) {
      if (text.rfind("\r\n", 0) == 0)
        text.erase(0, 2);
      else if (!text.empty() && text[0] == '\n')
        text.erase(0, 1);
    }
    line += count_lines(src.substr(pos, end - pos));
    pos = end;
    strip_next = trim_next = false;
    return text;
  };
  while (pos < src.size()) {
    size_t open = pos;
    while (true) {
      open = src.find('{', open);
      if (open == std::string_view::npos || open + 1 >= src.size()) {
        open = std::string_view::npos;
        break;
      }
      char k = src[open + 1];
      if (k == '{' || k == '%' || k == '#') break;
      ++open;
    }
    std::string text = take_text(open == std::string_view::npos ? src.size() : open);
    if (open == std::string_view::npos) {
      if (!text.empty()) out.push_back({Token::Kind::Text, text, line});
      break;
    }
    char kind = src[open + 1];
    size_t inner = open + 2;
    if (inner < src.size() && (src[inner] == '-' || src[inner] == '+')) {
      if (src[inner] == '-') rstrip(text);
      ++inner;
    }
    if (!text.empty()) out.push_back({Token::Kind::Text, text, line});
    int tag_line = line;
    std::string_view close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t end = kind == '#' ? src.find("#}", inner) : find_tag_end(src, inner, close);
    if (end == std::string_view::npos) {
      const char* what = kind == '{' ? "`{{` tag" : kind == '%' ? "`{%` tag" : "`{#` comment";
      throw Error(where(tag_line) + "unterminated " + what + " (no `" + std::string(close) + "` follows)");
    }
    std::string_view body = src.substr(inner, end - inner);
    bool strip_after = !body.empty() && body.back() == '-';
    if (strip_after) body.remove_suffix(1);
    line += count_lines(src.substr(open, end + 2 - open));
    pos = end + 2;
    strip_next = strip_after;
    if (kind == '#') {
      trim_next = true;
      continue;
    }
    std::string content = trim_ws(body);
    if (kind == '{') {
      out.push_back({Token::Kind::Output, content, tag_line});
      continue;
    }
    trim_next = true;
    if (content == "raw") {
      RawEnd r = find_endraw(src, pos);
      if (r.start == std::string_view::npos)
        throw Error(where(tag_line) + "`{% raw %}` is never closed (missing `{% endraw %}`)");
      std::string raw = take_text(r.start);
      if (r.strip_before) rstrip(raw);
      if (!raw.empty()) out.push_back({Token::Kind::Text, raw, tag_line});
      line += count_lines(src.substr(r.start, r.end - r.start));
      pos = r.end;
      strip_next = r.strip_after;
      trim_next = true;
      continue;
    }
    out.push_back({Token::Kind::Block, content, tag_line});
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- parser

struct TemplateNode {
  enum class Kind { Text, Output, If, For };
  Kind kind = Kind::Text;
  int line = 0;
  std::string text;                                                  // Text
  Expr expr;                                                         // Output; For: the iterable
  std::vector<std::pair<Expr, std::vector<TemplateNode>>> branches;  // If: if + elifs
  std::vector<TemplateNode> body;                                    // For
  std::vector<TemplateNode> else_body;                               // If / For
  std::string var;                                                   // For: the loop variable
};

namespace {

std::string keyword_of(const std::string& content) {
  size_t end = 0;
  while (end < content.size() && is_name_char(content[end])) ++end;
  return content.substr(0, end);
}

class Parser {
 public:
  Parser(const std::vector<Token>& toks, const std::string& name) : toks_(toks), name_(name) {}

  std::vector<TemplateNode> parse() {
    const Token* stop = nullptr;
    return parse_body({}, nullptr, &stop);
  }

 private:
  std::string where(int line) const { return name_ + ":" + std::to_string(line) + ": "; }

  Expr expr(std::string_view text, int line) { return ExprParser(text, where(line)).parse_all(); }

  // Nodes up to one of the `ends` block tags (returned in *stop); `opener` is
  // the if/for tag whose body this is, for the messages.
  std::vector<TemplateNode> parse_body(const std::vector<std::string>& ends, const Token* opener, const Token** stop) {
    std::vector<TemplateNode> nodes;
    while (i_ < toks_.size()) {
      const Token& tok = toks_[i_++];
      if (tok.kind == Token::Kind::Text) {
        TemplateNode n;
        n.kind = TemplateNode::Kind::Text;
        n.text = tok.text;
        n.line = tok.line;
        nodes.push_back(std::move(n));
        continue;
      }
      if (tok.kind == Token::Kind::Output) {
        TemplateNode n;
        n.kind = TemplateNode::Kind::Output;
        n.line = tok.line;
        n.expr = expr(tok.text, tok.line);
        nodes.push_back(std::move(n));
        continue;
      }
      std::string kw = keyword_of(tok.text);
      if (std::find(ends.begin(), ends.end(), kw) != ends.end()) {
        *stop = &tok;
        return nodes;
      }
      if (kw == "if") {
        nodes.push_back(parse_if(tok));
      } else if (kw == "for") {
        nodes.push_back(parse_for(tok));
      } else if (kw == "elif" || kw == "else" || kw == "endif" || kw == "endfor") {
        std::string opens = kw == "endfor" ? "for" : "if";
        if (!opener) throw Error(where(tok.line) + "`{% " + kw + " %}` without a matching `{% " + opens + " %}`");
        std::string open_kw = keyword_of(opener->text);
        throw Error(where(tok.line) + "unexpected `{% " + kw + " %}`: the `{% " + open_kw + " %}` on line " +
                    std::to_string(opener->line) + " expects `{% end" + open_kw + " %}` first");
      } else if (kw.empty()) {
        throw Error(where(tok.line) + "empty or malformed statement `{% " + tok.text + " %}`");
      } else {
        throw Error(where(tok.line) + "unknown statement `" + kw +
                    "` (supported: if, elif, else, endif, for, endfor, raw)");
      }
    }
    if (opener) {
      std::string kw = keyword_of(opener->text);
      throw Error(where(opener->line) + "`{% " + kw + " %}` is never closed (missing `{% end" + kw + " %}`)");
    }
    *stop = nullptr;
    return nodes;
  }

  void expect_bare(const Token& tok) {
    if (tok.text != keyword_of(tok.text))
      throw Error(where(tok.line) + "`{% " + keyword_of(tok.text) + " %}` takes no arguments: `{% " + tok.text +
                  " %}`");
  }

  TemplateNode parse_if(const Token& open) {
    TemplateNode n;
    n.kind = TemplateNode::Kind::If;
    n.line = open.line;
    const Token* head = &open;
    while (true) {
      Expr cond = expr(std::string_view(head->text).substr(keyword_of(head->text).size()), head->line);
      const Token* stop = nullptr;
      std::vector<TemplateNode> body = parse_body({"elif", "else", "endif"}, &open, &stop);
      n.branches.emplace_back(std::move(cond), std::move(body));
      std::string kw = keyword_of(stop->text);
      if (kw == "elif") {
        head = stop;
        continue;
      }
      expect_bare(*stop);
      if (kw == "else") {
        n.else_body = parse_body({"endif"}, &open, &stop);
        expect_bare(*stop);
      }
      return n;
    }
  }

  TemplateNode parse_for(const Token& open) {
    TemplateNode n;
    n.kind = TemplateNode::Kind::For;
    n.line = open.line;
    std::string_view rest = std::string_view(open.text).substr(3);
    std::vector<ExprToken> toks = tokenize_expr(rest, where(open.line));
    if (toks.size() < 3 || toks[0].kind != ExprToken::Kind::Name || toks[1].kind != ExprToken::Kind::Name ||
        toks[1].text != "in")
      throw Error(where(open.line) + "expected `{% for <name> in <expression> %}`, got `{% " + open.text + " %}`");
    n.var = toks[0].text;
    size_t in_at = rest.find("in", rest.find(n.var) + n.var.size());
    n.expr = expr(rest.substr(in_at + 2), open.line);
    const Token* stop = nullptr;
    n.body = parse_body({"else", "endfor"}, &open, &stop);
    if (keyword_of(stop->text) == "else") {
      expect_bare(*stop);
      n.else_body = parse_body({"endfor"}, &open, &stop);
    }
    expect_bare(*stop);
    return n;
  }

  const std::vector<Token>& toks_;
  const std::string& name_;
  size_t i_ = 0;
};

void render_nodes(const std::vector<TemplateNode>& nodes, const Scope& scope, const std::string& name,
                  std::string& out) {
  for (const TemplateNode& n : nodes) {
    std::string where = name + ":" + std::to_string(n.line) + ": ";
    switch (n.kind) {
      case TemplateNode::Kind::Text:
        out += n.text;
        break;
      case TemplateNode::Kind::Output:
        if (std::optional<Value> v = eval(n.expr, scope, where)) out += to_text(*v);
        break;
      case TemplateNode::Kind::If: {
        bool taken = false;
        for (const auto& [cond, body] : n.branches) {
          if (truthy(eval(cond, scope, where))) {
            render_nodes(body, scope, name, out);
            taken = true;
            break;
          }
        }
        if (!taken) render_nodes(n.else_body, scope, name, out);
        break;
      }
      case TemplateNode::Kind::For: {
        std::optional<Value> seq = eval(n.expr, scope, where);
        std::vector<std::string> items;
        if (seq) {
          if (auto* list = std::get_if<std::vector<std::string>>(&*seq))
            items = *list;
          else if (auto* s = std::get_if<std::string>(&*seq))
            for (char c : *s) items.emplace_back(1, c);
          else
            throw Error(where + "cannot iterate over `" + describe(n.expr) + "`: it is " + type_name(*seq));
        }
        if (items.empty()) {
          render_nodes(n.else_body, scope, name, out);
          break;
        }
        Scope inner = scope;
        const auto count = static_cast<int64_t>(items.size());
        for (int64_t i = 0; i < count; ++i) {
          inner.locals[n.var] = items[static_cast<size_t>(i)];
          inner.locals["loop.index"] = i + 1;
          inner.locals["loop.index0"] = i;
          inner.locals["loop.first"] = i == 0;
          inner.locals["loop.last"] = i + 1 == count;
          inner.locals["loop.length"] = count;
          render_nodes(n.body, inner, name, out);
        }
        break;
      }
    }
  }
}

}  // namespace

Template::Template(std::string_view text, std::string name)
    : name_(std::move(name)), nodes_(std::make_unique<std::vector<TemplateNode>>()) {
  std::vector<Token> toks = lex(text, name_);
  *nodes_ = Parser(toks, name_).parse();
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const Context& context) const {
  Scope scope;
  scope.globals = &context;
  std::string out;
  render_nodes(*nodes_, scope, name_, out);
  return out;
}

std::string render_template(std::string_view text, const Context& context, std::string name) {
  return Template(text, std::move(name)).render(context);
}

}  // namespace kb::templates
