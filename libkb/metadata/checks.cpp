#include "libkb/metadata/checks.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"

namespace kb::metadata {

namespace fs = std::filesystem;

namespace {

bool is_bytecode(const fs::directory_entry& entry) {
  std::error_code ec;
  if (entry.path().filename() == "__pycache__") return entry.is_directory(ec) && !entry.is_symlink(ec);
  return entry.path().extension() == ".pyc";
}

// Bytecode entries below `dir`, without descending into __pycache__ itself.
std::vector<fs::path> bytecode_entries(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!is_bytecode(*it)) continue;
    found.push_back(it->path());
    std::error_code ec2;
    if (it->is_directory(ec2)) it.disable_recursion_pending();
  }
  if (ec) throw Error("cannot walk `" + dir.string() + "`: " + ec.message());
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<std::string> check_layout(const fs::path& module_dir, std::string_view module_name) {
  std::vector<std::string> problems;
  std::string where = "Python module at `" + module_dir.string() + "`";
  std::error_code ec;
  if (!fs::is_directory(module_dir, ec)) return {where + " is not a directory"};
  if (!fs::is_regular_file(module_dir / "__init__.py", ec)) problems.push_back(where + " must contain __init__.py");
  std::string module(module_name);
  if (!module.empty() && fs::exists(fs::symlink_status(module_dir / module, ec)))
    problems.push_back(where + " must not contain `" + module + "` (no nested " + module + "/" + module + ")");
  for (const fs::path& bytecode : bytecode_entries(module_dir))
    problems.push_back(where + " ships bytecode: `" + relative_slash_path(bytecode, module_dir) + "`");
  return problems;
}

size_t remove_bytecode(const fs::path& dir) {
  size_t removed = 0;
  for (const fs::path& path : bytecode_entries(dir)) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) throw Error("cannot remove `" + path.string() + "`: " + ec.message());
    ++removed;
  }
  return removed;
}

fs::path lint_python(const std::optional<fs::path>& python) {
  std::string wanted = python ? python->string() : "python3";
  std::optional<fs::path> found = find_program(wanted);
  if (!found) {
    if (python) throw Error("Python interpreter `" + wanted + "` not found or not executable");
    throw Error("python3 not found on PATH; it is needed for the ops registration check");
  }
  return *found;
}

std::vector<OpsViolation> lint_ops_registrations(const fs::path& root, const std::optional<fs::path>& python) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw Error("cannot lint `" + root.string() + "`: no such file or directory");
  ProcessSpec spec;
  // -I: ignore PYTHONPATH and user site-packages, the script needs only the standard library.
  spec.argv = {lint_python(python).string(), "-I", "-c", std::string(embedded_file("metadata/data/ops_lint.py")),
               root.string()};
  ProcessResult result = run_process(spec);
  if (!result.ok())
    throw Error("ops registration check on `" + root.string() + "` failed (exit " +
                std::to_string(result.exit_code) + "): " + result.err);
  nlohmann::json report = nlohmann::json::parse(result.out, nullptr, false);
  if (report.is_discarded() || !report.is_object())
    throw Error("ops registration check on `" + root.string() + "` printed unexpected output: " + result.out);
  std::string parse_errors;
  for (const auto& e : report.value("errors", nlohmann::json::array())) {
    if (!parse_errors.empty()) parse_errors += "\n";
    parse_errors += "Cannot parse Python file `" + e.value("file", std::string()) + "`";
    int line = e.value("line", 0);
    if (line > 0) parse_errors += ", line " + std::to_string(line);
    parse_errors += ": " + e.value("message", std::string());
  }
  if (!parse_errors.empty()) throw Error(parse_errors);
  std::vector<OpsViolation> violations;
  for (const auto& v : report.value("violations", nlohmann::json::array()))
    violations.push_back({v.value("file", std::string()), v.value("line", 0), v.value("kind", std::string()),
                          v.value("name", std::string())});
  return violations;
}

std::string format_ops_report(const std::vector<OpsViolation>& violations) {
  std::string report = "Found Torch library registrations that do not use `add_op_namespace_prefix`:";
  for (const OpsViolation& v : violations)
    report += "\n" + v.file + ":" + std::to_string(v.line) + " " + v.kind + " " + v.name;
  return report;
}

}  // namespace kb::metadata
