#pragma once
// Running child processes (cmake, python, git) without a shell, so arguments
// with spaces or quotes are passed exactly.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kb {

struct ProcessSpec {
  std::vector<std::string> argv;                    // argv[0] is looked up on PATH
  std::filesystem::path cwd;                        // empty: inherit
  std::map<std::string, std::string> env_set;       // added/overridden variables
  std::vector<std::string> env_unset;               // removed variables
  std::optional<std::filesystem::path> output_log;  // stdout+stderr appended here instead of captured
  std::string stdin_data;                           // fed to the child's stdin
};

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;     // captured stdout (empty when output_log is set)
  std::string err;     // captured stderr (empty when output_log is set)
  bool ok() const { return exit_code == 0; }
};

// Runs the process to completion. Throws kb::Error only when it cannot be
// started (program not found, fork failure); a non-zero exit is a result.
ProcessResult run_process(const ProcessSpec& spec);

// Runs `stages` connected stdout-to-stdin like a shell pipeline; stderr of
// every stage is inherited. Each line the last stage prints is handed to
// `on_line` as it arrives. Returns each stage's exit code.
std::vector<int> run_pipeline(const std::vector<std::vector<std::string>>& stages,
                              const std::function<void(const std::string&)>& on_line);

// The full path of `program` on PATH (or as given, if it contains '/'), if executable.
// The environment variable `name`, or `fallback` when it is unset or empty.
std::string env_or(const char* name, const std::string& fallback);

std::optional<std::filesystem::path> find_program(const std::string& program);

// Path of the kb tool `name` (e.g. "kb-compile"): the sibling of the running
// executable when it exists there, else the one on PATH. Throws when absent.
std::filesystem::path tool_path(const std::string& name);

// "cmd arg 'arg with space'" for messages and logs.
std::string shell_quote_command(const std::vector<std::string>& argv);

}  // namespace kb
