#pragma once
// Typed access to the events the tools consume. Every reader validates the
// fields it needs: a missing field or one of the wrong type is an
// EventError naming the event, the field and the type expected, which the
// tools report as an "error" event (never an abort).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/events/events.h"
#include "libkb/util/error.h"

namespace kb::events {

class EventError : public Error {
 public:
  using Error::Error;
};

// Required fields throw when absent; optional ones return nullopt (or the
// fallback) when absent or null, and throw when present with another type.
std::string string_field(const Json& e, std::string_view field);
std::optional<std::string> optional_string_field(const Json& e, std::string_view field);
bool bool_field(const Json& e, std::string_view field, std::optional<bool> fallback = std::nullopt);
double number_field(const Json& e, std::string_view field, std::optional<double> fallback = std::nullopt);
std::vector<std::string> string_list_field(const Json& e, std::string_view field);  // absent: empty

// The "variant" of an event for messages: its value when it is a string, else "?".
std::string variant_label(const Json& e);

// Events as read by the tools that act on them (fields in events.h).
// An absent "format" reads as kFormatVersion (streams written by hand); a
// newer one is an EventError.
struct ProjectEvent {
  std::optional<std::string> kernel_dir;
  bool strict = false;
  std::string build_layout = "files";  // "build_layout": "files" | "zip" ([general] build-layout)
  // "target": the manylinux policy variants are linked for (kb build
  // --target), or "native" for a build that only needs to run here.
  std::optional<std::string> target;
  static ProjectEvent from_json(const Json& e);
  // The fields above as an event object (with "format"), for writers and tests.
  Json to_json() const;
  bool operator==(const ProjectEvent&) const = default;
};

struct VariantBuiltEvent {
  std::string variant;
  std::string dir;  // non-empty
  std::optional<std::string> kernel_dir;
  std::optional<std::string> kind;  // "arch" | "noarch"
  static VariantBuiltEvent from_json(const Json& e);
  Json to_json() const;
  bool operator==(const VariantBuiltEvent&) const = default;
};

struct AbiCheckedEvent {
  std::string variant;
  bool portable = false;
  static AbiCheckedEvent from_json(const Json& e);
  Json to_json() const;
  bool operator==(const AbiCheckedEvent&) const = default;
};

// The version of the event format, carried by the first event of a stream
// (project) as "format".
inline constexpr int kFormatVersion = 1;

}  // namespace kb::events
