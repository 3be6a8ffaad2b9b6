#pragma once
// Command-line parsing shared by the kb-* tools: CLI11 with the exit codes
// every tool documents (0 after --help, 2 for a usage error).
#include <CLI/CLI.hpp>

#include <optional>

namespace kb {

// Parses argv into `app`. Returns the exit code when the program should stop
// here (--help printed: 0; bad usage, message printed: 2), nullopt to go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace kb
