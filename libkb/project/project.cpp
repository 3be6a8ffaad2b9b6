#include "libkb/project/project.h"

#include <algorithm>
#include <map>
#include <set>

#include "libkb/metadata/metadata.h"
#include "libkb/template/placeholders.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"

namespace kb::project {

using config::Backend;
using config::BuildConfig;
using config::Framework;

namespace {

// An embedded project template (project/data/NAME) with its @KEY@ placeholders filled.
std::string render(std::string_view name, const std::map<std::string, std::string>& vars) {
  return templates::substitute_placeholders(embedded_file("project/data/" + std::string(name)), vars,
                                            templates::kProjectPlaceholders, name);
}

// A CMake quoted argument.
std::string cmake_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string cmake_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& i : items) quoted.push_back(cmake_quote(i));
  return join(quoted, " ");
}

// "KEYWORD a b c" for a non-empty list, else "".
std::string cmake_keyword_list(const std::string& keyword, const std::vector<std::string>& items) {
  if (items.empty()) return "";
  return "\n  " + keyword + " " + cmake_list(items);
}

std::string python_string_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& i : items) quoted.push_back("\"" + i + "\"");
  return join(quoted, ", ");
}

std::vector<std::string> data_extensions(const BuildConfig& config) {
  std::vector<std::string> out;
  for (const auto& ext : config.pyext())
    if (ext != "py" && ext != "pyi") out.push_back(ext);
  return out;
}

bool has_noarch_backend(const BuildConfig& config) {
  if (config.framework == Framework::TorchNoarch) return true;
  if (config.framework != Framework::Torch) return false;
  for (Backend b : config.general.backends)
    if (!config.has_kernel_for(b)) return true;
  return false;
}

// The [kernel.*] components kb compiles (Rust ones are planned as skipped).
std::string render_kernel_components(const BuildConfig& config) {
  std::string out;
  for (const auto& k : config.kernels) {
    if (k.rust) continue;
    out += "\n# [kernel." + k.name + "]\nkb_add_kernel_component(" + cmake_quote(k.name);
    out += "\n  BACKEND " + std::string(config::backend_name(k.backend));
    out += cmake_keyword_list("SOURCES", k.src);
    out += cmake_keyword_list("INCLUDE", k.include);
    out += cmake_keyword_list("CXX_FLAGS", k.cxx_flags);
    out += cmake_keyword_list("CUDA_FLAGS", k.cuda_flags);
    out += cmake_keyword_list("CUDA_CAPABILITIES", k.cuda_capabilities);
    if (k.cuda_minver) out += "\n  CUDA_MINVER " + k.cuda_minver->str();
    out += cmake_keyword_list("ROCM_ARCHS", k.rocm_archs);
    out += cmake_keyword_list("HIP_FLAGS", k.hip_flags);
    out += cmake_keyword_list("SYCL_FLAGS", k.sycl_flags);
    out += ")\n";
  }
  return out;
}

// The binding sources of the framework table ([torch] or [tvm-ffi] src).
std::string render_binding(const std::string& table, const std::vector<std::string>& src,
                           const std::vector<std::string>& include, const std::vector<std::string>& cxx_flags) {
  std::string out = "\n# [" + table + "] binding sources.\nkb_add_binding(";
  out += cmake_keyword_list("SOURCES", src);
  out += cmake_keyword_list("INCLUDE", include);
  out += cmake_keyword_list("CXX_FLAGS", cxx_flags);
  return out + ")\n";
}

std::string render_head(const BuildConfig& config, const std::string& unique_id) {
  const bool tvm_ffi = config.framework == Framework::TvmFfi;
  return render("CMakeLists.head.cmake", {{"MODULE", config.module_name()},
                                          {"UNIQUE_ID", unique_id},
                                          {"DATA_EXTENSIONS", cmake_list(data_extensions(config))},
                                          {"FRAMEWORK_PACKAGE", tvm_ffi ? "tvm_ffi" : "torch"},
                                          {"EXTENSION_DIR", config.extension_dir()}});
}

std::string render_cuda_bounds(const BuildConfig& config) {
  if (!config.general.cuda_minver && !config.general.cuda_maxver) return "";
  std::string out = "if(KB_BACKEND STREQUAL \"cuda\")\n";
  out += "  string(REGEX MATCH \"^[0-9]+\\\\.[0-9]+\" KB_CUDA_MAJOR_MINOR \"${CMAKE_CUDA_COMPILER_VERSION}\")\n";
  if (config.general.cuda_minver)
    out += "  if(KB_CUDA_MAJOR_MINOR VERSION_LESS " + config.general.cuda_minver->str() +
           ")\n    message(FATAL_ERROR \"CUDA version ${CMAKE_CUDA_COMPILER_VERSION} is too old\")\n  endif()\n";
  if (config.general.cuda_maxver)
    out += "  if(KB_CUDA_MAJOR_MINOR VERSION_GREATER " + config.general.cuda_maxver->str() +
           ")\n    message(FATAL_ERROR \"CUDA version ${CMAKE_CUDA_COMPILER_VERSION} is too new\")\n  endif()\n";
  return out + "endif()\n";
}

std::string render_tvm_ffi_cmakelists(const BuildConfig& config, const std::string& unique_id) {
  const auto& t = config.tvm_ffi;
  std::string out = render_head(config, unique_id) + "\n" + std::string(embedded_file("project/data/CMakeLists.tvm_ffi.cmake"));
  out += render_cuda_bounds(config);
  out += render_binding("tvm-ffi", t.src, t.include, t.cxx_flags);
  out += render_kernel_components(config);
  out += "\nkb_finish_tvm_ffi_library(" + config.module_name() + ")\n";
  return out;
}

std::string render_cmakelists(const BuildConfig& config, const std::string& unique_id) {
  const auto& torch = config.torch;
  std::string out = render_head(config, unique_id) + "\n" + std::string(embedded_file("project/data/CMakeLists.torch.cmake"));

  out += "\n# Version bounds from build.toml (compared on major.minor).\n";
  out += "string(REGEX MATCH \"^[0-9]+(\\\\.[0-9]+)?\" KB_TORCH_MAJOR_MINOR \"${KB_TORCH_VERSION}\")\n";
  if (torch.minver)
    out += "if(KB_TORCH_MAJOR_MINOR VERSION_LESS " + torch.minver->str() +
           ")\n  message(FATAL_ERROR \"Torch version ${KB_TORCH_VERSION} is too old (build.toml: minver " +
           torch.minver->str() + ")\")\nendif()\n";
  if (torch.maxver)
    out += "if(KB_TORCH_MAJOR_MINOR VERSION_GREATER " + torch.maxver->str() +
           ")\n  message(FATAL_ERROR \"Torch version ${KB_TORCH_VERSION} is too new (build.toml: maxver " +
           torch.maxver->str() + ")\")\nendif()\n";
  out += render_cuda_bounds(config);

  // Stable ABI: the backend being built may target a torch stable-ABI version.
  std::vector<std::string> stable_lines;
  for (Backend b : config::all_backends())
    if (auto v = config.stable_abi_for(b))
      stable_lines.push_back("set(KB_STABLE_ABI_" + std::string(config::backend_name(b)) + " " + v->str() + ")");
  if (!stable_lines.empty()) {
    out += "\n# Torch stable ABI per backend.\n" + join(stable_lines, "\n") + "\n";
    out += "set(KB_STABLE_ABI \"${KB_STABLE_ABI_${KB_BACKEND}}\")\n";
    out += "if(KB_STABLE_ABI)\n";
    out += "  if(KB_TORCH_MAJOR_MINOR VERSION_LESS KB_STABLE_ABI)\n";
    out += "    message(FATAL_ERROR \"Torch ${KB_TORCH_VERSION} is older than the stable ABI ${KB_STABLE_ABI}\")\n";
    out += "  endif()\n";
    out += "  string(REPLACE \".\" \";\" kb_abi_parts \"${KB_STABLE_ABI}.0\")\n";
    out += "  list(GET kb_abi_parts 0 kb_abi_major)\n  list(GET kb_abi_parts 1 kb_abi_minor)\n";
    out += "  math(EXPR kb_target \"(${kb_abi_major} << 56) | (${kb_abi_minor} << 48)\" OUTPUT_FORMAT HEXADECIMAL)\n";
    out += "  list(APPEND KB_BACKEND_DEFINES TORCH_TARGET_VERSION=${kb_target})\n";
    out += "endif()\n";
  }

  out += render_binding("torch", torch.src, torch.include, torch.cxx_flags);
  out += render_kernel_components(config);
  out += "\nkb_finish_extension(" + config.module_name() + ")\n";
  return out;
}

std::string render_pyproject(const BuildConfig& config, bool noarch) {
  std::vector<std::string> general = config.pip_packages_for(std::nullopt);
  std::string optional;
  for (Backend b : config.general.backends) {
    std::vector<std::string> all = config.pip_packages_for(b), extra;
    for (const auto& p : all)
      if (std::find(general.begin(), general.end(), p) == general.end()) extra.push_back(p);
    if (!extra.empty()) optional += std::string(config::backend_name(b)) + " = [" + python_string_list(extra) + "]\n";
  }
  std::vector<std::string> deps, build_requires;
  std::string setuptools_table;
  if (noarch) {
    deps.push_back("torch>=2.8");
    deps.insert(deps.end(), general.begin(), general.end());
    build_requires = {"setuptools>=61", "wheel"};
    setuptools_table =
        "\n[tool.setuptools]\npackage-dir = { \"\" = \"torch-ext\" }\n\n"
        "[tool.setuptools.packages.find]\nwhere = [\"torch-ext\"]\ninclude = [\"" +
        config.module_name() + "*\"]\n";
  } else {
    build_requires = {"cmake>=3.25",
                      "ninja",
                      "packaging",
                      "setuptools>=61",
                      config.framework == Framework::TvmFfi ? "apache-tvm-ffi" : "torch",
                      "wheel"};
    build_requires.insert(build_requires.end(), general.begin(), general.end());
  }
  return render("pyproject.toml.in", {{"PROJECT_NAME", noarch ? config.general.name : config.module_name()},
                                      {"PROJECT_VERSION", noarch ? "0.0.1" : "0.1.0"},
                                      {"DEPENDENCIES", python_string_list(deps)},
                                      {"OPTIONAL_DEPENDENCIES", optional},
                                      {"BUILD_REQUIRES", python_string_list(build_requires)},
                                      {"SETUPTOOLS_TABLE", setuptools_table}});
}

}  // namespace

std::string ops_name(const BuildConfig& config, Backend backend, const std::string& unique_id) {
  return "_" + config.module_name() + "_" + std::string(config::backend_name(backend)) + "_" + unique_id;
}

std::vector<GeneratedFile> render_project(const BuildConfig& config, const std::string& unique_id,
                                          const std::optional<metadata::Provenance>& provenance) {
  std::vector<GeneratedFile> files;
  const std::string module = config.module_name();
  if (config.framework == Framework::TvmFfi) {
    files.push_back({"CMakeLists.txt", render_tvm_ffi_cmakelists(config, unique_id)});
    files.push_back({"cmake/kb-kernel.cmake", std::string(embedded_file("project/data/kb-kernel.cmake"))});
    files.push_back({"cmake/_ops.py.in", std::string(embedded_file("project/data/_ops_tvm_ffi.py.in"))});
    files.push_back({"pyproject.toml", render_pyproject(config, false)});
  } else if (config.framework == Framework::Torch) {
    files.push_back({"CMakeLists.txt", render_cmakelists(config, unique_id)});
    files.push_back({"cmake/kb-kernel.cmake", std::string(embedded_file("project/data/kb-kernel.cmake"))});
    files.push_back({"cmake/_ops.py.in", std::string(embedded_file("project/data/_ops_arch.py.in"))});
    files.push_back({"torch-ext/registration.h", std::string(embedded_file("project/data/registration.h"))});
    std::vector<std::string> package_data;
    for (const auto& ext : data_extensions(config)) package_data.push_back("**/*." + ext);
    files.push_back({"setup.py", render("setup.py.in", {{"MODULE", module},
                                                        {"UNIQUE_ID", unique_id},
                                                        {"PACKAGE_DATA", python_string_list(package_data)}})});
    files.push_back({"pyproject.toml", render_pyproject(config, false)});
  } else {
    std::vector<std::string> backends;
    for (Backend b : config.general.backends) backends.emplace_back(config::backend_name(b));
    files.push_back({"setup.py", render("setup_noarch.py.in", {{"MODULE", module},
                                                               {"PROJECT_NAME", config.general.name},
                                                               {"BACKENDS", python_string_list(backends)}})});
    files.push_back({"pyproject.toml", render_pyproject(config, true)});
  }
  if (has_noarch_backend(config))
    files.push_back({"torch-ext/" + module + "/_ops.py",
                     render("_ops_noarch.py.in", {{"MODULE", module}, {"UNIQUE_ID", unique_id}})});

  for (Backend b : config::all_backends()) {
    auto meta = metadata::metadata_for_backend(config, b, ops_name(config, b, unique_id), provenance);
    files.push_back({"metadata-" + std::string(config::backend_name(b)) + ".json", metadata::to_json_text(meta)});
  }
  return files;
}

std::vector<std::filesystem::path> generated_paths(const BuildConfig& config) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : render_project(config, "0000000", std::nullopt)) out.push_back(f.path);
  return out;
}

namespace {

// JSON files have no room for the marker: an existing one is always kb's.
bool generated_by_kb(const fs::path& file, const fs::path& rel) {
  return rel.extension() == ".json" || read_file(file).find(kGeneratedMarker) != std::string::npos;
}

}  // namespace

void check_package_files(const std::filesystem::path& kernel_dir, const std::vector<GeneratedFile>& files,
                         const WriteOptions& options) {
  if (options.force) return;
  std::vector<std::string> foreign;
  for (const auto& f : files) {
    auto first = f.path.begin();
    // torch-ext/<module>/<file>: shipped inside the package.
    if (first == f.path.end() || *first != "torch-ext" || std::distance(f.path.begin(), f.path.end()) < 3) continue;
    fs::path p = kernel_dir / f.path;
    std::error_code ec;
    if (fs::is_regular_file(p, ec) && !generated_by_kb(p, f.path)) foreign.push_back(f.path.generic_string());
  }
  if (!foreign.empty())
    throw Error("refusing to replace " + join(foreign, ", ") + " of " + kernel_dir.string() +
                " with kb's in the built variants: not generated by kb (use --force to replace)");
}

WriteResult write_project(const std::filesystem::path& target_dir, const std::vector<GeneratedFile>& files,
                          const WriteOptions& options) {
  std::vector<std::string> existing, foreign;
  for (const auto& f : files) {
    fs::path p = target_dir / f.path;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    existing.push_back(f.path.generic_string());
    if (!generated_by_kb(p, f.path)) foreign.push_back(f.path.generic_string());
  }
  if (options.refuse_existing && !options.force && !existing.empty())
    throw Error("File(s) already exists in target directory: " + join(existing, ", ") +
                "\nUse `--force` to overwrite.");
  if (!options.force && !foreign.empty())
    throw Error("refusing to overwrite " + join(foreign, ", ") + " in " + target_dir.string() +
                ": not generated by kb (use --force to overwrite)");
  WriteResult result;
  for (const auto& f : files) {
    if (write_file_if_changed(target_dir / f.path, f.content))
      result.written.push_back(f.path);
    else
      result.unchanged.push_back(f.path);
  }
  return result;
}

}  // namespace kb::project
