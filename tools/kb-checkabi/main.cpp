// kb-checkabi: checks that built kernels load on other machines: ELF shared
// objects against a manylinux policy, Mach-O ones against a minimum macOS,
// and both against the Python stable ABI; Torch stable ABI and tvm-ffi
// variants also against those ABIs.
//   kb-genproject . | kb-compile | kb-checkabi | kb-metadata
//   kb-checkabi [--json] PATH...
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/abi/checker.h"
#include "libkb/abi/verdict.h"
#include "libkb/events/events.h"
#include "libkb/events/fields.h"
#include "libkb/util/error.h"
#include "tools/support/tool_main.h"

namespace ev = kb::events;
namespace abi = kb::abi;

namespace {

constexpr const char* kDescription =
    "Check built kernels for portability. Every regular *.so and *.pyd file of a variant\n"
    "is inspected; its undefined symbols (from .symtab and .dynsym, so stripping hides\n"
    "nothing) must use only the symbol versions the manylinux policy allows (ELF), the\n"
    "minimum macOS version must not exceed --macos (Mach-O), and Python C API symbols\n"
    "must belong to the stable ABI (abi3) of --python-abi or older.\n"
    "\n"
    "Torch stable ABI variants (torch-stable-abi<MM>-..., e.g. torch-stable-abi211-cpu-\n"
    "x86_64-linux) are also checked against the Torch stable ABI of their version: C shim\n"
    "functions must be no newer than it and libtorch's C++ API (c10::, at::, torch::\n"
    "outside torch::stable::) must not be used. --torch-stable-abi sets the version for\n"
    "every object instead. tvm-ffi variants (tvm-ffi<MM>-...) must use libtvm_ffi only\n"
    "through its TVMFFI* C API, need no torch, and export at least one function\n"
    "(__tvm_ffi_<name>); --tvm-ffi applies these rules to every object.\n"
    "\n"
    "Each PATH is a kernel directory (variants found in PATH/result, PATH/build or PATH),\n"
    "a variant directory (it holds metadata.json) or a single shared object; default: .\n"
    "Standalone the report goes to stdout (with --json: events to stdout, report to\n"
    "stderr); exit status 1 when a problem is found, unless --warn-only.\n"
    "\n"
    "Without PATH and with a pipe on stdin it reads the kb event stream: every event is\n"
    "forwarded; each variant-built event is checked and preceded by an abi-checked event.\n"
    "Problems become an error event (exit 1) in strict projects and a warning otherwise.\n"
    "\n"
    "The verdict on each variant directory is recorded in .kb-abi/<variant>.json beside it\n"
    "(build/.kb-abi/), where `kb upload` uses it as long as the shared objects are unchanged.";

struct Settings {
  abi::CheckOptions options;
  bool warn_only = false;
  bool json = false;
  bool manylinux_given = false;  // -m given: it wins over the project's target
};

CLI::Validator version_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          kb::Version::parse(text);
          return {};
        } catch (const kb::Error& e) {
          return e.what();
        }
      },
      "VERSION");
}

int run_standalone(ev::Writer& out, const std::vector<std::string>& paths, const Settings& s) {
  std::ostream& report = s.json ? std::cerr : std::cout;
  int variants = 0, failed = 0;
  bool arguments_ok = true;
  for (const std::string& path : paths) {
    std::vector<abi::VariantReport> reports;
    try {
      reports = abi::check_path(path, s.options);
    } catch (const kb::Error& e) {
      std::cerr << "Error: " << e.what() << "\n";
      if (s.json) out.error(e.what());
      arguments_ok = false;
      continue;
    }
    for (const abi::VariantReport& r : reports) {
      report << abi::render_text(r, s.options) << std::flush;
      abi::record_verdict(r, s.options);
      ++variants;
      if (!r.ok()) ++failed;
      if (s.json) {
        ev::Json checked = out.make(ev::kAbiChecked);
        checked.update(abi::abi_checked_fields(r, s.options));
        out.emit(checked);
      }
    }
  }
  if (failed) report << "⛔ ABI compatibility issues found in " << failed << " of " << variants << " variant(s)\n";
  bool success = arguments_ok && (failed == 0 || s.warn_only);
  if (s.json) out.finished(success, {{"variants", variants}});
  return success ? 0 : 1;
}

int run_stream(ev::Writer& out, Settings s) {
  bool strict = false, failed = false;
  int variants = 0;
  // Every event is forwarded; a variant's abi-checked goes out just before its variant-built.
  ev::PumpResult stream = ev::pump(std::cin, out, [&](const ev::Json& e) {
    const std::string name = ev::event_name(e);
    if (name == ev::kProject) {
      ev::ProjectEvent project = ev::ProjectEvent::from_json(e);
      strict = project.strict;
      // A portable build is judged by the policy it was linked for.
      if (project.target && *project.target != "native" && !s.manylinux_given) s.options.manylinux = *project.target;
    } else if (name == ev::kVariantBuilt) {
      ev::VariantBuiltEvent built = ev::VariantBuiltEvent::from_json(e);
      const std::string& variant = built.variant;
      {
        abi::VariantReport r = abi::check_variant(built.dir, s.options, variant);
        std::cerr << abi::render_text(r, s.options) << std::flush;
        abi::record_verdict(r, s.options);
        ev::Json checked = out.make(ev::kAbiChecked);
        checked.update(abi::abi_checked_fields(r, s.options));
        out.emit(checked);
        ++variants;
        if (!r.ok()) {
          std::string message = "variant " + r.variant + " is not portable: " + abi::summarize_problems(r, s.options);
          if (strict && !s.warn_only) {
            out.error(message, variant);
            failed = true;
          } else {
            out.warning(message, variant);
          }
        }
      }
    }
    return false;
  });
  failed = failed || stream.malformed;
  out.finished(!failed, {{"variants", variants}});
  return failed || stream.upstream_failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "kb-checkabi"};
  app.get_formatter()->column_width(30);
  Settings s;
  std::vector<std::string> paths;
  std::string python_abi = "3.9", macos = "15.0";
  app.add_option("PATH", paths, "Kernel directory, variant directory or shared object")->check(CLI::ExistingPath);
  CLI::Option* manylinux = app.add_option("-m,--manylinux", s.options.manylinux,
                                          "manylinux policy for ELF files (in a stream: default the policy the project "
                                          "was built for)")
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            try {
              abi::ManylinuxPolicy::require_known(name);
              return {};
            } catch (const kb::Error& e) {
              return e.what();
            }
          },
          "POLICY"))
      ->capture_default_str();
  app.add_option("-p,--python-abi", python_abi, "Oldest Python whose stable ABI (abi3) must suffice")
      ->check(version_validator())
      ->capture_default_str();
  app.add_option("--macos", macos, "Newest minimum macOS version allowed for Mach-O files")
      ->check(version_validator())
      ->capture_default_str();
  std::string torch_stable_abi;
  app.add_option("--torch-stable-abi", torch_stable_abi,
                 "Torch stable ABI version every object must keep to (default: a torch-stable-abi variant's own)")
      ->check(version_validator());
  app.add_flag("--tvm-ffi", s.options.tvm_ffi,
               "Apply the tvm-ffi ABI rules to every object, not only to tvm-ffi variants");
  app.add_flag("--warn-only", s.warn_only, "Report problems but exit 0 (stream mode: warnings, not errors)");
  app.add_flag("--json", s.json, "Standalone: write abi-checked/finished events to stdout, the report to stderr");
  kb::tools::ToolRun run("kb-checkabi");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    s.manylinux_given = manylinux->count() > 0;
    s.options.python_abi = kb::Version::parse(python_abi);
    s.options.macos = kb::Version::parse(macos);
    if (!torch_stable_abi.empty()) s.options.torch_stable_abi = kb::Version::parse(torch_stable_abi);
    if (paths.empty() && ev::stdin_is_stream()) return run_stream(run.begin_stream(), s);
    if (paths.empty()) paths.push_back(".");
    if (s.json) run.begin_stream();
    return run_standalone(run.events(), paths, s);
  });
}
