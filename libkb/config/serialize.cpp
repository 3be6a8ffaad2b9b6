// to_toml: the edition-6 text of a configuration, in one fixed layout:
// [general] and its sub-tables, the framework table, then kernels by name.
// Absent optional keys and empty optional lists are left out.
#include <algorithm>
#include <cstdio>

#include "libkb/config/config.h"
#include "libkb/config/toml_text.h"

namespace kb::config {

namespace detail {

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
  return bare ? std::string(key) : toml_string(key);
}

}  // namespace detail

namespace {

using detail::toml_key;
using detail::toml_string;

constexpr size_t kMaxLine = 100;

// Edition 6 writes versions as exactly "major.minor" ("13" -> "13.0"); update-build
// refuses versions with more parts before writing.
std::string version_text(const Version& v) {
  return v.parts().size() <= 2 ? v.major_minor() : v.str();
}

class Writer {
 public:
  void header(const std::string& path) {
    if (!out_.empty()) out_ += "\n";
    out_ += "[" + path + "]\n";
  }
  void raw(std::string_view key, const std::string& value) {
    out_ += std::string(key) + " = " + value + "\n";
  }
  void string(std::string_view key, std::string_view value) { raw(key, toml_string(value)); }
  void integer(std::string_view key, uint64_t value) { raw(key, std::to_string(value)); }
  void version(std::string_view key, const std::optional<Version>& v) {
    if (v) string(key, version_text(*v));
  }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    std::vector<std::string> items;
    for (const auto& v : values) items.push_back(toml_string(v));
    array(key, items, false);
  }
  void strings_if_any(std::string_view key, const std::vector<std::string>& values) {
    if (!values.empty()) strings(key, values);
  }
  void strings_if_set(std::string_view key, const std::optional<std::vector<std::string>>& values) {
    if (values) strings(key, *values);
  }
  void kernel_depends(std::string_view key, const std::vector<KernelDependency>& deps) {
    std::vector<std::string> items;
    for (const auto& d : deps) {
      std::string item = "{ repo-id = " + toml_string(d.repo_id);
      if (d.version) item += ", version = " + std::to_string(*d.version);
      if (d.revision) item += ", revision = " + toml_string(*d.revision);
      items.push_back(item + " }");
    }
    array(key, items, true);
  }
  std::string take() { return std::move(out_); }

 private:
  // One line when short, else one item per line with a trailing comma.
  void array(std::string_view key, const std::vector<std::string>& items, bool always_multiline) {
    std::string one_line = std::string(key) + " = [";
    for (size_t i = 0; i < items.size(); ++i) one_line += (i ? ", " : "") + items[i];
    one_line += "]";
    if (items.empty() || (!always_multiline && one_line.size() <= kMaxLine)) {
      out_ += one_line + "\n";
      return;
    }
    out_ += std::string(key) + " = [\n";
    for (const auto& item : items) out_ += "  " + item + ",\n";
    out_ += "]\n";
  }

  std::string out_;
};

void write_general(Writer& w, const General& g) {
  w.header("general");
  w.string("name", g.name);
  w.integer("version", g.version);
  w.integer("edition", kCurrentEdition);
  w.string("license", g.license);
  if (g.upstream) w.string("upstream", g.upstream->original);
  if (g.source) w.string("source", g.source->original);
  std::vector<std::string> backends;
  for (Backend b : g.backends) backends.emplace_back(backend_name(b));
  w.strings("backends", backends);
  if (g.build_layout != BuildLayout::Files) w.string("build-layout", std::string(build_layout_name(g.build_layout)));
  w.strings_if_any("python-depends", g.python_depends);
  if (!g.kernel_depends.empty()) w.kernel_depends("kernel-depends", g.kernel_depends);

  auto backend_table = [&](Backend b) {
    auto py = g.backend_python_depends.find(b);
    auto kd = g.backend_kernel_depends.find(b);
    bool cuda_bounds = b == Backend::Cuda && (g.cuda_minver || g.cuda_maxver);
    if (py == g.backend_python_depends.end() && kd == g.backend_kernel_depends.end() &&
        !cuda_bounds)
      return;
    w.header("general." + std::string(backend_name(b)));
    if (b == Backend::Cuda) {
      w.version("minver", g.cuda_minver);
      w.version("maxver", g.cuda_maxver);
    }
    if (py != g.backend_python_depends.end()) w.strings("python-depends", py->second);
    if (kd != g.backend_kernel_depends.end()) w.kernel_depends("kernel-depends", kd->second);
  };
  backend_table(Backend::Cuda);
  if (g.hub_repo_id || g.hub_branch) {
    w.header("general.hub");
    if (g.hub_repo_id) w.string("repo-id", *g.hub_repo_id);
    if (g.hub_branch) w.string("branch", *g.hub_branch);
  }
  backend_table(Backend::Neuron);
  backend_table(Backend::Tpu);
  backend_table(Backend::Xpu);
}

void write_framework(Writer& w, const BuildConfig& c) {
  w.header(std::string(framework_table_name(c.framework)));
  switch (c.framework) {
    case Framework::Torch: {
      const TorchTable& t = c.torch;
      w.strings_if_any("src", t.src);
      w.strings_if_any("include", t.include);
      w.strings_if_set("pyext", t.pyext);
      w.version("minver", t.minver);
      w.version("maxver", t.maxver);
      w.strings_if_any("cxx-flags", t.cxx_flags);
      if (t.stable_abi_all) {
        w.string("stable-abi", version_text(*t.stable_abi_all));
      } else if (!t.stable_abi_per_backend.empty()) {
        std::string table = "{ ";
        bool first = true;
        for (const auto& [b, v] : t.stable_abi_per_backend) {
          table += (first ? "" : ", ") + std::string(backend_name(b)) + " = " +
                   toml_string(version_text(v));
          first = false;
        }
        w.raw("stable-abi", table + " }");
      }
      break;
    }
    case Framework::TorchNoarch:
      w.strings_if_set("pyext", c.torch_noarch.pyext);
      w.strings_if_any("cuda_capabilities", c.torch_noarch.cuda_capabilities);
      w.strings_if_any("rocm_archs", c.torch_noarch.rocm_archs);
      break;
    case Framework::TvmFfi:
      w.strings_if_any("src", c.tvm_ffi.src);
      w.strings_if_any("include", c.tvm_ffi.include);
      w.strings_if_set("pyext", c.tvm_ffi.pyext);
      w.strings_if_any("cxx-flags", c.tvm_ffi.cxx_flags);
      break;
  }
}

void write_kernel(Writer& w, const KernelComponent& k) {
  w.header("kernel." + toml_key(k.name));
  w.string("language", kernel_language_name(k.language()));
  if (k.rust) {
    w.string("cargo-manifest", k.rust->cargo_manifest);
    w.strings("src", k.src);
    if (k.rust->language == KernelLanguage::RustCudaOxide) w.strings_if_any("cuda-capabilities", k.cuda_capabilities);
    w.version("tileiras-minver", k.rust->tileiras_minver);
    return;
  }
  w.strings("src", k.src);
  w.strings("depends", k.depends);
  w.strings_if_any("include", k.include);
  w.strings_if_any("cxx-flags", k.cxx_flags);
  switch (k.backend) {
    case Backend::Cuda:
      w.strings_if_any("cuda-capabilities", k.cuda_capabilities);
      w.strings_if_any("cuda-flags", k.cuda_flags);
      w.version("cuda-minver", k.cuda_minver);
      break;
    case Backend::Rocm:
      w.strings_if_any("rocm-archs", k.rocm_archs);
      w.strings_if_any("hip-flags", k.hip_flags);
      break;
    case Backend::Xpu:
      w.strings_if_any("sycl-flags", k.sycl_flags);
      break;
    default:
      break;
  }
}

}  // namespace

std::string to_toml(const BuildConfig& config) {
  Writer w;
  write_general(w, config.general);
  write_framework(w, config);
  std::vector<const KernelComponent*> kernels;
  for (const auto& k : config.kernels) kernels.push_back(&k);
  std::sort(kernels.begin(), kernels.end(),
            [](const KernelComponent* a, const KernelComponent* b) { return a->name < b->name; });
  for (const auto* k : kernels) write_kernel(w, *k);
  return w.take();
}

}  // namespace kb::config
