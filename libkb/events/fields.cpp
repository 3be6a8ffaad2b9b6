#include "libkb/events/fields.h"

namespace kb::events {

namespace {

std::string label(const Json& e) {
  std::string name = event_name(e);
  return name.empty() ? "event" : name + " event";
}

// nullptr when the field is absent or null.
const Json* find(const Json& e, std::string_view field) {
  if (!e.is_object()) return nullptr;
  auto it = e.find(field);
  if (it == e.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void wrong_type(const Json& e, std::string_view field, std::string_view expected, const Json& value) {
  throw EventError(label(e) + ": field \"" + std::string(field) + "\" must be " + std::string(expected) + ", got " +
                   value.type_name() + " " + value.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 80));
}

[[noreturn]] void missing(const Json& e, std::string_view field, std::string_view expected) {
  throw EventError(label(e) + " lacks the field \"" + std::string(field) + "\" (" + std::string(expected) + ")");
}

}  // namespace

std::optional<std::string> optional_string_field(const Json& e, std::string_view field) {
  const Json* v = find(e, field);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(e, field, "a string", *v);
  return v->get<std::string>();
}

std::string string_field(const Json& e, std::string_view field) {
  std::optional<std::string> v = optional_string_field(e, field);
  if (!v || v->empty()) missing(e, field, "a non-empty string");
  return *v;
}

bool bool_field(const Json& e, std::string_view field, std::optional<bool> fallback) {
  const Json* v = find(e, field);
  if (!v) {
    if (!fallback) missing(e, field, "a boolean");
    return *fallback;
  }
  if (!v->is_boolean()) wrong_type(e, field, "a boolean", *v);
  return v->get<bool>();
}

double number_field(const Json& e, std::string_view field, std::optional<double> fallback) {
  const Json* v = find(e, field);
  if (!v) {
    if (!fallback) missing(e, field, "a number");
    return *fallback;
  }
  if (!v->is_number()) wrong_type(e, field, "a number", *v);
  return v->get<double>();
}

std::vector<std::string> string_list_field(const Json& e, std::string_view field) {
  std::vector<std::string> out;
  const Json* v = find(e, field);
  if (!v) return out;
  if (!v->is_array()) wrong_type(e, field, "an array of strings", *v);
  for (const Json& item : *v) {
    if (!item.is_string()) wrong_type(e, field, "an array of strings", *v);
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string variant_label(const Json& e) {
  const Json* v = find(e, "variant");
  return v && v->is_string() ? v->get<std::string>() : "?";
}

ProjectEvent ProjectEvent::from_json(const Json& e) {
  ProjectEvent p;
  // A stream from a newer kb may mean fields this tool would misread.
  double format = number_field(e, "format", kFormatVersion);
  if (format > kFormatVersion)
    throw EventError("project event: format " + e.at("format").dump() + " is newer than this tool reads (" +
                     std::to_string(kFormatVersion) + "); use tools of the same kb release");
  p.kernel_dir = optional_string_field(e, "kernel_dir");
  p.strict = bool_field(e, "strict", false);
  if (std::optional<std::string> layout = optional_string_field(e, "build_layout")) {
    if (*layout != "files" && *layout != "zip") wrong_type(e, "build_layout", "\"files\" or \"zip\"", *find(e, "build_layout"));
    p.build_layout = *layout;
  }
  p.target = optional_string_field(e, "target");
  return p;
}

VariantBuiltEvent VariantBuiltEvent::from_json(const Json& e) {
  VariantBuiltEvent b;
  b.variant = string_field(e, "variant");
  b.dir = string_field(e, "dir");
  b.kernel_dir = optional_string_field(e, "kernel_dir");
  b.kind = optional_string_field(e, "kind");
  return b;
}

AbiCheckedEvent AbiCheckedEvent::from_json(const Json& e) {
  AbiCheckedEvent a;
  a.variant = string_field(e, "variant");
  a.portable = bool_field(e, "portable", false);
  return a;
}

namespace {

void set_optional(Json& e, const char* field, const std::optional<std::string>& value) {
  if (value) e[field] = *value;
}

}  // namespace

Json ProjectEvent::to_json() const {
  Json e = {{"event", std::string(kProject)}, {"format", kFormatVersion}, {"strict", strict}};
  set_optional(e, "kernel_dir", kernel_dir);
  e["build_layout"] = build_layout;
  set_optional(e, "target", target);
  return e;
}

Json VariantBuiltEvent::to_json() const {
  Json e = {{"event", std::string(kVariantBuilt)}, {"variant", variant}, {"dir", dir}};
  set_optional(e, "kernel_dir", kernel_dir);
  set_optional(e, "kind", kind);
  return e;
}

Json AbiCheckedEvent::to_json() const {
  return {{"event", std::string(kAbiChecked)}, {"variant", variant}, {"portable", portable}};
}

}  // namespace kb::events
