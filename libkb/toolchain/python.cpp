// Discovery of Python interpreters that can import torch (or tvm_ffi).
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <utility>

#include "libkb/toolchain/facts_cache.h"
#include "libkb/toolchain/toolchain.h"
#include "libkb/util/dirs.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::toolchain {
namespace {

constexpr std::string_view kProbeMarker = "KB-PROBE:";
constexpr const char* kSection = "python";


struct Candidate {
  fs::path path;
  std::string source;
};

// The identity of an interpreter: symlinks resolved, except that a venv's
// bin/python keeps its venv directory (it is the same binary as the base
// interpreter but sees different packages).
fs::path interpreter_identity(const fs::path& candidate) {
  std::error_code ec;
  fs::path absolute = fs::absolute(candidate, ec);
  fs::path dir = fs::weakly_canonical(absolute.parent_path(), ec);
  fs::path resolved = fs::canonical(absolute, ec);
  if (ec) return absolute;
  if (fs::exists(dir / "pyvenv.cfg", ec) || fs::exists(dir.parent_path() / "pyvenv.cfg", ec))
    return dir / resolved.filename();
  return resolved;
}

// Context an entry's validity also depends on: what the probe asks, and the
// environment variables that change what `import torch` finds.
nlohmann::json probe_context(std::string_view probe) {
  return {{"probe_sha256", to_hex(sha256_bytes(probe))},
          {"PYTHONPATH", env_or("PYTHONPATH", "")},
          {"PYTHONHOME", env_or("PYTHONHOME", "")},
          {"PYTHONNOUSERSITE", env_or("PYTHONNOUSERSITE", "")}};
}

std::optional<std::string> optional_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string string_or_empty(const nlohmann::json& j, const char* key) {
  return optional_string(j, key).value_or("");
}

// Files whose change makes cached facts stale.
std::vector<fs::path> watched_files(const fs::path& candidate, const nlohmann::json& facts) {
  std::vector<fs::path> watched;
  std::error_code ec;
  watched.push_back(fs::canonical(candidate, ec));
  if (ec) watched.back() = candidate;
  if (auto exe = optional_string(facts, "executable")) {
    fs::path resolved = fs::canonical(*exe, ec);
    if (!ec) watched.push_back(resolved);
  }
  if (auto prefix = optional_string(facts, "prefix")) watched.push_back(fs::path(*prefix) / "pyvenv.cfg");
  for (const auto& dir : facts.value("site_dirs", nlohmann::json::array()))
    if (dir.is_string()) watched.push_back(dir.get<std::string>());
  if (auto user_site = optional_string(facts, "user_site")) watched.push_back(*user_site);
  if (auto it = facts.find("torch"); it != facts.end() && it->is_object())
    if (auto version_file = optional_string(*it, "version_file")) watched.push_back(*version_file);
  if (auto it = facts.find("tvm_ffi"); it != facts.end() && it->is_object())
    if (auto package_dir = optional_string(*it, "package_dir")) watched.push_back(*package_dir);
  return watched;
}

// Runs the probe; throws kb::Error with the reason when it produces no facts.
nlohmann::json run_probe(const fs::path& candidate, std::string_view probe) {
  ProcessSpec spec;
  spec.argv = {candidate.string(), "-c", std::string(probe)};
  spec.cwd = "/";  // keep a `torch/` directory in the caller's cwd out of sys.path
  ProcessResult result = run_process(spec);
  size_t pos = result.out.rfind(kProbeMarker);
  if (!result.ok() || pos == std::string::npos) {
    std::string detail = trim(result.err);
    if (detail.size() > 400) detail = "..." + detail.substr(detail.size() - 400);
    throw Error("not a working Python interpreter (exit code " + std::to_string(result.exit_code) + ")" +
                (detail.empty() ? "" : ": " + detail));
  }
  std::string line = result.out.substr(pos + kProbeMarker.size());
  line = line.substr(0, line.find('\n'));
  try {
    auto facts = nlohmann::json::parse(line);
    if (!facts.is_object()) throw Error("probe output is not an object");
    return facts;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("unreadable probe output: ") + e.what());
  }
}

// Reads the torch facts; false (with reason) when torch is missing or unreadable.
bool read_torch_facts(const nlohmann::json& facts, TorchFacts& tf, std::string& reason) {
  auto torch = facts.find("torch");
  if (torch == facts.end() || !torch->is_object()) {
    reason = "cannot import torch: " + string_or_empty(facts, "torch_error");
    return false;
  }
  tf.version_raw = string_or_empty(*torch, "version");
  try {
    tf.version = leading_version(tf.version_raw);
  } catch (const Error&) {
    reason = "torch reports an unreadable version `" + tf.version_raw + "`";
    return false;
  }
  tf.cxx11_abi = torch->value("cxx11_abi", false);
  tf.cuda = optional_string(*torch, "cuda");
  tf.hip = optional_string(*torch, "hip");
  tf.xpu = optional_string(*torch, "xpu");
  tf.mps_available = torch->value("mps_available", false);
  tf.package_dir = string_or_empty(*torch, "package_dir");
  std::error_code ec;
  // Only paths that exist: Debian's torch reports a prefix path that does not.
  fs::path prefix_path = string_or_empty(*torch, "cmake_prefix_path");
  if (!prefix_path.empty() && fs::is_directory(prefix_path, ec)) tf.cmake_prefix_path = prefix_path;
  fs::path cmake_dir = string_or_empty(*torch, "cmake_dir");
  if (!cmake_dir.empty() && fs::exists(cmake_dir / "TorchConfig.cmake", ec)) tf.cmake_dir = cmake_dir;
  return true;
}

// Reads the tvm-ffi facts; nullopt (with reason) when tvm_ffi is missing or unusable.
std::optional<TvmFfiFacts> read_tvm_ffi_facts(const nlohmann::json& facts, std::string& reason) {
  auto it = facts.find("tvm_ffi");
  if (it == facts.end() || !it->is_object()) {
    reason = "cannot import tvm_ffi: " + string_or_empty(facts, "tvm_ffi_error");
    return std::nullopt;
  }
  TvmFfiFacts f;
  f.version_raw = string_or_empty(*it, "version");
  try {
    f.version = leading_version(f.version_raw);
  } catch (const Error&) {
    reason = "tvm_ffi reports an unreadable version `" + f.version_raw + "`";
    return std::nullopt;
  }
  f.package_dir = string_or_empty(*it, "package_dir");
  f.include_dir = string_or_empty(*it, "include_dir");
  f.dlpack_include_dir = string_or_empty(*it, "dlpack_include_dir");
  f.cmake_dir = string_or_empty(*it, "cmake_dir");
  f.library = string_or_empty(*it, "library");
  std::error_code ec;
  if (f.cmake_dir.empty() || !fs::exists(f.cmake_dir / "tvm_ffi-config.cmake", ec)) {
    reason = "tvm_ffi " + f.version_raw + " has no CMake package (tvm_ffi-config.cmake) at `" +
             f.cmake_dir.string() + "`";
    return std::nullopt;
  }
  return f;
}

// Builds the toolchain from probe facts; nullopt (with reason) when the
// interpreter lacks what `require` asks for.
std::optional<PythonToolchain> toolchain_from_facts(const nlohmann::json& facts, const Candidate& candidate,
                                                    Requirement require, std::string& reason) {
  PythonToolchain t;
  t.candidate = candidate.path;
  t.source = candidate.source;
  t.python = string_or_empty(facts, "executable");
  if (t.python.empty()) t.python = candidate.path;
  t.python_version = string_or_empty(facts, "python_version");
  t.prefix = string_or_empty(facts, "prefix");
  t.machine = string_or_empty(facts, "machine");
  t.system = string_or_empty(facts, "system");
  t.include_dir = string_or_empty(facts, "include_dir");
  t.soabi = string_or_empty(facts, "soabi");
  t.ext_suffix = string_or_empty(facts, "ext_suffix");
  t.gil_disabled = facts.value("gil_disabled", false);

  std::string torch_reason, tvm_ffi_reason;
  t.has_torch = read_torch_facts(facts, t.torch, torch_reason);
  t.tvm_ffi = read_tvm_ffi_facts(facts, tvm_ffi_reason);
  if (require == Requirement::Torch && !t.has_torch) {
    reason = torch_reason;
    return std::nullopt;
  }
  if (require == Requirement::TvmFfi && !t.tvm_ffi) {
    reason = tvm_ffi_reason;
    return std::nullopt;
  }
  return t;
}

// A `--python`/KB_PYTHON value: a path, or a program name looked up on PATH.
std::optional<fs::path> locate(const std::string& value) {
  if (value.find('/') == std::string::npos) return find_program(value);
  std::error_code ec;
  if (fs::exists(value, ec) && !fs::is_directory(value, ec)) return fs::absolute(value, ec);
  return std::nullopt;
}

std::vector<Candidate> collect_candidates(const DiscoveryOptions& options, std::vector<RejectedPython>& rejected) {
  std::vector<Candidate> out;
  auto add_named = [&](const std::string& value, const std::string& source) {
    if (auto found = locate(value))
      out.push_back({*found, source});
    else
      rejected.push_back({value, source, "not found"});
  };
  for (const auto& p : options.pythons) add_named(p.string(), "--python");
  if (options.use_env)
    for (const auto& entry : split(env_or("KB_PYTHON", ""), ':'))
      if (!trim(entry).empty()) add_named(trim(entry), "KB_PYTHON");
  if (options.use_path) {
    for (const auto& dir : split(env_or("PATH", ""), ':')) {
      if (dir.empty()) continue;
      for (const char* name : {"python3", "python"}) {
        fs::path p = fs::path(dir) / name;
        std::error_code ec;
        if (fs::exists(p, ec) && !fs::is_directory(p, ec) && ::access(p.c_str(), X_OK) == 0)
          out.push_back({fs::absolute(p, ec), "PATH"});
      }
    }
  }
  if (options.use_defaults) {
    std::error_code ec;
    if (fs::exists("/usr/bin/python3", ec)) out.push_back({"/usr/bin/python3", "default"});
    fs::path venv_python = cuda_torch_venv() / "bin" / "python";
    if (fs::exists(venv_python, ec)) out.push_back({venv_python, "cuda-venv"});
    fs::path tvm_ffi_python = tvm_ffi_venv() / "bin" / "python";
    if (options.require == Requirement::TvmFfi && fs::exists(tvm_ffi_python, ec))
      out.push_back({tvm_ffi_python, "tvm-ffi-venv"});
  }
  return out;
}

struct ProbeOutcome {
  std::optional<PythonToolchain> toolchain;
  std::string reason;
};

ProbeOutcome probe_candidate(const Candidate& candidate, detail::FactsCache& cache, bool use_cache,
                             Requirement require, int& probes_run) {
  const std::string_view probe = embedded_file("toolchain/data/probe.py");
  const nlohmann::json context = probe_context(probe);
  const std::string key = interpreter_identity(candidate.path).string();
  std::optional<nlohmann::json> facts;
  bool cached = false;
  if (use_cache) {
    facts = cache.lookup(kSection, key, context);
    cached = facts.has_value();
  }
  ProbeOutcome outcome;
  if (!facts) {
    ++probes_run;
    try {
      facts = run_probe(candidate.path, probe);
    } catch (const Error& e) {
      outcome.reason = e.what();
      return outcome;
    }
    cache.store(kSection, key, watched_files(candidate.path, *facts), context, *facts);
  }
  outcome.toolchain = toolchain_from_facts(*facts, candidate, require, outcome.reason);
  if (outcome.toolchain) outcome.toolchain->from_cache = cached;
  return outcome;
}

}  // namespace

fs::path default_cache_file() {
  return user_cache_dir() / "kb" / "toolchains.json";
}

fs::path cuda_torch_venv() { return env_or("KB_CUDA_VENV", (home_dir() / ".cache" / "kb" / "cuda-torch-venv").string()); }

fs::path tvm_ffi_venv() { return env_or("KB_TVM_FFI_VENV", (home_dir() / ".cache" / "kb" / "tvm-ffi-venv").string()); }

Discovery discover_pythons(const DiscoveryOptions& options) {
  Discovery discovery;
  detail::FactsCache cache(options.cache_file.value_or(default_cache_file()));
  std::set<std::string> seen_identities;
  std::set<std::pair<std::string, std::string>> seen_environments;  // (executable, prefix)

  for (const Candidate& candidate : collect_candidates(options, discovery.rejected)) {
    if (!seen_identities.insert(interpreter_identity(candidate.path).string()).second) continue;
    ProbeOutcome outcome =
        probe_candidate(candidate, cache, options.use_cache, options.require, discovery.probes_run);
    if (!outcome.toolchain) {
      discovery.rejected.push_back({candidate.path, candidate.source, outcome.reason});
      continue;
    }
    std::error_code ec;
    fs::path exe = fs::canonical(outcome.toolchain->python, ec);
    if (ec) exe = outcome.toolchain->python;
    if (!seen_environments.insert({exe.string(), outcome.toolchain->prefix.string()}).second) continue;
    discovery.toolchains.push_back(std::move(*outcome.toolchain));
  }
  cache.save();
  return discovery;
}

PythonToolchain probe_python(const fs::path& python, const DiscoveryOptions& options) {
  detail::FactsCache cache(options.cache_file.value_or(default_cache_file()));
  std::vector<RejectedPython> rejected;
  auto found = locate(python.string());
  if (!found) throw Error("Python interpreter `" + python.string() + "` not found");
  int probes = 0;
  ProbeOutcome outcome = probe_candidate({*found, "--python"}, cache, options.use_cache, options.require, probes);
  cache.save();
  if (!outcome.toolchain) throw Error("Python interpreter `" + python.string() + "`: " + outcome.reason);
  return std::move(*outcome.toolchain);
}

config::Backend PythonToolchain::native_backend() const {
  if (torch.cuda) return config::Backend::Cuda;
  if (torch.hip) return config::Backend::Rocm;
  if (torch.mps_available) return config::Backend::Metal;
  if (torch.xpu) return config::Backend::Xpu;
  return config::Backend::Cpu;
}

std::string PythonToolchain::cpu() const { return variant::normalize_cpu(machine); }

std::string PythonToolchain::os() const { return variant::normalize_os(system); }

std::string PythonToolchain::describe() const {
  std::string where = candidate.empty() || candidate == python ? python.string()
                                                               : candidate.string() + " -> " + python.string();
  if (!has_torch)
    return where + " (Python " + python_version + ", tvm-ffi " + (tvm_ffi ? tvm_ffi->version_raw : "none") + ")";
  std::string backend(config::backend_name(native_backend()));
  if (torch.cuda) backend += " " + *torch.cuda;
  return where + " (Python " + python_version + ", torch " + torch.version_raw + ", " + backend + ")";
}

const PythonToolchain* Discovery::find_for_backend(config::Backend backend) const {
  for (const auto& t : toolchains)
    if (t.native_backend() == backend) return &t;
  if (backend == config::Backend::Cpu && !toolchains.empty()) return &toolchains.front();
  return nullptr;
}

std::string Discovery::explain_rejections() const {
  std::string out;
  for (const auto& r : rejected)
    out += "\n  " + r.candidate.string() + " (" + r.source + "): " + r.reason;
  return out;
}

bool kb_python_selects() { return !trim(env_or("KB_PYTHON", "")).empty(); }

DiscoveryOptions selection_options(const std::vector<fs::path>& pythons, Requirement require) {
  DiscoveryOptions options;
  options.require = require;
  options.pythons = pythons;
  options.use_env = pythons.empty();
  options.use_path = options.use_defaults = pythons.empty() && !kb_python_selects();
  return options;
}

}  // namespace kb::toolchain
