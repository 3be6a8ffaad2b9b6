#include "libkb/pipeline/compile.h"

#include "libkb/events/fields.h"
#include "libkb/variant/variant.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "libkb/events/fields.h"
#include "libkb/pipeline/scratch.h"
#include "libkb/portable/target.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::pipeline {

namespace {

using Json = nlohmann::json;

std::string log_tail(const fs::path& log, size_t lines) {
  std::string text;
  try {
    text = read_file(log);
  } catch (const Error&) {
    return "";
  }
  std::vector<std::string> all = split(text, '\n');
  while (!all.empty() && all.back().empty()) all.pop_back();
  size_t start = all.size() > lines ? all.size() - lines : 0;
  std::vector<std::string> tail(all.begin() + static_cast<long>(start), all.end());
  return join(tail, "\n");
}

void run_step(const std::string& what, const ProcessSpec& spec, const fs::path& log) {
  {
    std::ofstream out(log, std::ios::app);
    out << "\n$ " << shell_quote_command(spec.argv) << "\n";
  }
  ProcessResult r = run_process(spec);
  if (!r.ok())
    throw Error(what + " failed (exit " + std::to_string(r.exit_code) + "); last lines of " + log.string() + ":\n" +
                log_tail(log, 25));
}

// Files of the installed variant compared with the staged one. metadata.json
// is compared without the fields kb-metadata adds after the build, and
// symbols.json (kb-symbols writes it after the build) is left out.
bool same_tree(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (!fs::is_directory(a, ec) || !fs::is_directory(b, ec)) return false;
  auto files_a = list_files(a), files_b = list_files(b);
  for (auto* files : {&files_a, &files_b}) std::erase(*files, std::string("symbols.json"));
  if (files_a != files_b) return false;
  for (const auto& rel : files_a) {
    std::string ca = read_file(a / rel), cb = read_file(b / rel);
    if (rel == "metadata.json") {
      Json ja = Json::parse(ca, nullptr, false), jb = Json::parse(cb, nullptr, false);
      if (ja.is_discarded() || jb.is_discarded()) return false;
      for (auto* j : {&ja, &jb}) {
        if (!j->is_object()) return false;
        j->erase("digest");
        j->erase("provenance");
      }
      if (ja != jb) return false;
    } else if (ca != cb) {
      return false;
    }
  }
  return true;
}

void copy_package(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  // The variant exists even when no file of the package ships (metadata.json
  // is copied into it next).
  fs::create_directories(to);
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory() && name == "__pycache__") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || ends_with(name, ".pyc")) continue;
    fs::path dest = to / p.lexically_relative(from);
    fs::create_directories(dest.parent_path());
    fs::copy_file(p, dest, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error("cannot copy " + p.string() + ": " + ec.message());
  }
}

std::vector<std::string> configure_args(const CompileRequest& r, const fs::path& bdir) {
  std::vector<std::string> args = {"cmake",
                                   "-S",
                                   r.project_dir.string(),
                                   "-B",
                                   bdir.string(),
                                   "-G",
                                   "Ninja",
                                   "-DCMAKE_BUILD_TYPE=Release",
                                   "-DKB_BACKEND=" + r.backend,
                                   "-DKB_VARIANT=" + r.variant,
                                   "-DKB_KERNEL_DIR=" + r.kernel_dir.string(),
                                   "-DPython3_EXECUTABLE=" + r.python,
                                   "-DBUILD_ALL_SUPPORTED_ARCHS=ON"};
  if (!r.torch_version.empty()) args.push_back("-DKB_TORCH_VERSION=" + r.torch_version);
  if (!r.nvcc.empty()) args.push_back("-DCMAKE_CUDA_COMPILER=" + r.nvcc);
  if (portable::is_portable(r.target)) {
    args.push_back("-DKB_TARGET=" + r.target);
    args.push_back("-DKB_LINK=" + tool_path("kb-link").string());
  } else {
    args.push_back("-DKB_TARGET=native");
  }
  if (auto ccache = find_program("ccache")) {
    args.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" + ccache->string());
    if (r.backend == "cuda") args.push_back("-DCMAKE_CUDA_COMPILER_LAUNCHER=" + ccache->string());
  }
  args.insert(args.end(), r.cmake_args.begin(), r.cmake_args.end());
  return args;
}

}  // namespace

CompileRequest request_from_event(const Json& e) {
  CompileRequest r;
  r.kernel_dir = events::string_field(e, "kernel_dir");
  r.variant = events::string_field(e, "variant");
  r.backend = events::string_field(e, "backend");
  r.module = events::string_field(e, "module");
  std::string project_dir = events::optional_string_field(e, "project_dir").value_or("");
  r.project_dir = project_dir.empty() ? r.kernel_dir : fs::path(project_dir);
  r.scratch_dir = events::optional_string_field(e, "scratch_dir").value_or("");
  r.noarch = events::optional_string_field(e, "kind") == "noarch";
  r.python = events::optional_string_field(e, "python").value_or("");
  r.torch_version = events::optional_string_field(e, "torch_version").value_or("");
  r.nvcc = events::optional_string_field(e, "nvcc").value_or("");
  r.cmake_args = events::string_list_field(e, "cmake_args");
  r.target = events::optional_string_field(e, "target").value_or("");
  if (r.variant.find('/') != std::string::npos || r.variant == "." || r.variant == "..")
    throw Error("variant-planned event has an invalid variant name: " + r.variant);
  if (!r.noarch && r.python.empty()) throw Error("variant-planned event for " + r.variant + " lacks python");
  return r;
}

fs::path cmake_build_dir(const CompileRequest& request) {
  fs::path scratch =
      request.scratch_dir.empty() ? scratch_dir(request.kernel_dir, request.module) : request.scratch_dir;
  return scratch_cmake_dir(scratch, request.variant);
}

CompileResult compile_variant(const CompileRequest& r, const ProgressFn& progress) {
  auto start = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  fs::path bdir = cmake_build_dir(r);
  fs::create_directories(bdir);
  fs::path log = bdir / "kb-build.log";
  fs::path target = variant::variant_dir(r.kernel_dir, r.variant);
  // Staged beside build/<variant> (the scratch directory may be on another
  // file system), so the finished tree is swapped in with one rename.
  fs::create_directories(target.parent_path());
  fs::path staging_root = make_temp_dir(target.parent_path(), r.variant);
  TempDirGuard staging_guard(staging_root);
  fs::path staged = staging_root / r.variant;

  if (r.noarch) {
    fs::path package = r.kernel_dir / "torch-ext" / r.module;
    if (!fs::is_directory(package))
      throw Error("torch-ext/" + r.module + " does not exist in " + r.kernel_dir.string());
    fs::path metadata = r.project_dir / ("metadata-" + r.backend + ".json");
    if (!fs::exists(metadata))
      throw Error("metadata file " + metadata.string() + " does not exist: run kb-genproject first");
    say("copying torch-ext/" + r.module);
    copy_package(package, staged);
    // The generated _ops.py lives in the project, not in the user's package.
    fs::path ops = r.project_dir / "torch-ext" / r.module / "_ops.py";
    if (fs::is_regular_file(ops)) fs::copy_file(ops, staged / "_ops.py", fs::copy_options::overwrite_existing);
    fs::copy_file(metadata, staged / "metadata.json", fs::copy_options::overwrite_existing);
  } else {
    // Reconfigure only when the arguments change; Ninja re-runs CMake itself
    // when the generated CMakeLists.txt changes.
    std::vector<std::string> args = configure_args(r, bdir);
    std::string args_text = join(args, "\n");
    fs::path args_file = bdir / "kb-configure-args";
    bool configured = fs::exists(bdir / "CMakeCache.txt") && fs::exists(bdir / "build.ninja") &&
                      fs::exists(args_file) && read_file(args_file) == args_text;
    if (!configured) {
      say("configuring");
      std::error_code ec;
      fs::remove(bdir / "CMakeCache.txt", ec);
      write_file_atomic(log, "");
      run_step("configuring " + r.variant, {.argv = args, .output_log = log}, log);
      write_file_atomic(args_file, args_text);
    }
    say("compiling");
    std::vector<std::string> build = {"cmake", "--build", bdir.string()};
    if (r.jobs > 0) build.insert(build.end(), {"--parallel", std::to_string(r.jobs)});
    run_step("building " + r.variant, {.argv = build, .output_log = log}, log);
    run_step("installing " + r.variant,
             {.argv = {"cmake", "--install", bdir.string(), "--prefix", staging_root.string()}, .output_log = log},
             log);
    if (!fs::is_directory(staged))
      throw Error("installing " + r.variant + " produced no " + staged.string() + " (is KB_VARIANT consistent?)");
  }

  CompileResult result;
  result.dir = target;
  result.up_to_date = same_tree(staged, target);
  if (!result.up_to_date) {
    say("installing into " + relative_slash_path(target, r.kernel_dir));
    replace_directory(staged, target);
  }
  result.artifacts = list_files(target);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kb::pipeline
