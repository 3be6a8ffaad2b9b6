// kb-lock: lock a project's kernels and download the locked kernels.
//   kb-lock [lock] PROJECT_DIR                        (kb lock)
//   kb-lock download PROJECT_DIR [--all-variants]     (kb download)
// Events (JSON Lines) on stdout, a human summary on stderr; exit 1 on failure.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

#include "libkb/cache/cache.h"
#include "libkb/events/events.h"
#include "libkb/hub/hub.h"
#include "libkb/lock/download.h"
#include "libkb/lock/project.h"
#include "libkb/runtime/variants_report.h"
#include "libkb/util/error.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;
namespace ev = kb::events;

namespace {

struct Options {
  std::string project_dir;
  std::optional<std::string> hub_spec;
  bool quiet = false;
  // lock
  std::string format = "structured";
  bool migrate = false;
  // download
  bool all_variants = false;
  std::string python, backend;
};

int lock(const Options& o, ev::Writer& out) {
  std::unique_ptr<kb::hub::Hub> hub = kb::hub::open_hub(o.hub_spec);
  kb::lock::LockOptions options;
  options.warn = [&](const std::string& message) {
    std::cerr << "warning: " << message << "\n";
    out.warning(message);
  };
  options.format = o.format == "legacy" ? kb::lock::LockFormat::Legacy : kb::lock::LockFormat::Structured;
  if (o.migrate) {
    if (options.format != kb::lock::LockFormat::Structured)
      throw kb::tools::UsageError("--migrate writes the structured format; it cannot be combined with --format legacy");
    options.pinned_commits = kb::lock::legacy_commits(fs::path(o.project_dir) / std::string(kb::lock::kLockFileName));
  }
  kb::lock::ProjectLock result = kb::lock::lock_project(*hub, o.project_dir, options);
  if (!result.declared) {
    std::string message = (fs::path(o.project_dir) / "pyproject.toml").string() +
                          " has no [tool.kernels.dependencies] table: nothing to lock";
    std::cerr << message << "\n";
    out.warning(message);
    out.finished(true, {{"kernels", 0}});
    return 0;
  }
  for (size_t i = 0; i < result.locks.size(); ++i) {
    const kb::lock::KernelLock& k = result.locks[i];
    ev::Json e = out.make(ev::kKernelLocked);
    e["repo_id"] = k.repo_id;
    e["sha"] = k.sha;
    if (k.pin) {
      // Structured: every kernel of the trees, each with its pin.
      if (k.pin->version)
        e["version"] = *k.pin->version;
      else
        e["revision"] = *k.pin->revision;
      out.emit(e);
      if (!o.quiet)
        std::cerr << "Locked " << k.repo_id << " "
                  << (k.pin->version ? "v" + std::to_string(*k.pin->version) : "revision " + *k.pin->revision)
                  << " at " << k.sha << "\n";
      continue;
    }
    e["requested"] = result.dependencies[i].repo_id;
    e["version"] = result.dependencies[i].version;
    e["variants"] = ev::Json::array();
    for (const auto& [name, _] : k.variants) e["variants"].push_back(name);
    out.emit(e);
    if (!o.quiet)
      std::cerr << "Locked " << k.repo_id << " v" << result.dependencies[i].version << " at " << k.sha << " ("
                << k.variants.size() << " variant(s))\n";
  }
  ev::Json written = out.make(ev::kLockWritten);
  written["path"] = result.lock_path.string();
  written["kernels"] = result.locks.size();
  out.emit(written);
  if (!o.quiet) std::cerr << "Wrote " << result.lock_path.string() << " (" << result.locks.size() << " kernel(s))\n";
  out.finished(true, {{"kernels", result.locks.size()}});
  return 0;
}

int download(const Options& o, ev::Writer& out) {
  std::vector<kb::lock::KernelLock> locks = kb::lock::read_project_lock(o.project_dir);
  kb::lock::DownloadOptions options;
  options.cache_root = kb::cache::default_cache_root();
  options.all_variants = o.all_variants;
  options.local_files_only = kb::cache::offline_mode();
  if (!o.all_variants) {
    // The variant is the one get_kernel would load in this interpreter.
    std::string why;
    auto python = kb::runtime::select_python(o.python.empty() ? std::nullopt : std::optional<fs::path>(o.python), &why);
    if (!python && !o.quiet) std::cerr << "note: " << why << "; only noarch variants can match\n";
    options.env = kb::runtime::python_environment(python ? &*python : nullptr,
                                                  o.backend.empty() ? std::nullopt : std::optional(o.backend));
  }
  std::unique_ptr<kb::hub::Hub> hub = kb::hub::open_hub(o.hub_spec);
  size_t failed = 0;
  for (const kb::lock::KernelLock& k : locks) {
    std::cerr << "Downloading `" << k.repo_id << "` with SHA: " << k.sha << "\n";
    try {
      std::vector<kb::lock::DownloadedVariant> got = kb::lock::download_locked(*hub, k, options);
      ev::Json e = out.make(ev::kKernelDownloaded);
      e["repo_id"] = k.repo_id;
      e["sha"] = k.sha;
      e["variants"] = ev::Json::array();
      for (const auto& v : got) {
        e["variants"].push_back({{"variant", v.variant}, {"dir", v.dir.string()}});
        if (!o.quiet) std::cerr << "  " << v.variant << ": verified, " << v.dir.string() << "\n";
      }
      out.emit(e);
    } catch (const std::exception& err) {
      ++failed;
      std::cerr << "Error: " << err.what() << "\n";
      ev::Json e = out.make(ev::kError);
      e["message"] = err.what();
      e["repo_id"] = k.repo_id;
      out.emit(e);
    }
  }
  out.finished(failed == 0, {{"kernels", locks.size()}, {"failed", failed}});
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Lock the kernels a project depends on, or download the locked kernels.\n"
      "  kb-lock [lock] PROJECT_DIR     resolve [tool.kernels.dependencies] of PROJECT_DIR/pyproject.toml\n"
      "                                 and the kernels they depend on, on the hub, and write\n"
      "                                 PROJECT_DIR/kernels.lock (--format, --migrate)\n"
      "  kb-lock download PROJECT_DIR   fetch every kernel of PROJECT_DIR/kernels.lock at its locked\n"
      "                                 commit into the cache and verify it against the lock\n"
      "The hub comes from KB_HUB (local, local:DIR, git+URL, hf) unless --hub is given.\n"
      "Events (JSON Lines) go to stdout, a summary to stderr; the exit status is 1 on failure.",
      "kb-lock"};
  Options o;
  app.add_option("--hub", o.hub_spec, "Hub to use instead of KB_HUB");
  app.add_flag("-q,--quiet", o.quiet, "Print only errors and warnings on stderr");
  app.add_option("PROJECT_DIR", o.project_dir, "Project directory holding pyproject.toml (lock)");
  app.fallthrough();  // subcommands created below accept --hub and -q too
  const auto add_lock_options = [&](CLI::App& cmd) {
    cmd.add_option("--format", o.format,
                   "structured: the format of kernels >= 0.17, with the kernels' dependency trees (default); "
                   "legacy: the format of kernels <= 0.16, with a hash per variant")
        ->check(CLI::IsMember({"structured", "legacy"}));
    cmd.add_flag("--migrate", o.migrate,
                 "Rewrite a legacy PROJECT_DIR/kernels.lock in the structured format at the commits it pins");
  };
  add_lock_options(app);
  CLI::App* lock_cmd = app.add_subcommand("lock", "Write PROJECT_DIR/kernels.lock (the default)");
  lock_cmd->add_option("PROJECT_DIR", o.project_dir, "Project directory holding pyproject.toml")->required();
  add_lock_options(*lock_cmd);
  CLI::App* download_cmd = app.add_subcommand("download", "Download the kernels of PROJECT_DIR/kernels.lock");
  download_cmd->add_option("PROJECT_DIR", o.project_dir, "Project directory holding kernels.lock")->required();
  download_cmd->add_flag("--all-variants", o.all_variants, "Every locked variant instead of the one for this system");
  download_cmd->add_option("--python", o.python,
                           "Interpreter whose torch picks the variant (default: KB_PYTHON, else the first with torch)");
  download_cmd->add_option("--backend", o.backend, "Pick the variant for this backend: cpu or torch's own");
  app.require_subcommand(0, 1);
  kb::tools::ToolRun run("kb-lock");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    if (!lock_cmd->parsed() && !download_cmd->parsed() && o.project_dir.empty())
      throw kb::tools::UsageError("PROJECT_DIR is required");
    ev::Writer& out = run.begin_stream();
    return download_cmd->parsed() ? download(o, out) : lock(o, out);
  });
}
