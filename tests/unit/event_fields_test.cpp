#include "libkb/events/fields.h"

#include <gtest/gtest.h>

#include "tests/unit/support.h"

using kb::testing::error_of;
using namespace kb::events;

TEST(EventFields, RequiredOptionalAndWrongTypedFieldsAreNamed) {
  Json e = Json::parse(R"({"event": "variant-built", "variant": "v", "dir": "", "seconds": "3",
                           "up_to_date": null, "kind": 4, "artifacts": ["a", 1]})");
  EXPECT_EQ(string_field(e, "variant"), "v");
  EXPECT_EQ(error_of([&] { string_field(e, "dir"); }), "variant-built event lacks the field \"dir\" (a non-empty string)");
  EXPECT_EQ(error_of([&] { string_field(e, "missing"); }),
            "variant-built event lacks the field \"missing\" (a non-empty string)");
  EXPECT_EQ(optional_string_field(e, "missing"), std::nullopt);
  EXPECT_EQ(error_of([&] { optional_string_field(e, "kind"); }),
            "variant-built event: field \"kind\" must be a string, got number 4");
  // null counts as absent.
  EXPECT_FALSE(bool_field(e, "up_to_date", false));
  EXPECT_EQ(error_of([&] { bool_field(e, "up_to_date"); }), "variant-built event lacks the field \"up_to_date\" (a boolean)");
  EXPECT_EQ(error_of([&] { number_field(e, "seconds", 0.0); }),
            "variant-built event: field \"seconds\" must be a number, got string \"3\"");
  EXPECT_EQ(error_of([&] { string_list_field(e, "artifacts"); }),
            "variant-built event: field \"artifacts\" must be an array of strings, got array [\"a\",1]");
  EXPECT_TRUE(string_list_field(e, "nothing").empty());
  EXPECT_EQ(variant_label(e), "v");
  EXPECT_EQ(variant_label(Json::parse(R"({"event": "x", "variant": [1]})")), "?");
}

TEST(EventFields, TypedEventsReadWhatTheToolsUse) {
  auto built = VariantBuiltEvent::from_json(
      Json::parse(R"({"event": "variant-built", "variant": "torch-cpu", "dir": "/b/torch-cpu", "kind": "noarch"})"));
  EXPECT_EQ(built.variant, "torch-cpu");
  EXPECT_EQ(built.dir, "/b/torch-cpu");
  EXPECT_EQ(built.kind, "noarch");
  EXPECT_EQ(built.kernel_dir, std::nullopt);
  EXPECT_TRUE(ProjectEvent::from_json(Json::parse(R"({"event": "project", "strict": true})")).strict);
  EXPECT_FALSE(ProjectEvent::from_json(Json::parse(R"({"event": "project"})")).strict);
  EXPECT_EQ(error_of([] { AbiCheckedEvent::from_json(Json::parse(R"({"event": "abi-checked", "variant": "v", "portable": 1})")); }),
            "abi-checked event: field \"portable\" must be a boolean, got number 1");
}
