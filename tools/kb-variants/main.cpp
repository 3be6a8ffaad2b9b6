// kb-variants: which build variant of a local kernel would load, and why each
// of the others would not, for the torch of a Python interpreter.
//   kb variants PATH [--backend NAME] [--python PY] [--only-compatible] [--json]
// Exit status: 0 a variant would load, 1 none would, 2 usage errors (bad
// option, --backend or --python, missing PATH).
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/runtime/variants_report.h"
#include "libkb/util/error.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;
namespace rt = kb::runtime;

int main(int argc, char** argv) {
  CLI::App app{
      "List every build variant of a local kernel with whether it fits the torch of a Python\n"
      "interpreter and why not, and the directory a loader would load. PATH is a kernel\n"
      "directory holding build/, a build/ directory, or one variant directory (as for\n"
      "LOCAL_KERNELS and get_local_kernel).\n\n"
      "Exit status: 0 when a variant would load, 1 when none would, 2 on usage errors.",
      "kb-variants"};
  std::string path, backend, python;
  bool json = false, only_compatible = false;
  app.add_option("PATH", path, "Kernel directory, build/ directory or variant directory")->required();
  app.add_option("--backend", backend, "Resolve for this backend: cpu or the one torch was built for");
  app.add_option("--python", python,
                 "Interpreter whose torch to resolve for (default: KB_PYTHON, else the first with torch found)");
  app.add_flag("--only-compatible", only_compatible, "Only list the variants compatible with the environment");
  app.add_flag("--json", json, "Print one JSON object {environment, variants, chosen}");
  kb::tools::ToolRun run("kb-variants");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    std::optional<kb::toolchain::PythonToolchain> interpreter;
    kb::resolve::Environment env;
    std::string no_torch;
    try {
      interpreter = rt::select_python(python.empty() ? std::nullopt : std::optional<fs::path>(python), &no_torch);
      env = rt::python_environment(interpreter ? &*interpreter : nullptr,
                                   backend.empty() ? std::nullopt : std::optional<std::string>(backend));
    } catch (const kb::Error& e) {
      throw kb::tools::UsageError(e.what());  // a bad --python or --backend
    }
    std::error_code ec;
    if (!fs::exists(path, ec)) throw kb::tools::UsageError("Could not find kernel in " + path);

    rt::VariantsReport report = rt::report_local_variants(path, env);
    if (only_compatible) rt::keep_compatible(report);
    if (json) {
      nlohmann::ordered_json out = {{"environment", rt::environment_json(env)}};
      out["environment"]["python"] = interpreter ? nlohmann::ordered_json(interpreter->python.string()) : nullptr;
      out.update(rt::report_json(report));
      std::cout << out.dump() << "\n";
    } else {
      std::cout << "Environment: " << env.describe() << " ("
                << (interpreter ? interpreter->describe() : "no torch: only noarch variants can match") << ")\n";
      if (!interpreter) std::cerr << "Note: " << no_torch << "\n";
      std::cout << rt::render_report(report);
    }
    return report.chosen ? 0 : 1;
  });
}
