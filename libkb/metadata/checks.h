#pragma once
// Checks on the Python side of a kernel (builder spec 6.3 step 2), run on the
// source module and on every built variant: the module layout and the ops
// registration lint (Torch library registrations must use the kernel's
// unique namespace through add_op_namespace_prefix).
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kb::metadata {

// Problems with the module directory `module_dir` of Python module
// `module_name` (a source torch-ext/<module>/ or a built variant dir):
//   "Python module at `<dir>` must contain __init__.py"
//   "Python module at `<dir>` must not contain `<module>` (no nested <module>/<module>)"
//   "Python module at `<dir>` ships bytecode: `<relative path>`"  (__pycache__, *.pyc)
std::vector<std::string> check_layout(const std::filesystem::path& module_dir, std::string_view module_name);

// Deletes every __pycache__ directory and *.pyc file below `dir` (symlinked
// directories are not entered). Returns how many entries were removed.
size_t remove_bytecode(const std::filesystem::path& dir);

struct OpsViolation {
  std::string file;  // path as found below the linted root (root joined with the relative path)
  int line = 0;      // line of the offending decorator
  std::string kind;  // "function", "async function" or "class"
  std::string name;
  friend bool operator==(const OpsViolation&, const OpsViolation&) = default;
};

// The Python interpreter used for the lint: `python` when given (must be
// executable), else python3 on PATH. Throws kb::Error when there is none.
std::filesystem::path lint_python(const std::optional<std::filesystem::path>& python);

// Lints every *.py below `root` (or `root` itself when it is a file), in
// sorted path order. Throws kb::Error naming the file when a file does not
// parse as Python ("Cannot parse Python file `<f>`, line N: <msg>").
std::vector<OpsViolation> lint_ops_registrations(const std::filesystem::path& root,
                                                 const std::optional<std::filesystem::path>& python = std::nullopt);

// "Found Torch library registrations that do not use `add_op_namespace_prefix`:"
// then "<file>:<line> <kind> <name>" per violation, newline-separated.
std::string format_ops_report(const std::vector<OpsViolation>& violations);

}  // namespace kb::metadata
