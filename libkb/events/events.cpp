#include "libkb/events/events.h"

#include <unistd.h>

#include "libkb/events/fields.h"
#include "libkb/util/error.h"

namespace kb::events {

std::string event_name(const Json& e) {
  if (!e.is_object()) return {};
  auto it = e.find("event");
  if (it == e.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::optional<Json> Reader::next() {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json e = Json::parse(line, nullptr, false);
    if (e.is_discarded())
      throw Error(source_ + ":" + std::to_string(line_) + ": not a JSON event: " + line.substr(0, 120));
    if (event_name(e).empty())
      throw Error(source_ + ":" + std::to_string(line_) + ": JSON object without a string \"event\" field");
    return e;
  }
  return std::nullopt;
}

void Writer::emit(const Json& event) {
  std::string line = event.dump(-1, ' ', false, Json::error_handler_t::replace);
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

Json Writer::make(std::string_view name) const {
  Json e = Json::object();
  e["event"] = std::string(name);
  e["tool"] = tool_;
  return e;
}

void Writer::error(const std::string& message, const std::optional<std::string>& variant) {
  Json e = make(kError);
  e["message"] = message;
  if (variant) e["variant"] = *variant;
  emit(e);
}

void Writer::warning(const std::string& message, const std::optional<std::string>& variant) {
  Json e = make(kWarning);
  e["message"] = message;
  if (variant) e["variant"] = *variant;
  emit(e);
}

void Writer::finished(bool success, Json extra) {
  Json e = make(kFinished);
  e["success"] = success;
  for (auto& [k, v] : extra.items()) e[k] = v;
  emit(e);
}

bool reports_failure(const Json& e) {
  if (event_name(e) != kFinished) return false;
  auto success = e.find("success");
  return success != e.end() && success->is_boolean() && !success->get<bool>();
}

PumpResult pump(std::istream& in, Writer& out, const std::function<bool(const Json&)>& handle, Forward forward) {
  Reader reader(in);
  PumpResult result;
  while (true) {
    std::optional<Json> e;
    try {
      e = reader.next();
    } catch (const Error& err) {
      out.error(err.what());
      result.malformed = true;
      return result;
    }
    if (!e) return result;
    auto pass_on = [&] {
      if (reports_failure(*e)) result.upstream_failed = true;
      out.emit(*e);
    };
    if (forward == Forward::BeforeHandling) pass_on();
    bool consumed = forward == Forward::BeforeHandling;
    try {
      consumed = handle(*e) || consumed;
    } catch (const EventError& err) {
      // An event with a wrong-typed or missing field: reported like a
      // malformed line, and the stream ends there.
      out.error(err.what());
      result.malformed = true;
      return result;
    }
    if (!consumed) pass_on();
  }
}

bool stdin_is_stream() { return !::isatty(STDIN_FILENO); }

}  // namespace kb::events
