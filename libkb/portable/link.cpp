#include "libkb/portable/link.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "libkb/abi/policy.h"
#include "libkb/abi/symbols.h"
#include "libkb/portable/pinning.h"
#include "libkb/util/dirs.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

namespace kb::portable {

namespace {

constexpr std::string_view kShimSource = "portable/data/shim.c";

// The replaceable global allocation functions (size_t is `m` on every
// 64-bit Linux kb links for).
constexpr std::string_view kAllocationFunctions[] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t",
    "_ZdaPvRKSt9nothrow_t", "_ZdlPvm", "_ZdaPvm", "_ZnwmSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_t", "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPvSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t"};

ProcessResult run_captured(const std::vector<std::string>& argv) { return run_process({.argv = argv}); }

// The linker's and compiler's own messages belong to the build log as usual.
void forward(const ProcessResult& r, std::ostream& err) {
  if (!r.out.empty()) std::cout << r.out << std::flush;
  if (!r.err.empty()) err << r.err;
}

std::optional<size_t> output_index(const std::vector<std::string>& command) {
  for (size_t i = 1; i + 1 < command.size(); ++i)
    if (command[i] == "-o") return i + 1;
  return std::nullopt;
}

// The file the driver would use for `name` (a library file name such as
// "libc.so.6"), as the linker found it.
std::optional<fs::path> driver_file(const std::string& driver, const std::string& name) {
  ProcessResult r = run_captured({driver, "-print-file-name=" + name});
  std::string path = trim(r.out);
  if (!r.ok() || path.empty() || path == name) return std::nullopt;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return fs::path(path);
}

// Sonames the framework's libraries are known by or load themselves, found by
// following DT_NEEDED within the directories of the given libraries.
std::set<std::string> provided_sonames(const std::vector<fs::path>& provided) {
  std::set<std::string> names;
  std::set<fs::path> seen;
  std::vector<fs::path> queue(provided.begin(), provided.end());
  // A framework has tens of libraries; the bound only guards against loops.
  for (size_t step = 0; step < queue.size() && step < 512; ++step) {
    std::error_code ec;
    fs::path file = fs::weakly_canonical(queue[step], ec);
    if (ec || !seen.insert(file).second || !fs::is_regular_file(file, ec)) continue;
    abi::DynamicDependencies deps;
    try {
      deps = abi::read_dynamic_dependencies(file);
    } catch (const Error&) {
      continue;  // a linker script or a static archive: nothing to follow
    }
    names.insert(deps.soname.empty() ? queue[step].filename().string() : deps.soname);
    for (const std::string& needed : deps.needed) {
      names.insert(needed);
      queue.push_back(queue[step].parent_path() / needed);
    }
  }
  return names;
}

// Input files of the link that reference each symbol, from the linker's own
// trace (-y), so a failure names the object to change.
std::map<std::string, std::vector<std::string>> referencing_inputs(const std::vector<std::string>& link,
                                                                  const std::vector<std::string>& symbols,
                                                                  const fs::path& scratch) {
  std::vector<std::string> argv = link;
  size_t out = *output_index(argv);
  argv[out] = (scratch / "trace.so").string();
  for (const std::string& s : symbols) argv.push_back("-Wl,-y," + s);
  ProcessResult r = run_captured(argv);
  std::map<std::string, std::vector<std::string>> refs;
  for (const std::string& line : split(r.out + "\n" + r.err, '\n')) {
    size_t at = line.rfind(": reference to ");
    if (at == std::string::npos) continue;
    std::string symbol = line.substr(at + 15);
    // Trampolines of a pinned symbol reference it too; they are kb's own.
    if (line.find("kb-pins.o") != std::string::npos) continue;
    auto& list = refs[symbol];
    std::string input = line.substr(0, at);
    // GNU ld prefixes its trace lines with its own name ("/usr/bin/ld: ").
    if (size_t colon = input.find(": "); colon != std::string::npos) {
      std::string program = fs::path(input.substr(0, colon)).filename().string();
      if (program == "ld" || starts_with(program, "ld.")) input = input.substr(colon + 2);
    }
    if (std::find(list.begin(), list.end(), input) == list.end()) list.push_back(input);
  }
  return refs;
}

// "libfoo.so.1" -> the input of the link that brought it in, if one did.
std::string link_input_for(const std::vector<std::string>& link, const std::string& soname) {
  for (const std::string& arg : link) {
    std::string path = arg;
    if (starts_with(path, "-Wl,")) path = path.substr(path.rfind(',') + 1);
    if (path.empty() || path[0] == '-' || path.find(".so") == std::string::npos) continue;
    if (path.size() > 2 && path.front() == '"' && path.back() == '"') path = path.substr(1, path.size() - 2);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    try {
      abi::DynamicDependencies deps = abi::read_dynamic_dependencies(path);
      if (deps.soname == soname || fs::path(path).filename() == soname) return path;
    } catch (const Error&) {
    }
  }
  return "";
}

bool any_pin_left_merged_library(const std::vector<Pin>& pins) {
  // glibc 2.34 merged libpthread, libdl and librt into libc; an old glibc
  // serves the pinned versions of their functions from those libraries.
  const Version merged = Version::parse("2.34");
  for (const Pin& p : pins) {
    std::optional<SymbolVersion> from = parse_symbol_version(p.from), to = parse_symbol_version(p.to);
    if (from && to && from->dep == "GLIBC" && from->number >= merged && to->number < merged) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> portable_flags(const PortableRuntime& runtime) {
  std::vector<std::string> flags = {"-static-libstdc++", "-Wl,--exclude-libs,ALL", runtime.shim.string(),
                                    runtime.allocators.string()};
  for (const std::string& symbol : runtime.allocator_symbols) flags.push_back("-Wl,--wrap=" + symbol);
  // The private libstdc++ comes first, so only what it leaves undefined (the
  // allocation functions the trampolines ask for by version) binds to the
  // shared one.
  for (const char* flag : {"-Wl,-Bstatic", "-lstdc++", "-Wl,-Bdynamic", "-Wl,--push-state,--no-as-needed",
                           "-l:libstdc++.so.6", "-Wl,--pop-state"})
    flags.emplace_back(flag);
  return flags;
}

PortableRuntime portable_runtime(const std::string& driver, const fs::path& cache_dir) {
  const std::string_view source = embedded_file(kShimSource);
  ProcessResult version = run_captured({driver, "-dumpfullversion"});
  if (!version.ok()) throw Error("cannot run the compiler `" + driver + "`: " + trim(version.err));
  std::optional<fs::path> libc = driver_file(driver, "libc.so.6");
  std::string key_text = std::string(source) + "\n" + driver + "\n" + version.out + "\n" +
                         (libc ? libc->string() + std::to_string(fs::file_size(*libc)) : std::string("?"));
  fs::path dir = cache_dir / to_hex(sha256_bytes(key_text)).substr(0, 16);
  PortableRuntime runtime{dir / "shim.o", dir / "allocators.o", {}};
  for (std::string_view name : kAllocationFunctions) runtime.allocator_symbols.emplace_back(name);
  std::error_code ec;
  if (fs::is_regular_file(runtime.shim, ec) && fs::is_regular_file(runtime.allocators, ec)) return runtime;
  fs::create_directories(dir);
  fs::path scratch = make_temp_dir(dir, "compile");
  TempDirGuard guard(scratch);
  write_file_atomic(scratch / "shim.c", source);
  // Relative names: the object records its source file name, which must not
  // carry the random scratch directory (builds stay reproducible).
  ProcessResult r = run_process({.argv = {driver, "-x", "c", "-std=gnu11", "-O2", "-fPIC", "-fvisibility=hidden", "-c",
                                          "shim.c", "-o", "shim.o"},
                                 .cwd = scratch});
  if (!r.ok()) throw Error("compiling kb's portability shim with " + driver + " failed:\n" + r.out + r.err);

  // Each allocation function at the first version the toolchain's libstdc++
  // defines it under (the one every libstdc++ since has).
  std::optional<fs::path> libstdcxx = driver_file(driver, "libstdc++.so.6");
  if (!libstdcxx) throw Error(driver + " does not find libstdc++.so.6");
  Definitions definitions = abi::read_symbol_definitions(*libstdcxx);
  std::vector<Pin> pins;
  for (const std::string& symbol : runtime.allocator_symbols) {
    auto it = definitions.find(symbol);
    std::string oldest = it == definitions.end() ? "" : oldest_version(it->second);
    if (oldest.empty()) throw Error(libstdcxx->string() + " does not define " + symbol);
    pins.push_back({symbol, "", oldest});
  }
  std::string arch = trim(run_captured({driver, "-dumpmachine"}).out);
  arch = arch.substr(0, arch.find('-'));
  write_file_atomic(scratch / "allocators.s", trampolines_assembly(pins, arch));
  r = run_process({.argv = {driver, "-c", "allocators.s", "-o", "allocators.o"}, .cwd = scratch});
  if (!r.ok()) throw Error("assembling kb's allocation trampolines with " + driver + " failed:\n" + r.out + r.err);
  // Built aside and renamed: concurrent links never see half an object.
  fs::rename(scratch / "allocators.o", runtime.allocators);
  fs::rename(scratch / "shim.o", runtime.shim);
  return runtime;
}

int link_portable(const LinkRequest& request, std::ostream& err) {
  const std::vector<std::string>& command = request.command;
  if (command.empty()) throw Error("kb-link: no link command given");
  std::optional<size_t> out_index = output_index(command);
  const bool shared = std::find(command.begin(), command.end(), "-shared") != command.end();
  if (!out_index || !shared) {  // not a shared object: nothing to make portable
    ProcessResult r = run_captured(command);
    forward(r, err);
    return r.exit_code;
  }
  const std::string& driver = command[0];
  const fs::path output = fs::absolute(command[*out_index]);
  fs::path cache = request.cache_dir.empty() ? user_cache_dir() / "kb" / "portable" : request.cache_dir;

  std::vector<std::string> link = command;
  for (std::string& flag : portable_flags(portable_runtime(driver, cache))) link.push_back(std::move(flag));
  ProcessResult r = run_captured(link);
  forward(r, err);
  if (!r.ok()) return r.exit_code;

  abi::ObjectInfo info = abi::read_object(output);
  abi::ManylinuxPolicy policy = abi::ManylinuxPolicy::load(request.policy, info.arch);

  // Definitions of each library a required version comes from, read once.
  std::map<std::string, std::unique_ptr<Definitions>> libraries;
  auto definitions_for = [&](const std::string& version) -> const Definitions* {
    auto file = info.version_files.find(version);
    if (file == info.version_files.end()) return nullptr;
    auto& slot = libraries[file->second];
    if (!slot) {
      std::optional<fs::path> path = driver_file(driver, file->second);
      if (!path) return nullptr;
      slot = std::make_unique<Definitions>(abi::read_symbol_definitions(*path));
    }
    return slot.get();
  };

  fs::path scratch = make_temp_dir(output.parent_path(), ".kb-link");
  TempDirGuard guard(scratch);
  PinPlan plan = plan_pins(info.undefined, policy, definitions_for);
  if (!plan.pins.empty()) {
    write_file_atomic(scratch / "kb-pins.s", trampolines_assembly(plan.pins, info.arch));
    ProcessResult as = run_process({.argv = {driver, "-c", "kb-pins.s", "-o", "kb-pins.o"}, .cwd = scratch});
    if (!as.ok()) throw Error("assembling the symbol-version trampolines failed:\n" + as.out + as.err);
    link.push_back((scratch / "kb-pins.o").string());
    for (const Pin& pin : plan.pins) link.push_back("-Wl,--wrap=" + pin.symbol);
    if (any_pin_left_merged_library(plan.pins))
      for (const char* flag : {"-Wl,--no-as-needed", "-l:libpthread.so.0", "-l:libdl.so.2", "-l:librt.so.1", "-Wl,--as-needed"})
        link.emplace_back(flag);
    r = run_captured(link);
    forward(r, err);
    if (!r.ok()) return r.exit_code;
    info = abi::read_object(output);
  }

  // What is still wrong: too-new versions (with the reason the plan gave)
  // and libraries neither the policy nor the framework provides.
  std::map<std::string, std::string> reasons;
  for (const Unpinnable& u : plan_pins(info.undefined, policy, definitions_for).unpinnable) reasons[u.reference] = u.reason;
  std::vector<std::pair<std::string, std::string>> symbols;  // reference, reason
  for (const abi::Violation& v : abi::check_manylinux(info.undefined, policy)) {
    auto it = reasons.find(v.symbol);
    symbols.emplace_back(v.symbol, it != reasons.end() ? it->second : v.detail);
  }
  std::vector<std::string> libraries_missing;
  std::set<std::string> provided;
  bool provided_read = false;
  for (const std::string& needed : abi::read_dynamic_dependencies(output).needed) {
    if (policy.allows_library(needed)) continue;
    if (!provided_read) {
      provided = provided_sonames(request.provided);
      provided_read = true;
    }
    if (!provided.count(needed)) libraries_missing.push_back(needed);
  }
  if (symbols.empty() && libraries_missing.empty()) {
    if (!plan.pins.empty()) {
      std::vector<std::string> names;
      for (const Pin& p : plan.pins) names.push_back(p.symbol + "@" + p.to);
      err << "kb-link: " << output.filename().string() << ": bound " << join(names, ", ") << " for "
          << request.policy << "\n";
    }
    return 0;
  }

  std::vector<std::string> names;
  for (const auto& [reference, reason] : symbols) names.push_back(reference.substr(0, reference.find('@')));
  auto refs = names.empty() ? std::map<std::string, std::vector<std::string>>{}
                            : referencing_inputs(link, names, scratch);
  err << "error: " << output.filename().string() << " cannot be made portable (" << request.policy << "):\n";
  for (const auto& [reference, reason] : symbols) {
    err << "  " << reference << ": " << reason << "\n";
    auto it = refs.find(reference.substr(0, reference.find('@')));
    if (it != refs.end())
      for (const std::string& input : it->second) err << "      needed by " << input << "\n";
  }
  for (const std::string& library : libraries_missing) {
    err << "  " << library << ": a system library that " << request.policy
        << " does not allow and that torch does not load";
    if (std::string input = link_input_for(link, library); !input.empty()) err << " (linked from " << input << ")";
    err << "\n";
  }
  err << "  To build for this machine only, use `kb build --target native`: such a build is not portable and "
         "`kb upload` refuses it unless given --allow-nonportable.\n";
  std::error_code ec;
  fs::remove(output, ec);
  return 1;
}

}  // namespace kb::portable
