// kb-link: the linker launcher of portable builds. The generated CMake
// project of a `kb build --target manylinux_X_Y` variant runs every link as
//   kb-link --policy manylinux_X_Y --provided <torch library>... -- <link command>
// and kb-link links the shared object so that it needs no symbol version or
// library beyond what the policy (and the torch it is built for) allows, or
// fails naming what stands in the way. See libkb/portable/link.h.
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/portable/link.h"
#include "tools/support/tool_main.h"

int main(int argc, char** argv) {
  CLI::App app{"Link a kernel's shared object portably (a linker launcher for the generated CMake project)",
               "kb-link"};
  kb::portable::LinkRequest request;
  std::vector<std::string> provided;
  app.add_option("--policy", request.policy, "manylinux policy to satisfy")->capture_default_str();
  app.add_option("--provided", provided,
                 "A library of the framework (libtorch.so, ...): it and the libraries it needs may be needed too "
                 "(repeatable)")
      ->allow_extra_args(false);
  app.footer("Usage: kb-link [options] -- <compiler> <link arguments...>");
  // Everything after "--" is the link command, passed on untouched.
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  for (int i = split + 1; i < argc; ++i) request.command.emplace_back(argv[i]);
  kb::tools::ToolRun run("kb-link");
  return kb::tools::tool_main(run, app, split, argv, [&] {
    if (request.command.empty()) throw kb::tools::UsageError("no link command after `--`");
    request.provided.assign(provided.begin(), provided.end());
    return kb::portable::link_portable(request, std::cerr);
  });
}
