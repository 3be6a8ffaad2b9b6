#include "libkb/runtime/variants_report.h"

#include "libkb/util/error.h"
#include "libkb/util/platform.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::runtime {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

resolve::TorchFacts torch_facts(const toolchain::PythonToolchain& python) {
  resolve::TorchFacts facts;
  facts.version = python.torch.version_raw;
  facts.cxx11_abi = python.torch.cxx11_abi;
  facts.cuda = python.torch.cuda;
  facts.hip = python.torch.hip;
  facts.xpu = python.torch.xpu;
  facts.mps = python.torch.mps_available;
  return facts;
}

std::optional<toolchain::PythonToolchain> select_python(const std::optional<fs::path>& python, std::string* why) {
  if (python) return toolchain::probe_python(*python);
  // As for builds, KB_PYTHON selects: discovery does not look further.
  bool env_selects = toolchain::kb_python_selects();
  toolchain::Discovery discovery = toolchain::discover_pythons(toolchain::selection_options({}));
  if (!discovery.toolchains.empty()) return discovery.toolchains.front();
  if (why)
    *why = std::string(env_selects ? "no interpreter in KB_PYTHON can import torch"
                                   : "no Python interpreter with torch found") +
           discovery.explain_rejections();
  return std::nullopt;
}

resolve::Environment python_environment(const toolchain::PythonToolchain* python,
                                        const std::optional<std::string>& backend_override) {
  if (!python) {
    HostPlatform host = host_platform();
    return resolve::make_environment(host.machine, host.system, std::nullopt, backend_override);
  }
  resolve::Environment env =
      resolve::make_environment(python->machine, python->system, torch_facts(*python), backend_override);
  // The Python ABI of compiled variants: free-threaded builds load only abi3t.
  if (!python->python_version.empty()) {
    Version v = leading_version(python->python_version);
    env.python = Version({v.major(), v.minor()});
  }
  env.free_threaded = python->gil_disabled;
  return env;
}

VariantsReport report_local_variants(const fs::path& path, const resolve::Environment& env) {
  VariantsReport report;
  report.path = path;
  // The directories choose_local_variant looks in, in its order.
  for (const fs::path& base : resolve::variant_bases(path)) {
    VariantsReport::Group group{base, {}, {}};
    std::vector<variant::Variant> found = resolve::list_variant_dirs(base, &group.skipped);
    if (found.empty()) continue;
    resolve::Resolution r = resolve::resolve(std::move(found), env);
    group.trace = std::move(r.trace);
    report.warnings.insert(report.warnings.end(), r.warnings.begin(), r.warnings.end());
    report.groups.push_back(std::move(group));
  }
  try {
    resolve::LocalChoice choice = resolve::choose_local_variant(path, env);
    report.chosen = choice.variant_dir;
    report.chosen_variant = choice.variant;
  } catch (const Error& e) {
    report.error = e.what();
  }
  return report;
}

void keep_compatible(VariantsReport& report) {
  for (auto& group : report.groups) std::erase_if(group.trace, [](const resolve::Decision& d) { return !d.accepted; });
}

std::string render_report(const VariantsReport& report) {
  std::string out;
  for (const auto& w : report.warnings) out += "Warning: " + w + "\n";
  for (const auto& group : report.groups) {
    out += "Variants in " + group.dir.string() + ":\n";
    if (group.trace.empty()) out += "  No compatible variants found.\n";  // all filtered out (keep_compatible)
    if (!group.trace.empty())
      for (const std::string& line : split(resolve::render_trace(group.trace), '\n')) out += "  " + line + "\n";
    for (const std::string& s : group.skipped) out += "  (not a variant) " + s + "\n";
  }
  if (report.chosen && !report.chosen_variant)
    out += report.chosen->string() + " is a variant directory: it loads as is, without resolution\n";
  if (report.chosen)
    out += "Would load: " + report.chosen->string() + "\n";
  else if (!report.groups.empty())
    out += "No compatible variant: nothing would load\n";
  else
    out += report.error + "\n";
  return out;
}

ordered_json environment_json(const resolve::Environment& env) {
  ordered_json j;
  j["description"] = env.describe();
  j["torch"] = env.torch ? ordered_json(env.torch->str()) : ordered_json(nullptr);
  j["cxx11_abi"] = env.cxx11_abi ? ordered_json(*env.cxx11_abi) : ordered_json(nullptr);
  j["backend"] = env.backend.str();
  j["cpu"] = env.cpu;
  j["os"] = env.os;
  return j;
}

ordered_json report_json(const VariantsReport& report) {
  ordered_json j;
  j["path"] = report.path.string();
  ordered_json variants = ordered_json::array();
  for (const auto& group : report.groups)
    for (const auto& d : group.trace)
      variants.push_back({{"variant", d.variant.str()},
                          {"dir", (group.dir / d.variant.str()).string()},
                          {"accepted", d.accepted},
                          {"reason", d.accepted ? ordered_json(nullptr) : ordered_json(d.reason)}});
  j["variants"] = std::move(variants);
  j["chosen"] = report.chosen ? ordered_json(report.chosen->string()) : ordered_json(nullptr);
  if (!report.error.empty()) j["error"] = report.error;
  if (!report.warnings.empty()) j["warnings"] = report.warnings;
  return j;
}

}  // namespace kb::runtime
