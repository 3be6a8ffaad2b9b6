// kb-init: create a new kernel project (`kb init` dispatches here).
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "libkb/scaffold/scaffold.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "tools/support/tool_main.h"

namespace {

constexpr const char* kDescription =
    "Create a new kernel project: build.toml, Torch bindings, an add-one kernel for\n"
    "each selected compiled backend (cpu, cuda, rocm, metal, xpu), tests, a benchmark,\n"
    "a card template (CARD.md) and a Makefile. The directory becomes a git repository\n"
    "with every file staged (nothing is committed).\n"
    "\n"
    "Frameworks:\n"
    "  --framework torch (default)  a Torch extension (torch-ext/); with\n"
    "                   --stable-abi 2.11 its bindings and kernels use only the Torch\n"
    "                   stable API, so one build loads in Torch 2.11 and later\n"
    "                   (backends cpu and cuda)\n"
    "  --framework tvm-ffi  a tvm-ffi kernel (tvm-ffi-ext/): functions exported\n"
    "                   through tvm-ffi's C ABI that take any DLPack tensor and need\n"
    "                   no Torch (backends cpu and cuda; its tests use numpy, and no\n"
    "                   benchmark is written, as `kernels benchmark` measures Torch\n"
    "                   kernels)\n"
    "\n"
    "Where the project goes:\n"
    "  kb-init PATH --name OWNER/REPO   into PATH\n"
    "  kb-init --name OWNER/REPO        into ./<REPO with '_' as '-'>\n"
    "  kb-init OWNER/REPO               the same as --name OWNER/REPO\n"
    "kb does not read a Hub login, so the owner always comes from --name or an\n"
    "OWNER/REPO path.\n"
    "\n"
    "Names derived from REPO: kernel name (build.toml) = REPO with '_' as '-';\n"
    "Python module = REPO lowercased with '-' as '_'; repo id = OWNER/<kernel name>.\n"
    "\n"
    "Existing files are never replaced unless --overwrite is given; then only the\n"
    "scaffold's own files are rewritten and every other file is kept.";

// `--backends` takes several values, so `kb init --backends cpu cuda mykernel`
// would hand `mykernel` to it. Values end at the first word that is neither a
// backend nor close to one (a near miss like `gpu` stays, to be reported as a
// typo); the list is passed on as one `--backends=a,b` argument.
std::vector<std::string> group_backend_values(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--backends") {
      out.push_back(args[i]);
      continue;
    }
    std::vector<std::string> values;
    while (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') {
      const std::string& word = args[i + 1];
      bool backend = true;
      try {
        kb::scaffold::parse_backends({word});
      } catch (const kb::Error&) {
        backend = false;
      }
      if (!backend && values.size() > 0 && kb::closest_match(word, kb::scaffold::all_backend_names()).empty()) break;
      values.push_back(word);
      ++i;
    }
    out.push_back(values.empty() ? "--backends" : "--backends=" + kb::join(values, ","));
  }
  return out;
}

// A CLI11 check from a parser: its kb::Error's message, or "" when the value parses.
template <class Parse>
std::function<std::string(const std::string&)> accepted_by(Parse parse) {
  return [parse](const std::string& value) -> std::string {
    try {
      parse(value);
      return "";
    } catch (const kb::Error& e) {
      return e.what();
    }
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "kb-init"};
  app.get_formatter()->column_width(34);

  std::optional<std::string> path;
  std::optional<std::string> name;
  std::string license = "Apache-2.0";
  std::vector<std::string> backend_args;
  std::string framework = "torch";
  std::optional<std::string> stable_abi;
  bool overwrite = false;

  app.add_option("PATH", path, "Directory of the new project, or OWNER/REPO (see above)");
  app.add_option("--name", name, "Kernel repository as OWNER/REPO (e.g. my-org/relu)");
  app.add_option("--license", license, "License identifier written to build.toml")->capture_default_str();
  app.add_option("--backends", backend_args,
                 "One or more of all, cann, cpu, cuda, metal, neuron, rocm, tpu, xpu\n"
                 "(case-insensitive; space- or comma-separated; default: cuda)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->check(accepted_by([](const std::string& value) { kb::scaffold::parse_backends({value}); }));
  app.add_option("--framework", framework, "torch or tvm-ffi (see above)")
      ->capture_default_str()
      ->check(accepted_by(kb::scaffold::parse_framework));
  app.add_option("--stable-abi", stable_abi,
                 "Build against the Torch stable ABI from this Torch version on\n"
                 "(MAJOR.MINOR, e.g. 2.11; torch framework only)")
      ->check(accepted_by(kb::scaffold::parse_stable_abi));
  app.add_flag("--overwrite", overwrite, "Replace existing scaffold files (other files are kept)");

  std::vector<std::string> args = group_backend_values(argc, argv);
  std::vector<char*> grouped;
  for (std::string& a : args) grouped.push_back(a.data());
  kb::tools::ToolRun run("kb-init");
  return kb::tools::tool_main(run, app, static_cast<int>(grouped.size()), grouped.data(), [&] {
    kb::scaffold::InitOptions options;
    options.path = path;
    options.name = name;
    options.license = license;
    if (!backend_args.empty()) options.backends = kb::scaffold::parse_backends(backend_args);
    options.framework.framework = kb::scaffold::parse_framework(framework);
    if (stable_abi) options.framework.stable_abi = kb::scaffold::parse_stable_abi(*stable_abi);
    options.overwrite = overwrite;
    auto result = kb::scaffold::init_project(options);
    std::cout << "Initialized `" << result.target.names.repo_id << "` at " << result.target.dir.string() << "\n";
    return 0;
  });
}
