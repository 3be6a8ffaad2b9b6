// libkb/symbols: the schema-1 rules for symbols.json and writing it by
// importing a variant (a pure-Python one here, with /usr/bin/python3 and its
// torch), including the cases where a variant cannot be imported.
#include <gtest/gtest.h>

#include "libkb/symbols/symbols.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
using kb::testing::contains;
using kb::testing::error_of;
using Json = nlohmann::ordered_json;

namespace {

const char* kPython = "/usr/bin/python3";

struct Variant {
  Variant() : guard(make_temp_dir(fs::temp_directory_path(), "kb-symbols-test")) {
    write_file_atomic(dir() / "metadata.json", R"({"id": "_demo_cpu_1234567"})");
  }
  fs::path dir() const { return guard.path(); }
  TempDirGuard guard;
};

TEST(Symbols, CheckAcceptsSchemaOneAndNamesWhatIsWrong) {
  EXPECT_EQ(error_of([] {
              symbols::check_symbols(Json::parse(R"({"schema_version": 1, "functions": [{"name": "f"}],
                  "layers": [{"name": "L", "attributes": {"has_backward": true, "can_torch_compile": null}}]})"),
                                     "x.json");
            }),
            "");
  EXPECT_EQ(error_of([] { symbols::check_symbols(Json::parse(R"({"schema_version": 2})"), "x.json"); }),
            "Unsupported symbols.json schema at x.json; expected schema_version 1");
  EXPECT_EQ(error_of([] {
              symbols::check_symbols(Json::parse(R"({"schema_version": 1, "functions": [1], "layers": []})"), "x.json");
            }),
            "Invalid symbols.json at x.json: functions must be a list of named symbols");
  EXPECT_EQ(
      error_of([] {
        symbols::check_symbols(
            Json::parse(R"({"schema_version": 1, "functions": [], "layers": [{"name": "L", "attributes": {"a": 1}}]})"),
            "x.json");
      }),
      "Invalid symbols.json at x.json: layer attributes must be booleans or null");
}

TEST(Symbols, WritesThePublicFunctionsOfAnImportedVariant) {
  Variant v;
  write_file_atomic(v.dir() / "__init__.py",
                    "from ._impl import helper\n"
                    "def double(x: int) -> int:\n"
                    "    '''Twice x.'''\n"
                    "    return 2 * x\n"
                    "__all__ = ['double']\n");
  write_file_atomic(v.dir() / "_impl.py", "def helper():\n    pass\n");
  symbols::SymbolsResult result = symbols::write_symbols(v.dir(), kPython);
  ASSERT_FALSE(result.skipped) << *result.skipped;
  EXPECT_TRUE(result.written);
  EXPECT_EQ(result.functions, 1u);
  Json written = Json::parse(read_file(v.dir() / "symbols.json"));
  EXPECT_EQ(written["module"], "_demo_cpu_1234567");
  EXPECT_EQ(written["functions"][0]["name"], "double");
  EXPECT_EQ(written["functions"][0]["doc"], "Twice x.");
  EXPECT_EQ(written["functions"][0]["signature"]["return_annotation"], "int");
  // Unchanged content is not rewritten.
  EXPECT_FALSE(symbols::write_symbols(v.dir(), kPython).written);
}

TEST(Symbols, AVariantThatCannotBeImportedIsSkippedAndLosesItsStaleFile) {
  Variant v;
  write_file_atomic(v.dir() / "__init__.py", "raise RuntimeError('needs a GPU')\n");
  write_file_atomic(v.dir() / "symbols.json", "{}");
  symbols::SymbolsResult result = symbols::write_symbols(v.dir(), kPython);
  ASSERT_TRUE(result.skipped);
  EXPECT_TRUE(contains(*result.skipped, "cannot import it with /usr/bin/python3: RuntimeError: needs a GPU"))
      << *result.skipped;
  EXPECT_FALSE(fs::exists(v.dir() / "symbols.json"));

  result = symbols::write_symbols(v.dir(), "/nonexistent/python");
  ASSERT_TRUE(result.skipped);
  EXPECT_TRUE(contains(*result.skipped, "no Python interpreter")) << *result.skipped;

  fs::remove(v.dir() / "__init__.py");
  result = symbols::write_symbols(v.dir(), kPython);
  ASSERT_TRUE(result.skipped);
  EXPECT_EQ(*result.skipped, "it has no __init__.py to import");
}

}  // namespace
