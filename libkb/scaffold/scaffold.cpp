#include "libkb/scaffold/scaffold.h"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

#include "libkb/config/config.h"
#include "libkb/config/toml_text.h"
#include "libkb/template/placeholders.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

namespace kb::scaffold {

namespace {

constexpr std::string_view kOwnerHint = "use --name <owner>/<repo> to name the kernel repository";

std::string camel_case(std::string_view repo) {
  std::string out;
  bool start_of_word = true;
  for (char c : repo) {
    if (c == '-' || c == '_') {
      start_of_word = true;
      continue;
    }
    out += start_of_word ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    start_of_word = false;
  }
  return out;
}

RepoNames names_from(std::string owner, std::string repo) {
  RepoNames names;
  names.owner = std::move(owner);
  names.repo = std::move(repo);
  names.display_name = replace_all(names.repo, "_", "-");
  names.module_name = config::python_module_name(to_lower(names.repo));
  names.class_name = camel_case(names.repo);
  names.repo_id = names.owner + "/" + names.display_name;
  return names;
}

using config::detail::toml_key;
using config::detail::toml_string;

std::string toml_array(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& item : items) quoted.push_back(toml_string(item));
  return "[" + join(quoted, ", ") + "]";
}

bool selected(const std::vector<std::string>& backends, std::string_view backend) {
  return std::find(backends.begin(), backends.end(), backend) != backends.end();
}

const std::vector<std::string>& rocm_archs() {
  static const std::vector<std::string> archs = {"gfx906", "gfx908",  "gfx90a",  "gfx940", "gfx941",
                                                 "gfx942", "gfx1030", "gfx1100", "gfx1101"};
  return archs;
}

// One scaffold file: the embedded template, where it goes (itself a
// template), and whether placeholders are substituted.
struct TemplateFile {
  std::string_view source;  // under scaffold/data/
  std::string_view target;
  bool substitute = true;
};

struct GitDeleter {
  void operator()(git_repository* r) const { git_repository_free(r); }
  void operator()(git_index* i) const { git_index_free(i); }
};

[[noreturn]] void throw_git_error(const std::string& what, const std::filesystem::path& dir) {
  const git_error* e = git_error_last();
  throw Error(what + " in " + dir.string() + ": " + (e && e->message ? e->message : "unknown libgit2 error"));
}

// libgit2 needs process-wide initialisation; balanced when the program ends.
void ensure_libgit2() {
  struct Init {
    Init() { git_libgit2_init(); }
    ~Init() { git_libgit2_shutdown(); }
  };
  static Init init;
}

}  // namespace

std::optional<RepoNames> try_parse_repo_names(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || text.find('/', slash + 1) != std::string_view::npos) return std::nullopt;
  std::string owner(text.substr(0, slash));
  std::string repo(text.substr(slash + 1));
  if (owner.empty() || repo.empty()) return std::nullopt;
  return names_from(std::move(owner), std::move(repo));
}

RepoNames parse_repo_names(std::string_view owner_repo) {
  auto names = try_parse_repo_names(owner_repo);
  if (!names) throw Error("`" + std::string(owner_repo) + "` must be <owner>/<repo>");
  return *names;
}

const std::vector<std::string>& all_backend_names() {
  static const std::vector<std::string> names = {"cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu"};
  return names;
}

bool is_compiled_backend(std::string_view backend) {
  return backend == "cpu" || backend == "cuda" || backend == "metal" || backend == "rocm" || backend == "xpu";
}

Framework parse_framework(std::string_view text) {
  const std::string name = to_lower(trim(text));
  if (name == "torch") return Framework::Torch;
  if (name == "tvm-ffi") return Framework::TvmFfi;
  std::string message = "Unknown framework: " + std::string(text);
  if (auto guess = closest_match(name, {"torch", "tvm-ffi"}); !guess.empty()) {
    message += " (did you mean `" + guess + "`?)";
  }
  throw Error(message + "; expected one of: torch, tvm-ffi");
}

std::string_view framework_name(Framework framework) { return framework == Framework::TvmFfi ? "tvm-ffi" : "torch"; }

std::string parse_stable_abi(std::string_view text) {
  const std::string value(text);
  auto dot = value.find('.');
  auto all_digits = [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string::npos || !all_digits(std::string_view(value).substr(0, dot)) ||
      !all_digits(std::string_view(value).substr(dot + 1))) {
    throw Error("--stable-abi `" + value + "` must be a Torch version MAJOR.MINOR, for example " +
                std::string(kMinStableAbi) + " or 2.11");
  }
  if (Version::parse(value) < Version::parse(kMinStableAbi)) {
    throw Error("--stable-abi " + value + " is older than the stable API the scaffold is written against; use " +
                std::string(kMinStableAbi) + " or newer");
  }
  return value;
}

const std::vector<std::string>& tvm_ffi_backend_names() {
  static const std::vector<std::string> names = {"cpu", "cuda"};
  return names;
}

void check_framework_options(const FrameworkOptions& framework, const std::vector<std::string>& backends) {
  if (framework.framework == Framework::TvmFfi && framework.stable_abi) {
    throw Error("--stable-abi applies to Torch kernels only: a tvm-ffi kernel does not link against Torch");
  }
  const bool tvm_ffi = framework.framework == Framework::TvmFfi;
  if (!tvm_ffi && !framework.stable_abi) return;
  // Both scaffolds have sources for cpu and cuda only.
  std::vector<std::string> unsupported;
  for (const auto& backend : backends) {
    if (!selected(tvm_ffi_backend_names(), backend)) unsupported.push_back(backend);
  }
  if (unsupported.empty()) return;
  const std::string what = tvm_ffi ? "tvm-ffi kernels" : "Torch stable-ABI kernels (--stable-abi)";
  throw Error("kb scaffolds " + what + " for " + join(tvm_ffi_backend_names(), " and ") +
              " only; not for: " + join(unsupported, ", "));
}

std::vector<std::string> parse_backends(const std::vector<std::string>& values) {
  std::vector<std::string> result;
  auto add = [&](const std::string& backend) {
    if (!selected(result, backend)) result.push_back(backend);
  };
  for (const auto& value : values) {
    for (const auto& part : split(value, ',')) {
      std::string name = to_lower(trim(part));
      if (name == "all") {
        for (const auto& b : all_backend_names()) add(b);
      } else if (selected(all_backend_names(), name)) {
        add(name);
      } else {
        std::string message = "Unknown backend: " + trim(part);
        std::vector<std::string> candidates = all_backend_names();
        candidates.push_back("all");
        if (auto guess = closest_match(name, candidates); !guess.empty()) {
          message += " (did you mean `" + guess + "`?)";
        }
        message += "; expected one of: all, " + join(all_backend_names(), ", ");
        throw Error(message);
      }
    }
  }
  if (result.empty()) throw Error("--backends needs at least one backend");
  return result;
}

Target resolve_target(const InitOptions& options) {
  const std::filesystem::path cwd = options.cwd.empty() ? std::filesystem::current_path() : options.cwd;
  Target target;
  if (options.name) {
    target.names = parse_repo_names(*options.name);
    target.dir = options.path ? cwd / *options.path : cwd / target.names.display_name;
  } else if (options.path) {
    auto names = try_parse_repo_names(*options.path);
    // "./x" or "../x" name a directory, not an owner.
    if (!names || names->owner == "." || names->owner == "..") {
      std::string repo = std::filesystem::path(*options.path).lexically_normal().filename().string();
      if (repo.empty() || repo == "." || repo == "..") {
        repo = std::filesystem::path(*options.path).lexically_normal().parent_path().filename().string();
      }
      throw Error("Cannot tell who owns the kernel repository `" + repo + "`: PATH `" + *options.path +
                  "` is not <owner>/<repo> and kb does not read a Hub login; " + std::string(kOwnerHint) +
                  " (for example --name my-org/" + (repo.empty() ? "my-kernel" : repo) + ")");
    }
    target.names = *names;
    target.dir = cwd / target.names.display_name;
  } else {
    std::string repo = cwd.filename().string();
    throw Error("Cannot tell who owns the kernel repository for `" + cwd.string() +
                "`: kb does not read a Hub login; " + std::string(kOwnerHint) + " (for example --name my-org/" +
                (repo.empty() ? "my-kernel" : repo) + ")");
  }
  // The kernel name goes into build.toml, which refuses what the kernel-name
  // rules refuse: say so now, before anything is written.
  try {
    config::validate_kernel_name(target.names.display_name);
  } catch (const Error& e) {
    throw Error("Cannot create the kernel `" + target.names.owner + "/" + target.names.repo + "`: " + e.what());
  }
  target.dir = target.dir.lexically_normal();
  // "dir/" normalises with an empty last component.
  if (!target.dir.has_filename() && target.dir.has_relative_path()) target.dir = target.dir.parent_path();
  return target;
}

std::string render_build_toml(const RepoNames& names, const std::string& license,
                              const std::vector<std::string>& backends, const FrameworkOptions& framework) {
  check_framework_options(framework, backends);
  const std::string& m = names.module_name;
  const bool tvm_ffi = framework.framework == Framework::TvmFfi;
  std::ostringstream toml;
  toml << "[general]\n"
       << "name = " << toml_string(names.display_name) << "\n"
       << "license = " << toml_string(license) << "\n"
       << "backends = " << toml_array(backends) << "\n"
       << "version = 1\n"
       << "edition = 5\n"
       << "\n[general.hub]\n"
       << "repo-id = " << toml_string(names.repo_id) << "\n";
  if (tvm_ffi) {
    toml << "\n[tvm-ffi]\n"
         << "src = [\n  \"tvm-ffi-ext/tvm_ffi_binding.cpp\",\n  " << toml_string("tvm-ffi-ext/" + m + ".h") << ",\n]\n";
  } else {
    toml << "\n[torch]\n"
         << "src = [\n  \"torch-ext/torch_binding.cpp\",\n  \"torch-ext/torch_binding.h\",\n]\n";
    if (framework.stable_abi) toml << "stable-abi = " << toml_string(*framework.stable_abi) << "\n";
  }

  auto kernel = [&](const std::string& table, std::string_view backend, const std::vector<std::string>& src,
                    const std::vector<std::string>& extra_lines) {
    toml << "\n[kernel." << toml_key(table) << "]\n"
         << "backend = " << toml_string(backend) << "\n"
         << (tvm_ffi ? "depends = []\n" : "depends = [\"torch\"]\n");
    for (const auto& line : extra_lines) toml << line << "\n";
    toml << "src = " << toml_array(src) << "\n";
  };
  // In the order the backends were selected.
  for (const auto& backend : backends) {
    if (tvm_ffi) {
      // The kernels include the binding's header, which declares them.
      kernel(m + "_" + backend, backend,
             {m + "_" + backend + "/" + m + "_" + backend + (backend == "cuda" ? ".cu" : ".cpp")},
             {"include = [\"tvm-ffi-ext\"]"});
    } else if (backend == "cuda") {
      kernel(m, "cuda", {m + "_cuda/" + m + ".cu"}, {});
    } else if (backend == "rocm") {
      kernel(m + "_rocm", "rocm", {m + "_cuda/" + m + ".cu"}, {"rocm-archs = " + toml_array(rocm_archs())});
    } else if (backend == "metal") {
      kernel(m + "_metal", "metal", {m + "_metal/" + m + ".mm", m + "_metal/" + m + ".metal"}, {});
    } else if (backend == "xpu") {
      kernel(m + "_xpu", "xpu", {m + "_xpu/" + m + ".cpp"}, {});
    } else if (backend == "cpu") {
      kernel(m + "_cpu", "cpu", {m + "_cpu/" + m + "_cpu.cpp"}, {});
    }
    // cann, neuron and tpu are only listed in `backends`.
  }
  return toml.str();
}

std::vector<ScaffoldFile> render_scaffold(const RepoNames& names, const std::string& license,
                                          const std::vector<std::string>& backends, const FrameworkOptions& framework) {
  check_framework_options(framework, backends);
  const std::map<std::string, std::string> vars = {
      {"owner", names.owner},
      {"name", names.display_name},
      {"module", names.module_name},
      {"class", names.class_name},
      {"repo_id", names.repo_id},
      {"license", license},
      {"backends", join(backends, ", ")},
  };

  std::vector<TemplateFile> templates = {
      {"gitattributes.in", ".gitattributes"},
      {"Makefile.in", "Makefile"},
  };
  if (framework.framework == Framework::TvmFfi) {
    // No benchmark: `kernels benchmark` measures Torch kernels, and a tvm-ffi
    // kernel must not need Torch.
    templates.insert(templates.end(), {
                                          {"tvm_ffi_gitignore.in", ".gitignore"},
                                          {"tvm_ffi_CARD.md", "CARD.md", false},
                                          {"tvm_ffi_example.py.in", "example.py"},
                                          {"tvm_ffi_test.py.in", "tests/test_@@module@@.py"},
                                          {"tvm_ffi_init.py.in", "tvm-ffi-ext/@@module@@/__init__.py"},
                                          {"tvm_ffi_binding.cpp.in", "tvm-ffi-ext/tvm_ffi_binding.cpp"},
                                          {"tvm_ffi_binding.h.in", "tvm-ffi-ext/@@module@@.h"},
                                      });
    if (selected(backends, "cpu")) templates.push_back({"tvm_ffi_cpu.cpp.in", "@@module@@_cpu/@@module@@_cpu.cpp"});
    if (selected(backends, "cuda")) templates.push_back({"tvm_ffi_cuda.cu.in", "@@module@@_cuda/@@module@@_cuda.cu"});
  } else {
    const bool stable = framework.stable_abi.has_value();
    templates.insert(templates.end(),
                     {
                         {"gitignore.in", ".gitignore"},
                         {"CARD.md", "CARD.md", false},  // a Jinja template for the card tool: written raw
                         {"example.py.in", "example.py"},
                         {"benchmark.py.in", "benchmarks/benchmark.py"},
                         {"test.py.in", "tests/test_@@module@@.py"},
                         {"init.py.in", "torch-ext/@@module@@/__init__.py"},
                         {stable ? "stable_binding.cpp.in" : "torch_binding.cpp.in", "torch-ext/torch_binding.cpp"},
                         {stable ? "stable_binding.h.in" : "torch_binding.h.in", "torch-ext/torch_binding.h"},
                     });
    if (selected(backends, "cuda") || selected(backends, "rocm")) {
      templates.push_back({stable ? "stable_cuda.cu.in" : "cuda.cu.in", "@@module@@_cuda/@@module@@.cu"});
    }
    if (selected(backends, "cpu")) {
      templates.push_back({stable ? "stable_cpu.cpp.in" : "cpu.cpp.in", "@@module@@_cpu/@@module@@_cpu.cpp"});
    }
    if (selected(backends, "metal")) {
      templates.push_back({"metal.metal.in", "@@module@@_metal/@@module@@.metal"});
      templates.push_back({"metal.mm.in", "@@module@@_metal/@@module@@.mm"});
    }
    if (selected(backends, "xpu")) templates.push_back({"xpu.cpp.in", "@@module@@_xpu/@@module@@.cpp"});
  }

  std::vector<ScaffoldFile> files;
  for (const auto& t : templates) {
    const std::string source = "scaffold/data/" + std::string(t.source);
    std::string_view text = embedded_file(source);
    files.push_back({templates::substitute_placeholders(t.target, vars, templates::kScaffoldPlaceholders,
                                                        "target path of " + source),
                     t.substitute
                         ? templates::substitute_placeholders(text, vars, templates::kScaffoldPlaceholders, source)
                         : std::string(text)});
  }
  files.push_back({"build.toml", render_build_toml(names, license, backends, framework)});
  files.push_back({"tests/__init__.py", ""});
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

void git_init_and_stage_all(const std::filesystem::path& dir) {
  ensure_libgit2();
  git_repository* raw_repo = nullptr;
  if (git_repository_init(&raw_repo, dir.c_str(), 0) != 0) throw_git_error("Cannot initialise a git repository", dir);
  std::unique_ptr<git_repository, GitDeleter> repo(raw_repo);

  git_index* raw_index = nullptr;
  if (git_repository_index(&raw_index, repo.get()) != 0) throw_git_error("Cannot open the git index", dir);
  std::unique_ptr<git_index, GitDeleter> index(raw_index);

  // `git add .`: every file, ignored ones excepted. Paths that come back as
  // directories are nested repositories, which are left out (libgit2 cannot
  // add them as gitlinks here).
  auto skip_nested_repositories = [](const char* path, const char*, void*) -> int {
    std::string_view p(path);
    return !p.empty() && p.back() == '/' ? 1 : 0;
  };
  if (git_index_add_all(index.get(), nullptr, GIT_INDEX_ADD_DEFAULT, skip_nested_repositories, nullptr) != 0) {
    throw_git_error("Cannot stage the files", dir);
  }
  if (git_index_write(index.get()) != 0) throw_git_error("Cannot write the git index", dir);
}

InitResult init_project(const InitOptions& options) {
  InitResult result;
  result.target = resolve_target(options);
  const auto& dir = result.target.dir;
  std::vector<std::string> backends = options.backends.empty() ? std::vector<std::string>{"cuda"} : options.backends;
  const auto files = render_scaffold(result.target.names, options.license, backends, options.framework);

  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    throw Error("`" + dir.string() + "` exists and is not a directory");
  }

  // Decide everything before the first write, so a refusal leaves no trace.
  std::vector<std::string> existing;
  std::vector<std::string> blocking;
  for (const auto& file : files) {
    const auto path = dir / file.path;
    auto status = std::filesystem::symlink_status(path, ec);
    if (!std::filesystem::exists(status)) continue;
    existing.push_back(file.path);
    if (!std::filesystem::is_regular_file(status) && !std::filesystem::is_symlink(status))
      blocking.push_back(file.path);
  }
  // A parent directory of a scaffold file that exists as something else.
  std::set<std::string> parents;
  for (const auto& file : files) {
    for (auto p = std::filesystem::path(file.path).parent_path(); !p.empty(); p = p.parent_path())
      parents.insert(p.generic_string());
  }
  for (const auto& parent : parents) {
    if (std::filesystem::exists(dir / parent, ec) && !std::filesystem::is_directory(dir / parent, ec))
      blocking.push_back(parent);
  }
  if (!existing.empty() && !options.overwrite) {
    throw Error("File(s) already exist in " + dir.string() + ": " + join(existing, ", ") +
                "\nUse --overwrite to replace them (other files are kept).");
  }
  if (!blocking.empty()) {
    throw Error("Cannot write the scaffold in " + dir.string() +
                ": these paths exist and are not files: " + join(blocking, ", "));
  }

  for (const auto& file : files) {
    write_file_atomic(dir / file.path, file.content);
    result.written.push_back(file.path);
  }
  git_init_and_stage_all(dir);
  return result;
}

}  // namespace kb::scaffold
