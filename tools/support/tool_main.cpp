#include "tools/support/tool_main.h"

#include <iostream>

namespace kb::tools {

namespace {

// argv into `app`: --help printed: 0; bad usage, message printed: 2;
// nullopt to go on.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int failed(ToolRun& run, const std::string& message, int code) {
  std::cerr << "Error: " << message << "\n";
  if (run.streaming()) {
    try {
      run.events().error(message);
      run.events().finished(false);
    } catch (...) {
      // stdout is gone (a closed pipe): stderr has said it.
    }
  }
  return code;
}

}  // namespace

int tool_main(ToolRun& run, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    return failed(run, e.what(), 2);
  } catch (const std::exception& e) {
    return failed(run, e.what(), 1);
  }
}

int tool_main(ToolRun& run, CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  if (auto code = parse_command_line(app, argc, argv)) return *code;
  return tool_main(run, body);
}

}  // namespace kb::tools
