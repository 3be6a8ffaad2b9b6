#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

#include "libkb/template/placeholders.h"
#include "libkb/util/error.h"

namespace {

using kb::templates::kProjectPlaceholders;
using kb::templates::kScaffoldPlaceholders;
using kb::templates::substitute_placeholders;
using Vars = std::map<std::string, std::string>;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kb::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ScaffoldPlaceholders, SubstituteAndLeaveJinjaAlone) {
  Vars vars = {{"module", "relu"}, {"name", "relu"}};
  EXPECT_EQ(substitute_placeholders("def @@module@@(x): {{ repo_id }} @@name@@", vars, kScaffoldPlaceholders, "t"),
            "def relu(x): {{ repo_id }} relu");
  EXPECT_EQ(substitute_placeholders("no placeholders {% if x %}", vars, kScaffoldPlaceholders, "t"),
            "no placeholders {% if x %}");
  EXPECT_EQ(error_of([&] { substitute_placeholders("@@modul@@", vars, kScaffoldPlaceholders, "t.in"); }),
            "template t.in: unknown placeholder @@modul@@");
  EXPECT_NE(error_of([&] {
              substitute_placeholders("x @@module", vars, kScaffoldPlaceholders, "t.in");
            }).find("template t.in: unterminated placeholder at offset 2"),
            std::string::npos);
}

TEST(ProjectPlaceholders, UnknownAndNonKeyTextIsKept) {
  Vars vars = {{"MODULE", "relu"}, {"UNIQUE_ID", "abc123"}};
  EXPECT_EQ(substitute_placeholders("_@MODULE@_@UNIQUE_ID@", vars, kProjectPlaceholders, "t"), "_relu_abc123");
  // CMake's own @VAR@ and text with '@' (e-mail addresses) stay as they are.
  EXPECT_EQ(substitute_placeholders("@CMAKE_VAR@ me@example.com @MODULE@", vars, kProjectPlaceholders, "t"),
            "@CMAKE_VAR@ me@example.com relu");
  EXPECT_EQ(substitute_placeholders("trailing @", vars, kProjectPlaceholders, "t"), "trailing @");
  EXPECT_EQ(substitute_placeholders("", vars, kProjectPlaceholders, "t"), "");
}

TEST(ProjectPlaceholders, ValuesAreNotScannedAgain) {
  Vars vars = {{"A", "@B@"}, {"B", "b"}};
  EXPECT_EQ(substitute_placeholders("@A@ @B@", vars, kProjectPlaceholders, "t"), "@B@ b");
}

}  // namespace
