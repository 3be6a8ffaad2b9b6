#pragma once
// The harness every kb-* tool runs under, so that all of them end the same
// way: --help exits 0, a usage error exits 2 with its message, a failure
// exits 1 with "Error: ..." on stderr, and a tool that has started writing an
// event stream also reports the failure in it (an `error` event, then
// `finished{success:false}`), so the next tool in a pipeline learns of it.
// CLI11 is used here and in the tools only, not in libkb.
#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "libkb/events/events.h"
#include "libkb/util/error.h"

namespace kb::tools {

// A usage error found after parsing (a combination CLI11 cannot express):
// the tool exits 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// One run of a tool: its name and its event writer (stamped with the name).
class ToolRun {
 public:
  explicit ToolRun(std::string name) : name_(std::move(name)) { events_.set_tool(name_); }
  const std::string& name() const { return name_; }

  // The tool's event stream on stdout. Call begin_stream() before writing
  // to it, so that a failure from then on is reported in the stream too.
  events::Writer& events() { return events_; }
  events::Writer& begin_stream() {
    streaming_ = true;
    return events_;
  }
  bool streaming() const { return streaming_; }

 private:
  std::string name_;
  events::Writer events_;
  bool streaming_ = false;
};

// Parses the command line, then runs `body`, whose return value is the exit
// code; what escapes it ends the tool as described at the top of this file.
int tool_main(ToolRun& run, CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// The same for a body that parses its own arguments (or takes none).
int tool_main(ToolRun& run, const std::function<int()>& body);

}  // namespace kb::tools
