// kb-genproject: reads build.toml, writes the generated CMake/Python project
// (into the kernel's scratch directory, outside the kernel tree) and emits
// the build plan as events. Also the engine behind `kb check-config`, `kb
// list-variants`, `kb create-pyproject`, `kb clean-pyproject` (both in place)
// and `kb scratch-dir`.
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/config/config.h"
#include "libkb/git/git.h"
#include "libkb/pipeline/genproject.h"
#include "libkb/pipeline/scratch.h"
#include "libkb/project/project.h"
#include "libkb/util/error.h"
#include "tools/support/tool_main.h"

namespace {

int clean_pyproject(const std::filesystem::path& kernel_dir, const std::filesystem::path& target, bool dry_run,
                    bool force) {
  auto config = kb::config::load_build_config(kernel_dir);
  std::vector<std::filesystem::path> existing;
  for (const auto& rel : kb::project::generated_paths(config))
    if (std::filesystem::exists(target / rel)) existing.push_back(rel);
  if (existing.empty()) {
    std::cout << "No generated artifacts found to clean.\n";
    return 0;
  }
  std::cout << (dry_run ? "Files that would be deleted:\n" : "Files to delete:\n");
  for (const auto& rel : existing) std::cout << "  " << rel.generic_string() << "\n";
  if (dry_run) return 0;
  if (!force) {
    std::cout << "Continue? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "yes") {
      std::cout << "Aborted.\n";
      return 1;
    }
  }
  bool ok = true;
  for (const auto& rel : existing) {
    std::error_code ec;
    if (std::filesystem::remove(target / rel, ec))
      std::cout << "Deleted: " << rel.generic_string() << "\n";
    else
      ok = false;
  }
  std::error_code ec;
  if (std::filesystem::is_empty(target / "cmake", ec) && std::filesystem::remove(target / "cmake", ec))
    std::cout << "Removed empty directory: cmake\n";
  if (!ok) throw kb::Error("Some files could not be deleted");
  std::cout << "Cleaned " << existing.size() << " generated artifacts.\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate the build project of a kernel and plan its variants (kb event stream on stdout)",
               "kb-genproject"};
  kb::pipeline::GenprojectOptions options;
  std::string kernel_dir = ".", target_dir, kernel_sha;
  std::vector<std::string> backends;
  bool check_config = false, list_variants = false, create = false, clean = false, print_scratch = false;
  bool dry_run = false, kernel_dirty = false;
  app.add_option("KERNEL_DIR", kernel_dir, "Kernel directory with build.toml (default: .)");
  app.add_option("TARGET_DIR", target_dir,
                 "Where generated files go (default: <scratch dir>/project; create-/clean-pyproject: KERNEL_DIR)");
  app.footer(
      "The scratch directory of a kernel holds the generated project (project/) and the CMake build trees\n"
      "(cmake/<variant>/): ${KB_SCRATCH_DIR:-${XDG_CACHE_HOME:-~/.cache}/kb/scratch}/<name>-<hash of the\n"
      "kernel directory's path>. The kernel directory itself only gets build/.");
  app.add_option(
         "--python", options.pythons,
         "Build only for this interpreter with torch, or with tvm_ffi for a [tvm-ffi] kernel (repeatable; default: "
         "KB_PYTHON, else every one discovered)")
      ->allow_extra_args(false);
  app.add_option("--variant", options.filter.variants, "Plan only this variant (repeatable)")->allow_extra_args(false);
  app.add_option("--backend", backends, "Plan only this backend (repeatable)")->allow_extra_args(false);
  app.add_option("--unique-id", options.unique_id, "Op namespace suffix instead of the git tree id");
  app.add_flag("--strict", options.strict, "Ask downstream tools to fail on ABI violations");
  app.add_option("--target", options.target,
                 "Link arch variants for this manylinux policy (portable, the default on Linux: manylinux_2_28) "
                 "or `native` (this machine only)");
  app.add_flag("-f,--force", options.force, "Overwrite files that kb did not generate");
  auto* modes = app.add_option_group("modes", "Instead of planning a build:");
  modes->add_flag("--check-config", check_config, "Only validate build.toml");
  modes->add_flag("--list-variants", list_variants, "Print the variants this machine would build");
  modes->add_flag("--create-pyproject", create, "Only write the generated project files");
  modes->add_flag("--clean-pyproject", clean, "Delete the generated project files");
  modes->add_flag("--print-scratch-dir", print_scratch, "Print the kernel's scratch directory (see below)");
  modes->require_option(0, 1);
  app.add_option("--kernel-sha", kernel_sha, "create-pyproject: kernel commit for provenance (40/64 hex)");
  app.add_flag("--kernel-dirty", kernel_dirty, "create-pyproject: the kernel commit had local changes");
  app.add_flag("-d,--dry-run", dry_run, "clean-pyproject: only list the files");
  kb::tools::ToolRun run("kb-genproject");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    std::filesystem::path kdir = kernel_dir;
    if (!std::filesystem::is_directory(kdir)) throw kb::Error("`" + kernel_dir + "` is not a directory");
    for (const auto& b : backends) {
      auto parsed = kb::config::parse_backend(b);
      if (!parsed) throw kb::Error("Unknown backend: " + b);
      options.filter.backends.push_back(*parsed);
    }
    std::vector<std::string> warnings;
    if (check_config) {
      kb::config::load_build_config(kdir, {}, &warnings);
      for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
      return 0;
    }
    if (print_scratch) {
      auto config = kb::config::load_build_config(kdir);
      std::cout << kb::pipeline::scratch_dir(kdir, config.general.name).string() << "\n";
      return 0;
    }
    std::filesystem::path target = target_dir.empty() ? kdir : std::filesystem::path(target_dir);
    if (clean) return clean_pyproject(kdir, target, dry_run, options.force);
    if (create) {
      auto config = kb::config::load_build_config(kdir, {}, &warnings);
      for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
      auto provenance = kb::metadata::build_provenance(kdir);
      if (!kernel_sha.empty())
        provenance.kernel = kb::git::CommitState{kb::git::parse_object_id(kernel_sha), kernel_dirty};
      std::string id = options.unique_id ? *options.unique_id : kb::git::unique_id(kdir);
      auto files = kb::project::render_project(config, id, provenance);
      kb::project::write_project(target, files, {.force = options.force, .refuse_existing = true});
      return 0;
    }
    if (list_variants) {
      auto config = kb::config::load_build_config(kdir, {}, &warnings);
      for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
      auto plan = kb::pipeline::plan_for_machine(config, "0000000", options.pythons, options.filter);
      for (const auto& v : plan.planned) std::cout << v.variant << "\n";
      for (const auto& s : plan.skipped)
        std::cerr << kb::config::backend_name(s.backend) << ": skipped, " << s.reason << "\n";
      return 0;
    }
    options.kernel_dir = kdir;
    options.target_dir = target_dir;
    kb::events::Writer& out = run.begin_stream();
    kb::pipeline::run_genproject(options, out, std::cerr);
    out.finished(true);
    return 0;
  });
}
