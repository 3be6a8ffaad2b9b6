// JSON Lines event streams as the kb-* tools read them from a pipe: every line
// through the pump the tools share, each event through its typed reader; an
// event a reader accepts prints back to an event that reads equal.
#include <cstdio>
#include <sstream>

#include "fuzz/fuzz_support.h"
#include "libkb/events/events.h"
#include "libkb/events/fields.h"

namespace {

template <class Event>
void round_trip(const kb::events::Json& e) {
  Event parsed;
  if (!kb::fuzz::accepted([&] { parsed = Event::from_json(e); })) return;
  Event again;
  kb::fuzz::require(kb::fuzz::accepted([&] { again = Event::from_json(parsed.to_json()); }),
                    "a typed event, printed, reads again");
  kb::fuzz::require(again == parsed, "a printed typed event reads equal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  static FILE* sink = std::fopen("/dev/null", "w");
  std::istringstream in{std::string(fuzz::text(data, size))};
  events::Writer out(sink);
  out.set_tool("kb-fuzz");
  events::pump(in, out, [](const events::Json& e) {
    std::string name = events::event_name(e);
    if (name == events::kProject) round_trip<events::ProjectEvent>(e);
    else if (name == events::kVariantBuilt) round_trip<events::VariantBuiltEvent>(e);
    else if (name == events::kAbiChecked) round_trip<events::AbiCheckedEvent>(e);
    fuzz::accepted([&] { events::string_list_field(e, "variants"); });
    fuzz::accepted([&] { events::number_field(e, "seconds", 0.0); });
    fuzz::accepted([&] { events::bool_field(e, "success", false); });
    fuzz::accepted([&] { events::variant_label(e); });
    events::reports_failure(e);
    return false;
  });
  return 0;
}
