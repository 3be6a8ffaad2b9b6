#pragma once
// The Jinja subset that kernel card templates (CARD.md) use, rendered with
// trim_blocks as the existing card tool does (minijinja):
//   {{ expr }}                       output; undefined prints nothing
//   {% if e %} {% elif e %} {% else %} {% endif %}
//   {% for x in e %} ... {% else %} ... {% endfor %}
//   {# comment #}   {% raw %}...{% endraw %}
//   {%- / -%} (and {{- -}}, {#- -#}) strip the whitespace on that side
// Expressions: names, string/integer literals, true/false, e[index],
// not / and / or (Python semantics), == != in, `is [not] defined`,
// `is [not] undefined`, parentheses. Values print as minijinja prints them:
// true/false, lists as ["a", "b"].
// trim_blocks: the first newline after a block or comment tag is dropped.
// Every error names the template and line: "CARD.md:12: unknown statement `set`".
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kb::templates {

using Value = std::variant<bool, int64_t, std::string, std::vector<std::string>>;
// Names absent from the context are undefined.
using Context = std::map<std::string, Value>;

struct TemplateNode;

class Template {
 public:
  // Parses the whole template; throws kb::Error "<name>:<line>: <problem>" for
  // unterminated tags, unknown statements, unbalanced if/for and bad expressions.
  Template(std::string_view text, std::string name);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Throws kb::Error "<name>:<line>: ..." for evaluation errors (indexing an
  // undefined value, iterating over an integer, ...).
  std::string render(const Context& context) const;

 private:
  std::string name_;
  std::unique_ptr<std::vector<TemplateNode>> nodes_;
};

// Parse + render in one step.
std::string render_template(std::string_view text, const Context& context, std::string name);

}  // namespace kb::templates
