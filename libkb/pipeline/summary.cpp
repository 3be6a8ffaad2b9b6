#include "libkb/pipeline/summary.h"

#include <cstdio>

#include "libkb/events/fields.h"
#include "libkb/util/strings.h"

namespace kb::pipeline {

BuildSummary::VariantState& BuildSummary::variant(const std::string& name) {
  if (!variants_.count(name)) order_.push_back(name);
  return variants_[name];
}

void BuildSummary::add(const events::Json& e) {
  try {
    add_checked(e);
  } catch (const events::EventError& err) {
    // A malformed event fails the build instead of stopping the summary.
    errors_.push_back(err.what());
  }
}

void BuildSummary::add_checked(const events::Json& e) {
  using events::bool_field;
  using events::number_field;
  using events::optional_string_field;
  std::string name = events::event_name(e);
  std::string v = optional_string_field(e, "variant").value_or("");
  if (name == events::kProject) {
    kernel_ = optional_string_field(e, "name").value_or("") + " v" +
              std::to_string(static_cast<long long>(number_field(e, "version", 0)));
  } else if (name == events::kVariantPlanned) {
    variant(v).status = "planned";
  } else if (name == events::kVariantSkipped) {
    skipped_.push_back(optional_string_field(e, "backend").value_or("?") + ": skipped, " +
                       optional_string_field(e, "reason").value_or(""));
  } else if (name == events::kVariantBuilt) {
    auto& s = variant(v);
    if (s.status != "failed") s.status = "built";
    s.seconds = number_field(e, "seconds", 0.0);
    s.up_to_date = bool_field(e, "up_to_date", false);
  } else if (name == events::kAbiChecked) {
    auto& s = variant(v);
    s.portable = bool_field(e, "portable", true);
    size_t count = 0;
    if (e.contains("files") && e["files"].is_array())
      for (const auto& f : e["files"])
        if (f.is_object() && f.contains("violations") && f["violations"].is_array()) count += f["violations"].size();
    s.violations = count;
  } else if (name == events::kVariantPackaged) {
    auto& s = variant(v);
    if (s.status != "failed") s.status = "packaged";
  } else if (name == events::kError) {
    std::string message = optional_string_field(e, "message").value_or("");
    if (!v.empty()) {
      auto& s = variant(v);
      s.status = "failed";
      if (s.message.empty()) s.message = split(message, '\n').front();
    } else {
      errors_.push_back(optional_string_field(e, "tool").value_or("") + ": " + message);
    }
  } else if (name == events::kFinished) {
    if (!bool_field(e, "success", false)) finished_ok_ = false;
  }
}

bool BuildSummary::success() const {
  if (!finished_ok_ || !errors_.empty()) return false;
  for (const auto& [_, s] : variants_)
    if (s.status == "failed") return false;
  return true;
}

size_t BuildSummary::built_count() const {
  size_t n = 0;
  for (const auto& [_, s] : variants_)
    if (s.status == "built" || s.status == "packaged") ++n;
  return n;
}

std::string BuildSummary::render() const {
  std::string out = "kb build" + (kernel_.empty() ? std::string() : ": " + kernel_) + "\n";
  size_t width = 0;
  for (const auto& v : order_) width = std::max(width, v.size());
  for (const auto& v : order_) {
    const auto& s = variants_.at(v);
    std::string line = "  " + v + std::string(width - v.size() + 2, ' ');
    if (s.status == "failed") {
      line += "FAILED: " + s.message;
    } else if (s.status == "planned") {
      line += "not built";
    } else {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f s", s.seconds);
      line += s.up_to_date ? std::string("up to date") : std::string("built in ") + secs;
      if (!s.portable)
        line +=
            ", NOT PORTABLE (" + std::to_string(s.violations) + " ABI violation" + (s.violations == 1 ? "" : "s") + ")";
    }
    out += line + "\n";
  }
  for (const auto& s : skipped_) out += "  " + s + "\n";
  for (const auto& e : errors_) out += "  error: " + e + "\n";
  if (order_.empty() && errors_.empty()) out += "  nothing to build on this machine\n";
  return out;
}

}  // namespace kb::pipeline
