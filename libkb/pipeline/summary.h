#pragma once
// Collects the events of a `kb build` pipeline and renders the human summary.
#include <map>
#include <string>
#include <vector>

#include "libkb/events/events.h"

namespace kb::pipeline {

class BuildSummary {
 public:
  void add(const events::Json& event);
  // One line per variant (built, not portable, failed) and per skipped backend.
  std::string render() const;
  bool success() const;  // no error events and every stage finished successfully
  size_t built_count() const;

 private:
  void add_checked(const events::Json& event);  // throws events::EventError
  struct VariantState {
    std::string status;  // planned, built, packaged, failed
    double seconds = 0;
    bool up_to_date = false;
    bool portable = true;
    size_t violations = 0;
    std::string message;
  };
  std::string kernel_;
  std::vector<std::string> order_;
  std::map<std::string, VariantState> variants_;
  std::vector<std::string> skipped_;
  std::vector<std::string> errors_;  // errors not tied to a variant
  bool finished_ok_ = true;
  VariantState& variant(const std::string& name);
};

}  // namespace kb::pipeline
