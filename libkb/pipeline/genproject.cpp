#include "libkb/pipeline/genproject.h"

#include <algorithm>

#include "libkb/events/fields.h"
#include "libkb/pipeline/scratch.h"

#include "libkb/config/config.h"
#include "libkb/git/git.h"
#include "libkb/metadata/metadata.h"
#include "libkb/portable/target.h"
#include "libkb/project/project.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::pipeline {

Plan plan_for_machine(const config::BuildConfig& config, const std::string& unique_id,
                      const std::vector<std::string>& pythons, const PlanFilter& filter) {
  const bool tvm_ffi = config.framework == config::Framework::TvmFfi;
  // A [tvm-ffi] kernel made only of Rust components has nothing kb compiles:
  // its backends are planned as skipped, whatever interpreters there are.
  if (tvm_ffi && std::none_of(config.kernels.begin(), config.kernels.end(), [](const auto& k) { return !k.rust; }))
    return plan_variants(config, unique_id, {}, std::nullopt, filter);
  toolchain::DiscoveryOptions options =
      toolchain::selection_options(std::vector<std::filesystem::path>(pythons.begin(), pythons.end()),
                                   tvm_ffi ? toolchain::Requirement::TvmFfi : toolchain::Requirement::Torch);
  toolchain::Discovery discovery = toolchain::discover_pythons(options);
  for (const auto& r : discovery.rejected)
    if (r.source == "--python")
      throw Error("--python " + r.candidate.string() + ": " + r.reason +
                  (tvm_ffi ? " (a [tvm-ffi] kernel builds with an interpreter that has PyPI's apache-tvm-ffi)" : ""));
  // A tvm-ffi kernel builds against the tvm-ffi an interpreter has; without
  // one, no backend can be built, so say what was tried.
  if (tvm_ffi && discovery.toolchains.empty())
    throw Error("build.toml has a [tvm-ffi] section, but no Python interpreter found can import tvm_ffi "
                "(PyPI package apache-tvm-ffi: `make tvm-ffi` creates " +
                (toolchain::tvm_ffi_venv()).string() + "; or pass --python / KB_PYTHON). Tried:" +
                (discovery.rejected.empty() ? std::string(" none") : discovery.explain_rejections()));
  return plan_variants(config, unique_id, discovery.toolchains, toolchain::discover_nvcc(), filter);
}

void run_genproject(const GenprojectOptions& options, events::Writer& out, std::ostream& log) {
  std::error_code ec;
  if (!fs::is_directory(options.kernel_dir, ec))
    throw Error("`" + options.kernel_dir.string() + "` is not a directory");
  fs::path kernel_dir = fs::canonical(options.kernel_dir);

  const std::string target =
      options.target.empty() ? portable::default_target() : portable::parse_target(options.target);
  std::vector<std::string> warnings;
  config::BuildConfig config = config::load_build_config(kernel_dir, {}, &warnings);
  for (const auto& w : warnings) {
    log << "warning: " << w << "\n";
    out.warning(w);
  }
  // The generated project goes to the scratch directory, not into the
  // user's kernel directory, unless a target directory is given.
  fs::path scratch = scratch_dir(kernel_dir, config.general.name);
  fs::path target_dir = options.target_dir.empty() ? scratch_project_dir(scratch) : fs::absolute(options.target_dir);
  std::string unique_id = options.unique_id ? *options.unique_id : git::unique_id(kernel_dir);
  auto provenance = metadata::build_provenance(kernel_dir);
  {
    auto files = project::render_project(config, unique_id, provenance);
    if (target_dir != kernel_dir) project::check_package_files(kernel_dir, files, {.force = options.force});
    auto written = project::write_project(target_dir, files, {.force = options.force});
    if (!written.written.empty())
      log << "kb-genproject: wrote " << written.written.size() << " generated file(s) in " << target_dir.string()
          << "\n";
  }

  Plan plan = plan_for_machine(config, unique_id, options.pythons, options.filter);

  events::Json project = out.make(events::kProject);
  project["format"] = events::kFormatVersion;
  project["kernel_dir"] = kernel_dir.string();
  project["project_dir"] = target_dir.string();
  project["scratch_dir"] = scratch.string();
  project["name"] = config.general.name;
  project["module"] = config.module_name();
  project["version"] = config.general.version;
  project["framework"] = std::string(config::framework_table_name(config.framework));
  std::vector<std::string> backends;
  for (auto b : config.general.backends) backends.emplace_back(config::backend_name(b));
  project["backends"] = backends;
  project["unique_id"] = unique_id;
  project["strict"] = options.strict;
  project["target"] = target;
  project["build_layout"] = std::string(config::build_layout_name(config.general.build_layout));
  if (config.general.hub_repo_id) project["repo_id"] = *config.general.hub_repo_id;
  out.emit(project);

  for (const auto& v : plan.planned) {
    events::Json e = planned_event(v, config, kernel_dir.string(), target_dir.string());
    e["tool"] = out.tool();
    if (!v.noarch) e["target"] = target;
    e["scratch_dir"] = scratch.string();
    out.emit(e);
    log << "kb-genproject: planned " << v.variant << "\n";
  }
  for (const auto& s : plan.skipped) {
    events::Json e = skipped_event(s);
    e["tool"] = out.tool();
    out.emit(e);
    log << "kb-genproject: skipped " << config::backend_name(s.backend) << ": " << s.reason << "\n";
  }
  if (plan.planned.empty()) log << "kb-genproject: nothing can be built on this machine\n";
}

}  // namespace kb::pipeline
