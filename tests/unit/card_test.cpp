#include <gtest/gtest.h>

#include <fstream>

#include "libkb/card/card.h"
#include "libkb/template/jinja.h"
#include "libkb/util/embedded.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

using Strings = std::vector<std::string>;

std::string render(std::string_view text, const templates::Context& context = {}) {
  return templates::render_template(text, context, "CARD.md");
}

std::string render_error(std::string_view text, const templates::Context& context = {}) {
  return error_of([&] { render(text, context); });
}

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

}  // namespace

// ---------------------------------------------------------------- template engine

TEST(CardTemplate, OutputsValuesTheWayMinijinjaPrintsThem) {
  templates::Context c = {{"name", std::string("relu")},
                          {"version", int64_t{3}},
                          {"flag", true},
                          {"off", false},
                          {"items", Strings{"a", "b\"c"}}};
  EXPECT_EQ(render("x{{ name }}y {{version}} {{ flag }} {{ off }} {{ items }}", c),
            "xreluy 3 true false [\"a\", \"b\\\"c\"]");
  // Undefined names print nothing.
  EXPECT_EQ(render("[{{ missing }}]", c), "[]");
  EXPECT_EQ(render("{{ 'lit' }} {{ \"two\" }} {{ 42 }}", c), "lit two 42");
}

TEST(CardTemplate, IndexingListsAndStrings) {
  templates::Context c = {{"items", Strings{"first", "second"}}, {"name", std::string("relu")}};
  EXPECT_EQ(render("{{ items[0] }}/{{ items[1] }}/{{ items[-1] }}/{{ name[0] }}", c), "first/second/second/r");
  // Out of range is undefined, so it prints nothing and is not defined.
  EXPECT_EQ(render("[{{ items[5] }}]{% if items[5] is defined %}yes{% else %}no{% endif %}", c), "[]no");
}

TEST(CardTemplate, IfElifElseWithBooleanOperators) {
  const std::string t = "{% if a and not b %}one{% elif b or c %}two{% else %}three{% endif %}";
  EXPECT_EQ(render(t, {{"a", true}}), "one");
  EXPECT_EQ(render(t, {{"a", true}, {"b", true}}), "two");
  EXPECT_EQ(render(t, {{"c", std::string("x")}}), "two");
  EXPECT_EQ(render(t, {{"c", std::string("")}}), "three");
  EXPECT_EQ(render(t, {}), "three");
  // Empty lists and zero are false, like in Python.
  EXPECT_EQ(render("{% if l %}y{% else %}n{% endif %}{% if z %}y{% else %}n{% endif %}",
                   {{"l", Strings{}}, {"z", int64_t{0}}}),
            "nn");
  // Parentheses group; `not` binds tighter than `and`.
  EXPECT_EQ(render("{% if not (a and b) %}y{% endif %}", {{"a", true}}), "y");
  EXPECT_EQ(render("{% if not a and b %}y{% else %}n{% endif %}", {{"a", true}, {"b", true}}), "n");
}

TEST(CardTemplate, DefinedTestsComparisonsAndMembership) {
  templates::Context c = {{"x", std::string("")}, {"l", Strings{"layers", "relu"}}, {"n", int64_t{1}}};
  EXPECT_EQ(render("{% if x is defined %}d{% endif %}{% if y is defined %}D{% endif %}", c), "d");
  EXPECT_EQ(render("{% if y is not defined %}u{% endif %}{% if y is undefined %}U{% endif %}", c), "uU");
  EXPECT_EQ(render("{% if 'relu' in l %}in{% endif %}{% if 'gelu' not in l %} out{% endif %}", c), "in out");
  EXPECT_EQ(render("{% if n == 1 %}one{% endif %}{% if n != 2 %} !two{% endif %}", c), "one !two");
  // `or` yields an operand, as in Jinja.
  EXPECT_EQ(render("{{ y or 'fallback' }}", c), "fallback");
}

TEST(CardTemplate, ForLoopsWithLoopVariablesAndElse) {
  templates::Context c = {{"items", Strings{"a", "b", "c"}}};
  EXPECT_EQ(render("{% for i in items %}{{ loop.index }}={{ i }}{% if not loop.last %}, {% endif %}{% endfor %}", c),
            "1=a, 2=b, 3=c");
  EXPECT_EQ(render("{% for i in missing %}x{% else %}none{% endfor %}", c), "none");
  EXPECT_EQ(render("{% for i in empty %}x{% endfor %}.", {{"empty", Strings{}}}), ".");
  // Nested loops see the outer variable.
  EXPECT_EQ(
      render("{% for a in items %}{% for b in items %}{% if a == b %}{{ a }}{% endif %}{% endfor %}{% endfor %}", c),
      "abc");
}

TEST(CardTemplate, TrimBlocksDropsOnlyTheFirstNewlineAfterBlockAndCommentTags) {
  templates::Context c = {{"on", true}, {"items", Strings{"a", "b"}}};
  EXPECT_EQ(render("{% if on %}\nyes\n{% endif %}\nafter\n", c), "yes\nafter\n");
  EXPECT_EQ(render("{% for i in items %}\n- {{ i }}\n{% endfor %}\n", c), "- a\n- b\n");
  // Only one newline goes; indentation before a tag stays (no lstrip_blocks).
  EXPECT_EQ(render("{% if on %}\n\nx\n  {% endif %}\n", c), "\nx\n  ");
  // Comments vanish and trim like blocks; output tags keep their newline.
  EXPECT_EQ(render("a{# note\nspanning lines #}\nb\n{{ 'v' }}\nc", c), "ab\nv\nc");
  // Windows line endings: the whole \r\n goes.
  EXPECT_EQ(render("{% if on %}\r\nx{% endif %}", c), "x");
}

TEST(CardTemplate, WhitespaceControlAndRaw) {
  templates::Context c = {{"v", std::string("V")}};
  EXPECT_EQ(render("a  \n  {{- v -}}  \n  b", c), "aVb");
  EXPECT_EQ(render("a\n{%- if true %}x{% endif -%}\n\nb", c), "axb");
  EXPECT_EQ(render("{% raw %}\n{{ not rendered }} {% if %}{% endraw %}!", c), "{{ not rendered }} {% if %}!");
  // A "}}" inside a string literal does not end the tag.
  EXPECT_EQ(render("{{ '}}' }}", c), "}}");
}

TEST(CardTemplate, MalformedTemplatesNameTheLine) {
  EXPECT_EQ(render_error("line one\nline two {{ name\nmore"), "CARD.md:2: unterminated `{{` tag (no `}}` follows)");
  EXPECT_EQ(render_error("\n\n{% if x"), "CARD.md:3: unterminated `{%` tag (no `%}` follows)");
  EXPECT_EQ(render_error("{# open"), "CARD.md:1: unterminated `{#` comment (no `#}` follows)");
  EXPECT_TRUE(contains(render_error("ok\n{% set x = 1 %}"), "CARD.md:2: unknown statement `set`"));
  EXPECT_EQ(render_error("a\n\n{% endif %}"), "CARD.md:3: `{% endif %}` without a matching `{% if %}`");
  EXPECT_EQ(render_error("{% endfor %}"), "CARD.md:1: `{% endfor %}` without a matching `{% for %}`");
  EXPECT_EQ(render_error("x\n{% if a %}\n{% for i in l %}\n{% endfor %}\n"),
            "CARD.md:2: `{% if %}` is never closed (missing `{% endif %}`)");
  EXPECT_EQ(render_error("{% for i in l %}\n{% if a %}\n{% endfor %}"),
            "CARD.md:3: unexpected `{% endfor %}`: the `{% if %}` on line 2 expects `{% endif %}` first");
  EXPECT_EQ(render_error("{% if a %}{% else %}{% elif b %}{% endif %}"),
            "CARD.md:1: unexpected `{% elif %}`: the `{% if %}` on line 1 expects `{% endif %}` first");
  EXPECT_TRUE(
      contains(render_error("\n{% for in l %}{% endfor %}"), "CARD.md:2: expected `{% for <name> in <expression> %}`"));
  EXPECT_EQ(render_error("{% if %}{% endif %}"), "CARD.md:1: expected an expression");
  EXPECT_TRUE(contains(render_error("\n\n{{ a b }}"), "CARD.md:3: unexpected `b` in expression `a b`"));
  EXPECT_TRUE(contains(render_error("{{ 'open }}x"), "CARD.md:1: unterminated `{{` tag"));
  EXPECT_TRUE(contains(render_error("{% if a is cool %}{% endif %}"), "unknown test `cool`"));
  EXPECT_EQ(render_error("{% endif x %}"), "CARD.md:1: `{% endif %}` without a matching `{% if %}`");
  EXPECT_EQ(render_error("{% if a %}{% endif x %}"), "CARD.md:1: `{% endif %}` takes no arguments: `{% endif x %}`");
  EXPECT_EQ(render_error("{% raw %}never closed"), "CARD.md:1: `{% raw %}` is never closed (missing `{% endraw %}`)");
}

TEST(CardTemplate, EvaluationErrorsNameTheLine) {
  EXPECT_EQ(render_error("ok\n{{ functions[0] }}"),
            "CARD.md:2: `functions` is undefined, so `functions[0]` cannot be read");
  EXPECT_EQ(render_error("\n{% for v in version %}{% endfor %}", {{"version", int64_t{1}}}),
            "CARD.md:2: cannot iterate over `version`: it is an integer");
  EXPECT_EQ(render_error("{{ version[0] }}", {{"version", int64_t{1}}}),
            "CARD.md:1: `version` is an integer and cannot be indexed");
  // A guarded index renders nothing instead of failing.
  EXPECT_EQ(render("{% if functions %}{{ functions[0] }}{% endif %}"), "");
}

// ---------------------------------------------------------------- Python sources

TEST(CardPython, AllNamesFromSingleAndMultiLineLists) {
  EXPECT_EQ(card::python_all_names("__all__ = [\"relu\", 'gelu']\n"), (Strings{"relu", "gelu"}));
  EXPECT_EQ(card::python_all_names("import torch\n"
                                   "from ._ops import ops\n\n"
                                   "__all__ = [\n"
                                   "    # the public functions\n"
                                   "    \"relu\",  # first\n"
                                   "    \"gelu\", 'sil' \"u\",\n"
                                   "    \"layers\",\n"
                                   "]\n"),
            (Strings{"relu", "gelu", "silu", "layers"}));
  EXPECT_EQ(card::python_all_names("import torch\n"), std::nullopt);
  EXPECT_EQ(card::python_all_names(""), std::nullopt);
}

TEST(CardPython, OnlyTheFirstTopLevelPlainListAssignmentCounts) {
  // Indented, in a docstring, augmented, annotated or computed: not it.
  const std::string source =
      "\"\"\"Module docs.\n__all__ = [\"from_docstring\"]\n\"\"\"\n"
      "if TYPE_CHECKING:\n    __all__ = [\"indented\"]\n"
      "def f():\n    __all__ = [\"in_function\"]\n"
      "__all__: list[str] = [\"annotated\"]\n"
      "__all__ = [\"computed\"] + other\n"
      "__all__ = [name for name in dir()]\n"
      "__all__ = [1, f\"fmt\", b\"bytes\", x]\n"
      "__all__ = x = [\"chained\", f\"{y}\", 2, \"kept\"]\n"
      "__all__ += [\"augmented\"]\n"
      "__all__ = [\"second\"]\n";
  EXPECT_EQ(card::python_all_names(source), (Strings{"chained", "kept"}));
  // A line continuation keeps the statement going; escapes are decoded.
  EXPECT_EQ(card::python_all_names("__all__ = \\\n  ['a\\'b', r'c\\d']\n"), (Strings{"a'b", "c\\d"}));
  // A source that does not tokenize has no __all__.
  EXPECT_EQ(card::python_all_names("__all__ = [\"unterminated]\n"), std::nullopt);
}

TEST(CardPython, TopLevelClassNames) {
  EXPECT_EQ(card::python_class_names("import torch.nn as nn\n\n"
                                     "class ReLU(nn.Module):\n"
                                     "    class Inner:\n        pass\n"
                                     "    def forward(self, x):\n        return x\n\n"
                                     "@register\n"
                                     "class Softmax(nn.Module): pass\n"
                                     "s = '''\nclass NotAClass:\n'''\n"
                                     "def make():\n    class Local: pass\n"
                                     "class GELU:\n    pass\n"),
            (Strings{"ReLU", "Softmax", "GELU"}));
  EXPECT_TRUE(card::python_class_names("x = 1\n").empty());
}

// ---------------------------------------------------------------- context and rendering

namespace {

class CardKernelTest : public ::testing::Test {
 protected:
  CardKernelTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-card")), kernel_(tmp_.path() / "my-relu") {}

  void build_toml(const std::string& hub = "[general.hub]\nrepo-id = \"acme/my-relu\"\n",
                  const std::string& extra_general = "", const std::string& framework = "[torch-noarch]\n") {
    write(kernel_ / "build.toml",
          "[general]\nname = \"my-relu\"\nlicense = \"Apache-2.0\"\nbackends = [\"cpu\"]\n"
          "version = 2\nedition = 5\n" +
              extra_general + hub + framework);
  }
  config::BuildConfig config() { return config::load_build_config(kernel_); }
  templates::Context context() { return card::card_context(kernel_, config()); }
  fs::path module_dir() { return kernel_ / "torch-ext" / "my_relu"; }

  TempDirGuard tmp_;
  fs::path kernel_;
};

}  // namespace

TEST_F(CardKernelTest, ContextHoldsTheBuildTomlFactsAndNormalisedUrls) {
  build_toml("[general.hub]\nrepo-id = \"acme/my-relu\"\n",
             "upstream = \"git@github.com:org/relu.git\"\nsource = \"https://example.com/acme/relu\"\n");
  templates::Context c = context();
  EXPECT_EQ(std::get<std::string>(c.at("repo_id")), "acme/my-relu");
  EXPECT_EQ(std::get<int64_t>(c.at("version")), 2);
  EXPECT_EQ(std::get<std::string>(c.at("license")), "apache-2.0");
  EXPECT_EQ(std::get<std::string>(c.at("upstream")), "ssh://git@github.com/org/relu.git");
  EXPECT_EQ(std::get<std::string>(c.at("source")), "https://example.com/acme/relu");
  EXPECT_FALSE(std::get<bool>(c.at("has_benchmark")));
  // No module: no functions, no layers.
  EXPECT_FALSE(c.count("functions"));
  EXPECT_FALSE(c.count("layers"));

  write(kernel_ / "benchmarks" / "benchmark_other.py", "");
  EXPECT_FALSE(std::get<bool>(context().at("has_benchmark")));  // only benchmark.py counts
  write(kernel_ / "benchmarks" / "benchmark.py", "");
  EXPECT_TRUE(std::get<bool>(context().at("has_benchmark")));
}

TEST_F(CardKernelTest, NoUpstreamOrSourceLeavesThemUndefined) {
  build_toml();
  templates::Context c = context();
  EXPECT_FALSE(c.count("upstream"));
  EXPECT_FALSE(c.count("source"));
}

TEST_F(CardKernelTest, FunctionsAndLayersComeFromTheModule) {
  build_toml();
  write(module_dir() / "__init__.py",
        "from . import layers\n__all__ = [\n  \"layers\",\n  \"my_relu\",  # op\n  \"gelu\",\n]\n");
  write(module_dir() / "layers" / "__init__.py",
        "import torch\nclass ReLU(torch.nn.Module):\n    pass\nclass GELU:\n    pass\n");
  templates::Context c = context();
  EXPECT_EQ(std::get<Strings>(c.at("functions")), (Strings{"my_relu", "gelu"}));
  EXPECT_EQ(std::get<Strings>(c.at("layers")), (Strings{"ReLU", "GELU"}));

  // layers.py is the fallback for a layers package.
  fs::remove_all(module_dir() / "layers");
  write(module_dir() / "layers.py", "class Only:\n    pass\n");
  EXPECT_EQ(std::get<Strings>(context().at("layers")), (Strings{"Only"}));

  // Not exported: no layers, even though the file exists.
  write(module_dir() / "__init__.py", "__all__ = [\"my_relu\"]\n");
  EXPECT_FALSE(context().count("layers"));

  // Only "layers" exported: functions is undefined.
  write(module_dir() / "__init__.py", "__all__ = [\"layers\"]\n");
  c = context();
  EXPECT_FALSE(c.count("functions"));
  EXPECT_EQ(std::get<Strings>(c.at("layers")), (Strings{"Only"}));
}

TEST_F(CardKernelTest, TvmFfiKernelsReadTheirOwnExtensionDirectory) {
  build_toml("[general.hub]\nrepo-id = \"acme/my-relu\"\n", "", "[tvm-ffi]\nsrc = [\"tvm-ffi-ext/b.cpp\"]\n");
  write(kernel_ / "torch-ext" / "my_relu" / "__init__.py", "__all__ = [\"wrong\"]\n");
  write(kernel_ / "tvm-ffi-ext" / "my_relu" / "__init__.py", "__all__ = [\"right\"]\n");
  EXPECT_EQ(std::get<Strings>(context().at("functions")), (Strings{"right"}));
}

TEST_F(CardKernelTest, MissingRepoIdAndMissingTemplateAreErrors) {
  build_toml("");
  EXPECT_EQ(error_of([&] { card::card_context(kernel_, config()); }),
            "Cannot fill card template because `repo-id` is not specified in `[general.hub]`");
  EXPECT_EQ(error_of([&] { card::render_card(kernel_); }),
            "CARD.md template not found at `" + (kernel_ / "CARD.md").string() + "`");
  write(kernel_ / "CARD.md", "{{ repo_id }}\n");
  EXPECT_THROW(card::render_card(kernel_), card::MissingRepoIdError);
  // A malformed template is reported first, naming the file and line.
  write(kernel_ / "CARD.md", "ok\n{% if x %}\n");
  EXPECT_EQ(error_of([&] { card::render_card(kernel_); }),
            (kernel_ / "CARD.md").string() + ":2: `{% if %}` is never closed (missing `{% endif %}`)");
}

TEST_F(CardKernelTest, TheDefaultTemplateRendersTheCardFacts) {
  build_toml("[general.hub]\nrepo-id = \"acme/my-relu\"\n", "upstream = \"https://github.com/org/relu\"\n");
  write(kernel_ / "CARD.md", std::string(embedded_file("scaffold/data/CARD.md")));
  write(module_dir() / "__init__.py", "__all__ = [\"my_relu\", \"layers\"]\n");
  write(module_dir() / "layers.py", "class MyReLU:\n    pass\n");
  write(kernel_ / "benchmarks" / "benchmark.py", "");
  std::string out = card::render_card(kernel_);
  EXPECT_EQ(out.rfind("---\nlibrary_name: kernels\nlicense: apache-2.0\n---\n", 0), 0u) << out;
  EXPECT_TRUE(contains(out, "get_kernel(\"acme/my-relu\", version=2)\n")) << out;
  EXPECT_TRUE(contains(out, "# result = kernel.my_relu(...)\n")) << out;
  EXPECT_TRUE(contains(out, "## Functions\n\n- `my_relu`\n\n")) << out;
  EXPECT_TRUE(contains(out, "## Layers\n")) << out;
  EXPECT_TRUE(contains(out, "- `MyReLU`\n")) << out;
  EXPECT_TRUE(contains(out, "kernels benchmark acme/my-relu --version 2\n")) << out;
  EXPECT_TRUE(contains(out, "https://github.com/org/relu")) << out;
  EXPECT_FALSE(contains(out, "## Source")) << out;
  EXPECT_FALSE(contains(out, "{%")) << out;
  EXPECT_FALSE(contains(out, "{{")) << out;
  // trim_blocks: no blank lines left where block tags stood.
  EXPECT_FALSE(contains(out, "\n\n\n")) << out;

  // Without functions, layers or benchmark those sections disappear.
  fs::remove(module_dir() / "__init__.py");
  fs::remove(kernel_ / "benchmarks" / "benchmark.py");
  out = card::render_card(kernel_);
  EXPECT_FALSE(contains(out, "## Functions")) << out;
  EXPECT_FALSE(contains(out, "## Layers")) << out;
  EXPECT_FALSE(contains(out, "kernels benchmark")) << out;
  EXPECT_FALSE(contains(out, "For example")) << out;
}

TEST_F(CardKernelTest, BuildWritesTheCardIntoBuildOrSkipsWithoutRepoId) {
  build_toml();
  // No CARD.md: nothing to do.
  card::BuildCardResult none = card::write_build_card(kernel_);
  EXPECT_FALSE(none.written || none.skipped);
  EXPECT_FALSE(fs::exists(kernel_ / "build" / "CARD.md"));

  write(kernel_ / "CARD.md", "# {{ repo_id }} v{{ version }}\n");
  card::BuildCardResult done = card::write_build_card(kernel_);
  ASSERT_TRUE(done.written);
  EXPECT_EQ(*done.written, kernel_ / "build" / "CARD.md");
  EXPECT_EQ(read_file(kernel_ / "build" / "CARD.md"), "# acme/my-relu v2\n");

  build_toml("");
  fs::remove(kernel_ / "build" / "CARD.md");
  card::BuildCardResult skipped = card::write_build_card(kernel_);
  EXPECT_FALSE(skipped.written);
  ASSERT_TRUE(skipped.skipped);
  EXPECT_TRUE(contains(*skipped.skipped, "`repo-id` is not specified"));
  EXPECT_FALSE(fs::exists(kernel_ / "build" / "CARD.md"));
}
