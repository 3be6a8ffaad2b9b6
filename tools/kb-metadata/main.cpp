// kb-metadata: finalizes built variants: validates metadata.json, removes
// bytecode, checks the module layout and the ops registrations, records
// provenance and the file digest.
//   kb-genproject . | kb-compile | kb-checkabi | kb-metadata
//   kb-metadata [DIR]                 finalize every variant found in DIR
//   kb-metadata --check-builds [DIR]  only validate each variant's metadata.json
//   kb-metadata --lint-only PATH      only run the ops registration check
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "libkb/events/events.h"
#include "libkb/events/fields.h"
#include "libkb/metadata/checks.h"
#include "libkb/metadata/discover.h"
#include "libkb/metadata/finalize.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "tools/support/tool_main.h"

namespace ev = kb::events;
namespace md = kb::metadata;
namespace fs = std::filesystem;

namespace {

int run_stream(ev::Writer& out, md::FinalizeOptions options) {
  std::map<std::string, bool> portable;  // variant -> abi-checked portable
  int packaged = 0, failed = 0;
  // Every event is forwarded; a variant's variant-packaged follows its variant-built.
  ev::PumpResult stream = ev::pump(
      std::cin, out,
      [&](const ev::Json& e) {
        std::string name = ev::event_name(e);
        if (name == ev::kProject) {
          ev::ProjectEvent project = ev::ProjectEvent::from_json(e);
          if (project.kernel_dir) options.kernel_dir = *project.kernel_dir;
          options.build_layout = *kb::config::parse_build_layout(project.build_layout);
          return true;
        }
        if (name == ev::kAbiChecked) {
          ev::AbiCheckedEvent checked = ev::AbiCheckedEvent::from_json(e);
          portable[checked.variant] = checked.portable;
          return true;
        }
        if (name == ev::kVariantBuilt) {
          ev::VariantBuiltEvent built = ev::VariantBuiltEvent::from_json(e);
          const std::string& variant = built.variant;
          md::FinalizeOptions variant_options = options;
          if (built.kernel_dir) variant_options.kernel_dir = *built.kernel_dir;
          fs::path dir = built.dir;
          std::cerr << "kb-metadata: " << variant << ": packaging\n";
          md::FinalizeResult result = md::finalize_variant(dir, variant_options);
          if (!result.ok) {
            std::string message = kb::join(result.problems, "\n");
            std::cerr << "kb-metadata: " << variant << ": FAILED\n" << message << "\n";
            out.error(message, variant);
            ++failed;
            return true;
          }
          ev::Json done = out.make(ev::kVariantPackaged);
          done["variant"] = variant;
          done["dir"] = dir.string();
          // Without an ABI check only pure-Python (noarch) variants are portable.
          auto checked = portable.find(variant);
          done["portable"] = checked != portable.end() ? checked->second : built.kind == "noarch";
          done["metadata"] = ev::Json::parse(result.metadata_json().dump());
          out.emit(done);
          ++packaged;
        }
        return true;
      },
      ev::Forward::BeforeHandling);
  bool success = !stream.malformed && failed == 0;
  out.finished(success, {{"variants", packaged}, {"failed", failed}});
  return success && !stream.upstream_failed ? 0 : 1;
}

int run_standalone(const fs::path& dir, bool check_only, md::FinalizeOptions options) {
  md::DiscoveredVariants found = md::discover_variants(dir);
  if (!options.kernel_dir) options.kernel_dir = dir;
  int failed = 0;
  for (const fs::path& variant : found.variants) {
    std::string name = variant.filename().string();
    try {
      if (check_only) {
        md::check_variant_metadata(variant);
        continue;
      }
      std::cerr << "Packaging variant `" << name << "`...\n";
      md::FinalizeResult result = md::finalize_variant(variant, options);
      if (!result.ok) throw kb::Error(kb::join(result.problems, "\n"));
    } catch (const kb::Error& e) {
      std::cerr << "Error: " << (check_only ? "" : name + ": ") << e.what() << "\n";
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Finalize built kernel variants: validate metadata.json, remove Python bytecode, check the\n"
      "module layout and that Torch ops are registered with add_op_namespace_prefix, record\n"
      "provenance (kb and kernel git commits) and the per-file sha256 digest.\n\n"
      "Without DIR and with a pipe on stdin it reads the kb event stream: every event is\n"
      "forwarded, and each variant-built event is followed by variant-packaged (or error).\n"
      "With DIR it finalizes every variant found in DIR/result, DIR/build or DIR.",
      "kb-metadata"};
  std::string dir;
  bool check_builds = false;
  std::string lint_path, python, kernel_dir;
  app.add_option("DIR", dir, "Kernel directory (or a directory of variants)");
  auto* check = app.add_flag("--check-builds", check_builds,
                             "Only check that every variant's metadata.json is valid (changes nothing)");
  auto* lint = app.add_option("--lint-only", lint_path,
                              "Only run the ops registration check on PATH (a source tree or .py file)")
                   ->option_text("PATH");
  check->excludes(lint);
  app.add_option("--python", python, "Python interpreter for the ops registration check (default: python3)");
  std::string build_layout;
  app.add_option("--build-layout", build_layout,
                 "Package layout of finalized variants: files, or zip (the Python package in <id>.zip; default: "
                 "the stream's, else files)")
      ->check(CLI::IsMember({"files", "zip"}));
  app.add_option("--kernel-dir", kernel_dir,
                 "Git repository for the kernel provenance (default: DIR, or the stream's kernel_dir)");
  kb::tools::ToolRun run("kb-metadata");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    if (!lint_path.empty() && !dir.empty()) throw kb::tools::UsageError("--lint-only takes its own PATH and no DIR");
    md::FinalizeOptions options;
    if (!python.empty()) options.python = python;
    if (!kernel_dir.empty()) options.kernel_dir = kernel_dir;
    if (!build_layout.empty()) options.build_layout = *kb::config::parse_build_layout(build_layout);
    if (!lint_path.empty()) {
      auto violations = md::lint_ops_registrations(lint_path, options.python);
      if (violations.empty()) return 0;
      std::cerr << md::format_ops_report(violations) << "\n";
      return 1;
    }
    if (dir.empty() && !check_builds && ev::stdin_is_stream()) return run_stream(run.begin_stream(), options);
    return run_standalone(dir.empty() ? fs::path(".") : fs::path(dir), check_builds, options);
  });
}
