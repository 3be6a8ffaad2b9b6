#include "libkb/events/fields.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

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

TEST(EventFields, TypedEventsRoundTrip) {
  ProjectEvent project{std::string("/k/relu"), true};
  EXPECT_EQ(ProjectEvent::from_json(project.to_json()), project);
  EXPECT_EQ(project.to_json()["format"], kFormatVersion);
  ProjectEvent bare;
  EXPECT_EQ(ProjectEvent::from_json(bare.to_json()), bare);
  VariantBuiltEvent built{"torch-cpu", "/k/build/torch-cpu", std::string("/k"), std::string("noarch")};
  EXPECT_EQ(VariantBuiltEvent::from_json(built.to_json()), built);
  VariantBuiltEvent minimal{"v", "/d", std::nullopt, std::nullopt};
  EXPECT_EQ(VariantBuiltEvent::from_json(minimal.to_json()), minimal);
  AbiCheckedEvent checked{"v", true};
  EXPECT_EQ(AbiCheckedEvent::from_json(checked.to_json()), checked);
  // Through the text of a stream line too.
  EXPECT_EQ(VariantBuiltEvent::from_json(Json::parse(built.to_json().dump())), built);
}

TEST(EventFields, ANewerFormatIsRefusedAnAbsentOneIsTheCurrent) {
  EXPECT_NO_THROW(ProjectEvent::from_json(Json::parse(R"({"event": "project"})")));
  EXPECT_NO_THROW(ProjectEvent::from_json(Json::parse(R"({"event": "project", "format": 1})")));
  EXPECT_EQ(error_of([] { ProjectEvent::from_json(Json::parse(R"({"event": "project", "format": 2})")); }),
            "project event: format 2 is newer than this tool reads (1); use tools of the same kb release");
  EXPECT_EQ(error_of([] { ProjectEvent::from_json(Json::parse(R"({"event": "project", "format": "1"})")); }),
            "project event: field \"format\" must be a number, got string \"1\"");
}

namespace {

// The lines a pump over `input` writes, with `handle` emitting "seen-<event>"
// for each event it acts on and consuming "x" events.
std::vector<std::string> pumped(const std::string& input, Forward forward, PumpResult* result = nullptr) {
  std::istringstream in(input);
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out_file = open_memstream(&buffer, &size);
  PumpResult r;
  {
    Writer out(out_file);
    r = pump(
        in, out,
        [&](const Json& e) {
          out.emit({{"event", "seen-" + event_name(e)}});
          return event_name(e) == "x";
        },
        forward);
  }
  fclose(out_file);
  std::string text(buffer, size);
  free(buffer);
  if (result) *result = r;
  std::vector<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) names.push_back(event_name(Json::parse(line)));
  return names;
}

}  // namespace

TEST(EventPump, ForwardsAfterHandlingUnlessConsumedOrBeforeHandlingAlways) {
  const std::string input = "{\"event\":\"a\"}\n{\"event\":\"x\"}\n{\"event\":\"finished\",\"success\":false}\n";
  PumpResult result;
  EXPECT_EQ(pumped(input, Forward::UnlessConsumed, &result),
            (std::vector<std::string>{"seen-a", "a", "seen-x", "seen-finished", "finished"}));
  EXPECT_TRUE(result.upstream_failed);
  EXPECT_FALSE(result.malformed);
  EXPECT_EQ(pumped(input, Forward::BeforeHandling, &result),
            (std::vector<std::string>{"a", "seen-a", "x", "seen-x", "finished", "seen-finished"}));
  EXPECT_TRUE(result.upstream_failed);
  // A truncated line ends the stream with an error event.
  EXPECT_EQ(pumped("{\"event\":\"a\"}\n{\"event\":\"b", Forward::BeforeHandling, &result),
            (std::vector<std::string>{"a", "seen-a", "error"}));
  EXPECT_TRUE(result.malformed);
}
