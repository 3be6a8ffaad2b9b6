// The build.toml schemas of editions 6, 5 and 4 and the legacy v3 layout,
// read into one model. Tables deny unknown keys everywhere. Edition 6 differs
// from 5 in: [kernel.*] `language` instead of `backend` (and Rust kernels),
// versions written exactly as major.minor, [general] build-layout, the
// torch-stable-abi-shim dependency, an optional [tvm-ffi] src.
#include <algorithm>

#include "libkb/config/toml_reader.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::config::detail {

namespace {

using Keys = std::vector<std::string>;

std::string dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool contains(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::vector<std::string> backend_names(bool compiled_only) {
  std::vector<std::string> names;
  for (Backend b : all_backends())
    if (!compiled_only || is_compiled_backend(b)) names.emplace_back(backend_name(b));
  return names;
}

// Keys of each table per edition.
Keys root_keys(int edition) {
  Keys keys = {"general", "kernel", "torch", "tvm-ffi"};
  if (edition >= 4) keys.push_back("torch-noarch");
  if (edition >= 6) keys.push_back("mlx-noarch");
  return keys;
}

Keys general_keys(int edition) {
  Keys keys = {"name",           "version", "license", "upstream", "backends",
               "python-depends", "cuda",    "hub",     "neuron",   "xpu"};
  if (edition >= 4) keys.push_back("source");
  if (edition >= 5) {
    keys.push_back("edition");
    keys.push_back("kernel-depends");
    keys.push_back("tpu");
  }
  if (edition >= 6) keys.push_back("build-layout");
  return keys;
}

Keys general_backend_keys(Backend b, int edition) {
  Keys keys = {"python-depends"};
  if (b == Backend::Cuda) {
    keys.push_back("minver");
    keys.push_back("maxver");
  }
  if (edition >= 5 && b != Backend::Tpu) keys.push_back("kernel-depends");
  return keys;
}

Keys torch_keys(int edition) {
  Keys keys = {"src", "include", "pyext", "minver", "maxver"};
  if (edition >= 4) {
    keys.push_back("stable-abi");
    keys.push_back("cxx-flags");
  }
  return keys;
}

Keys tvm_ffi_keys(int edition) {
  Keys keys = {"src", "include", "pyext"};
  if (edition >= 4) keys.push_back("cxx-flags");
  return keys;
}

const Keys kernel_common_keys = {"backend", "src", "depends", "include", "cxx-flags"};

Keys kernel_backend_keys(Backend b) {
  switch (b) {
    case Backend::Cuda:
      return {"cuda-capabilities", "cuda-flags", "cuda-minver"};
    case Backend::Rocm:
      return {"rocm-archs", "hip-flags"};
    case Backend::Xpu:
      return {"sycl-flags"};
    default:
      return {};
  }
}

Keys kernel_keys(Backend b) {
  Keys keys = kernel_common_keys;
  for (auto& k : kernel_backend_keys(b)) keys.push_back(k);
  return keys;
}

// Edition-less (v4/v3) files add the key; edition-5 files change its value.
std::string needs_edition(std::string_view key, int edition) {
  std::string n = std::to_string(edition);
  if (edition == 5) return dq(key) + " needs edition 5: add `edition = 5` to [general]";
  return dq(key) + " needs edition " + n + ": set `edition = " + n + "` in [general]";
}

// A key the reader rejects in an older edition although a newer one has it.
TableReader::Explain newer_edition_hint(const ReadContext& ctx, Keys v5_keys, Keys v6_keys = {}) {
  return [&ctx, v5_keys = std::move(v5_keys), v6_keys = std::move(v6_keys)](std::string_view key) -> std::string {
    if (ctx.edition < 5 && contains(v5_keys, key)) return needs_edition(key, 5);
    if (ctx.edition < 6 && contains(v6_keys, key)) return needs_edition(key, 6);
    return {};
  };
}

std::vector<Backend> read_backends(const TableReader& general) {
  general.require("backends");
  std::vector<Backend> out;
  for (auto& [text, node] : general.string_elements("backends")) {
    auto names = backend_names(false);
    if (!contains(names, text)) {
      std::string message = "unknown backend " + dq(text) + " in \"backends\"";
      if (auto guess = suggest(to_lower(text), names); !guess.empty())
        message += " (did you mean " + dq(guess) + "?)";
      general.fail(*node, message + "; expected one of: " + join(names, ", "));
    }
    out.push_back(*parse_backend(text));
  }
  return out;
}

void read_general_backend_table(const TableReader& general, Backend b, General& out) {
  const ReadContext& ctx = general.context();
  auto table = general.opt_table(backend_name(b));
  if (!table) return;
  table->deny_unknown_keys(general_backend_keys(b, ctx.edition),
                           newer_edition_hint(ctx, general_backend_keys(b, 5)));
  if (auto deps = table->opt_strings("python-depends")) out.backend_python_depends[b] = *deps;
  if (ctx.edition >= 5)
    if (auto deps = table->opt_kernel_depends("kernel-depends"))
      out.backend_kernel_depends[b] = *deps;
  if (b == Backend::Cuda) {
    out.cuda_minver = table->opt_version("minver");
    out.cuda_maxver = table->opt_version("maxver");
  }
}

General read_general(const TableReader& general, ReadResult& result) {
  const ReadContext& ctx = general.context();
  general.deny_unknown_keys(general_keys(ctx.edition), [&ctx](std::string_view key) -> std::string {
    if (ctx.edition < 5 && contains(general_keys(5), key)) return needs_edition(key, 5);
    if (ctx.edition < 6 && contains(general_keys(6), key)) return needs_edition(key, 6);
    auto b = parse_backend(key);
    if (b && key == backend_name(*b))
      return "there is no [general." + std::string(key) +
             "] table; per-backend tables exist for cuda, neuron, tpu and xpu";
    return {};
  });

  General out;
  out.name = general.req_string("name");
  try {
    validate_kernel_name(out.name);
  } catch (const Error& e) {
    general.fail(*general.get("name"), e.what());
  }
  if (ctx.edition >= 4) {
    out.version = general.req_uint("version");
    out.license = general.req_string("license");
  } else {
    // v3 left both optional; migration defaults the version and needs a license.
    out.version = general.opt_uint("version").value_or(1);
    auto license = general.opt_string("license");
    result.license_given = license.has_value();
    out.license = license.value_or("");
  }
  out.upstream = general.opt_git_url("upstream");
  if (ctx.edition >= 4) out.source = general.opt_git_url("source");
  out.backends = read_backends(general);
  if (ctx.edition >= 6)
    if (const toml::node* layout = general.get("build-layout")) {
      if (!layout->is_string()) general.fail(*layout, "\"build-layout\" must be a string, found " + type_name(*layout));
      std::string text = layout->as_string()->get();
      std::optional<BuildLayout> parsed = parse_build_layout(text);
      if (!parsed) general.fail(*layout, "\"build-layout\" must be \"files\" or \"zip\", found " + dq(text));
      out.build_layout = *parsed;
    }
  out.python_depends = general.strings("python-depends");
  if (ctx.edition >= 5)
    out.kernel_depends =
        general.opt_kernel_depends("kernel-depends").value_or(std::vector<KernelDependency>{});

  for (Backend b : {Backend::Cuda, Backend::Neuron, Backend::Tpu, Backend::Xpu})
    if (b != Backend::Tpu || ctx.edition >= 5) read_general_backend_table(general, b, out);

  if (auto hub = general.opt_table("hub")) {
    hub->deny_unknown_keys({"repo-id", "branch"});
    out.hub_repo_id = hub->opt_string("repo-id");
    out.hub_branch = hub->opt_string("branch");
  }
  return out;
}

void read_stable_abi(const TableReader& torch, TorchTable& out) {
  const ReadContext& ctx = torch.context();
  const toml::node* node = torch.get("stable-abi");
  if (!node) return;
  if (node->is_string()) {
    out.stable_abi_all = torch.version_value(*node, "stable-abi");
    return;
  }
  if (!node->is_table() || ctx.edition < 5) {
    std::string expected = ctx.edition >= 5
                               ? "a version string (e.g. \"2.11\") or a table of backend = version"
                               : "a version string (e.g. \"2.11\")";
    std::string hint = node->is_table() ? " (per-backend stable-abi tables need edition 5: add "
                                          "`edition = 5` to [general])"
                                        : "";
    torch.fail(*node, "\"stable-abi\" must be " + expected + ", found " + type_name(*node) + hint);
  }
  TableReader table(ctx, *node->as_table(), torch.child_path("stable-abi"));
  auto names = backend_names(false);
  table.deny_unknown_keys(names, [&names](std::string_view key) -> std::string {
    std::string why = "stable-abi keys are backend names: " + join(names, ", ");
    if (auto guess = suggest(to_lower(key), names); !guess.empty())
      why = "did you mean " + dq(guess) + "? " + why;
    return why;
  });
  for (auto&& [key, value] : table.table())
    out.stable_abi_per_backend[*parse_backend(key.str())] = table.version_value(value, key.str());
}

TorchTable read_torch(const TableReader& t) {
  const ReadContext& ctx = t.context();
  t.deny_unknown_keys(torch_keys(ctx.edition), newer_edition_hint(ctx, torch_keys(5), torch_keys(6)));
  TorchTable out;
  out.src = t.strings("src");
  out.include = t.strings("include");
  out.pyext = t.opt_strings("pyext");
  out.minver = t.opt_version("minver");
  out.maxver = t.opt_version("maxver");
  if (ctx.edition >= 4) {
    read_stable_abi(t, out);
    out.cxx_flags = t.strings("cxx-flags");
  }
  return out;
}

TorchNoarchTable read_torch_noarch(const TableReader& t) {
  t.deny_unknown_keys({"pyext", "cuda_capabilities", "rocm_archs"});
  TorchNoarchTable out;
  out.pyext = t.opt_strings("pyext");
  out.cuda_capabilities = t.strings("cuda_capabilities");
  out.rocm_archs = t.strings("rocm_archs");
  return out;
}

TvmFfiTable read_tvm_ffi(const TableReader& t) {
  const ReadContext& ctx = t.context();
  t.deny_unknown_keys(tvm_ffi_keys(ctx.edition), newer_edition_hint(ctx, tvm_ffi_keys(5), tvm_ffi_keys(6)));
  TvmFfiTable out;
  // Edition 6 lets Rust-only kernels, which have no C++ binding code, omit src.
  out.src = ctx.edition >= 6 ? t.strings("src") : t.req_strings("src");
  out.include = t.strings("include");
  out.pyext = t.opt_strings("pyext");
  if (ctx.edition >= 4) out.cxx_flags = t.strings("cxx-flags");
  return out;
}

// Edition-6-only kernel keys met in an older edition.
std::string edition6_kernel_hint(std::string_view key) {
  if (key == "language") return "\"language\" replaces \"backend\" in edition 6: set `edition = 6` in [general]";
  if (key == "cargo-manifest" || key == "tileiras-minver") return "Rust kernels need edition 6";
  return {};
}

Backend read_kernel_backend(const TableReader& k) {
  if (!k.has("backend")) {
    // Check spelling first so "backnd" gets a suggestion rather than "missing".
    Keys every = kernel_common_keys;
    for (Backend b : all_backends())
      for (auto& key : kernel_backend_keys(b)) every.push_back(key);
    k.deny_unknown_keys(every, edition6_kernel_hint);
    k.fail_header("missing required key \"backend\"");
  }
  const toml::node& node = *k.get("backend");
  auto compiled = backend_names(true);
  if (!node.is_string())
    k.fail(node, "\"backend\" must be a string, one of: " + join(compiled, ", ") + "; found " +
                     type_name(node));
  const std::string& text = node.as_string()->get();
  auto b = parse_backend(text);
  if (!b || text != backend_name(*b)) {
    std::string message = "unknown kernel backend " + dq(text);
    if (auto guess = suggest(to_lower(text), compiled); !guess.empty())
      message += " (did you mean " + dq(guess) + "?)";
    k.fail(node, message + "; expected one of: " + join(compiled, ", "));
  }
  if (!is_compiled_backend(*b))
    k.fail(node, "backend " + dq(text) +
                     " cannot be used for a [kernel.*] component; "
                     "components are compiled for one of: " +
                     join(compiled, ", ") + " (" + text +
                     " needs no component: list it in [general] backends)");
  return *b;
}

std::vector<std::string> read_cpp_depends(const TableReader& k) {
  k.require("depends");
  const auto& known = known_cpp_dependencies(k.context().edition);
  std::vector<std::string> out;
  for (auto& [dep, node] : k.string_elements("depends")) {
    if (!contains(known, dep)) {
      std::string message = "unknown dependency " + dq(dep) + " in \"depends\"";
      if (auto guess = suggest(dep, known); !guess.empty()) message += " (did you mean " + dq(guess) + "?)";
      if (dep == "torch-stable-abi-shim") message += " (it needs edition 6: set `edition = 6` in [general])";
      k.fail(*node, message + "; expected one of: " + join(known, ", "));
    }
    out.push_back(dep);
  }
  return out;
}

// Edition 6: the keys each `language` takes besides `language` itself.
Keys language_keys(KernelLanguage l) {
  switch (l) {
    case KernelLanguage::CppCpu:
    case KernelLanguage::CppMetal:
      return {"src", "depends", "include", "cxx-flags"};
    case KernelLanguage::CppCuda:
      return {"src", "depends", "include", "cxx-flags", "cuda-capabilities", "cuda-flags", "cuda-minver"};
    case KernelLanguage::CppRocm:
      return {"src", "depends", "include", "cxx-flags", "rocm-archs", "hip-flags"};
    case KernelLanguage::CppXpu:
      return {"src", "depends", "include", "cxx-flags", "sycl-flags"};
    case KernelLanguage::RustCpu:
      return {"src", "cargo-manifest"};
    case KernelLanguage::RustCudaOxide:
      return {"src", "cargo-manifest", "cuda-capabilities"};
    case KernelLanguage::RustCutile:
      return {"src", "cargo-manifest", "tileiras-minver"};
  }
  return {};
}

Keys with_language(Keys keys) {
  keys.insert(keys.begin(), "language");
  return keys;
}

std::vector<std::string> language_names() {
  std::vector<std::string> names;
  for (KernelLanguage l : all_kernel_languages()) names.emplace_back(kernel_language_name(l));
  return names;
}

// The first CUDA release that ships tileiras, the cuTile compiler.
const Version kMinTileirasVersion({13, 2});

KernelLanguage read_kernel_language(const TableReader& k) {
  auto names = language_names();
  auto backend_hint = [](std::string_view key) -> std::string {
    if (key == "backend")
      return "edition 6 kernels name their language instead of their backend, e.g. language = \"cpp-cuda\"";
    return {};
  };
  if (!k.has("language")) {
    if (const toml::node* backend = k.get("backend")) {
      std::string example = "cpp-cuda";
      if (backend->is_string())
        if (auto b = parse_backend(backend->as_string()->get()); b && is_compiled_backend(*b))
          example = std::string(kernel_language_name(cpp_language_for(*b)));
      k.fail(*backend, "\"backend\" was replaced by \"language\" in edition 6: write language = " + dq(example) +
                           " (`kb update-build` converts the file)");
    }
    Keys every = {"language"};
    for (KernelLanguage l : all_kernel_languages())
      for (auto& key : language_keys(l))
        if (!contains(every, key)) every.push_back(key);
    k.deny_unknown_keys(every, backend_hint);
    k.fail_header("missing required key \"language\"; expected one of: " + join(names, ", "));
  }
  const toml::node& node = *k.get("language");
  if (!node.is_string())
    k.fail(node, "\"language\" must be a string, one of: " + join(names, ", ") + "; found " + type_name(node));
  const std::string& text = node.as_string()->get();
  auto language = parse_kernel_language(text);
  if (!language) {
    std::string message = "unknown kernel language " + dq(text);
    if (auto b = parse_backend(text); b && is_compiled_backend(*b))
      message += " (did you mean " + dq(kernel_language_name(cpp_language_for(*b))) + "?)";
    else if (auto guess = suggest(to_lower(text), names); !guess.empty())
      message += " (did you mean " + dq(guess) + "?)";
    k.fail(node, message + "; expected one of: " + join(names, ", "));
  }
  return *language;
}

// The keys of a C++ kernel (edition 5 backend = ..., edition 6 cpp-*
// languages): common ones, then those of its backend.
void read_cpp_kernel_keys(const TableReader& k, KernelComponent& out) {
  out.depends = read_cpp_depends(k);
  out.include = k.strings("include");
  out.cxx_flags = k.strings("cxx-flags");
  switch (out.backend) {
    case Backend::Cuda:
      out.cuda_capabilities = k.strings("cuda-capabilities");
      out.cuda_flags = k.strings("cuda-flags");
      out.cuda_minver = k.opt_version("cuda-minver");
      break;
    case Backend::Rocm:
      out.rocm_archs = k.strings("rocm-archs");
      out.hip_flags = k.strings("hip-flags");
      break;
    case Backend::Xpu:
      out.sycl_flags = k.strings("sycl-flags");
      break;
    default:
      break;
  }
}

KernelComponent read_kernel_v6(const TableReader& k, std::string name, Framework framework) {
  KernelComponent out;
  out.name = std::move(name);
  KernelLanguage language = read_kernel_language(k);
  out.backend = kernel_language_backend(language);
  k.deny_unknown_keys(with_language(language_keys(language)), [language](std::string_view key) -> std::string {
    if (key == "backend") return "edition 6 kernels set `language` only; \"backend\" follows from it";
    std::vector<std::string> takers;
    for (KernelLanguage other : all_kernel_languages())
      if (contains(language_keys(other), key)) takers.emplace_back(kernel_language_name(other));
    if (takers.empty()) return {};
    return dq(key) + " is only valid in " + join(takers, ", ") + " kernels; this kernel has language = " +
           dq(kernel_language_name(language));
  });
  out.src = k.req_strings("src");
  if (is_rust_language(language)) {
    if (framework != Framework::TvmFfi)
      k.fail(*k.get("language"), "Rust kernels (language = " + dq(kernel_language_name(language)) +
                                     ") require the [tvm-ffi] framework table, found [" +
                                     std::string(framework_table_name(framework)) + "]");
    RustKernel rust;
    rust.language = language;
    rust.cargo_manifest = k.req_string("cargo-manifest");
    if (language == KernelLanguage::RustCudaOxide) out.cuda_capabilities = k.strings("cuda-capabilities");
    if (language == KernelLanguage::RustCutile) {
      const toml::node& node = k.require("tileiras-minver");
      rust.tileiras_minver = k.version_value(node, "tileiras-minver");
      if (*rust.tileiras_minver < kMinTileirasVersion)
        k.fail(node, "\"tileiras-minver\" must be at least " + kMinTileirasVersion.major_minor() +
                         ", the first CUDA version with cuTile");
    }
    out.rust = std::move(rust);
    return out;
  }
  read_cpp_kernel_keys(k, out);
  return out;
}

KernelComponent read_kernel(const TableReader& k, std::string name) {
  KernelComponent out;
  out.name = std::move(name);
  out.backend = read_kernel_backend(k);
  Backend own = out.backend;
  k.deny_unknown_keys(kernel_keys(own), [own](std::string_view key) -> std::string {
    if (std::string hint = edition6_kernel_hint(key); !hint.empty()) return hint;
    for (Backend b : all_backends())
      if (b != own && contains(kernel_backend_keys(b), key))
        return dq(key) + " is only valid in " + std::string(backend_name(b)) +
               " kernels; this kernel has backend = " + dq(backend_name(own));
    return {};
  });
  out.src = k.req_strings("src");
  read_cpp_kernel_keys(k, out);
  return out;
}

std::vector<KernelComponent> read_kernels(const TableReader& root, Framework framework) {
  std::vector<KernelComponent> out;
  auto kernels = root.opt_table("kernel");
  if (!kernels) return out;
  for (auto&& [key, value] : kernels->table()) {
    std::string name(key.str());
    if (!value.is_table())
      kernels->fail(value, dq(name) + " must be a table, found " + type_name(value));
    TableReader k(root.context(), *value.as_table(), kernels->child_path(name));
    out.push_back(root.context().edition >= 6 ? read_kernel_v6(k, name, framework) : read_kernel(k, name));
  }
  std::sort(out.begin(), out.end(),
            [](const KernelComponent& a, const KernelComponent& b) { return a.name < b.name; });
  return out;
}

void read_framework(const TableReader& root, BuildConfig& config) {
  const ReadContext& ctx = root.context();
  if (ctx.edition >= 6)
    if (const toml::node* mlx = root.get("mlx-noarch"))
      fail_at(ctx, mlx->source().begin, "mlx-noarch",
              "[mlx-noarch] kernels are not supported by kb yet; use [torch-noarch] or [torch]");
  std::vector<std::pair<Framework, const toml::node*>> present;
  for (Framework f : {Framework::Torch, Framework::TorchNoarch, Framework::TvmFfi})
    if (const toml::node* node = root.get(framework_table_name(f))) present.emplace_back(f, node);
  if (present.empty()) {
    if (ctx.edition >= 4)
      fail_at(ctx, root.table().source().begin, "",
              "missing framework table: add one of [torch], [torch-noarch] or [tvm-ffi]");
    config.framework = Framework::TorchNoarch;  // v3: no framework means noarch
    return;
  }
  if (present.size() > 1) {
    std::sort(present.begin(), present.end(), [](const auto& a, const auto& b) {
      auto pa = a.second->source().begin, pb = b.second->source().begin;
      return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
    });
    std::vector<std::string> names;
    for (auto& [f, node] : present)
      names.push_back("[" + std::string(framework_table_name(f)) + "]");
    std::string listed = join(std::vector<std::string>(names.begin(), names.end() - 1), ", ") +
                         " and " + names.back();
    fail_at(ctx, present.back().second->source().begin,
            std::string(framework_table_name(present.back().first)),
            "only one framework table is allowed, found " + listed);
  }
  config.framework = present.front().first;
  auto table = root.opt_table(framework_table_name(config.framework));
  switch (config.framework) {
    case Framework::Torch:
      config.torch = read_torch(*table);
      break;
    case Framework::TorchNoarch:
      config.torch_noarch = read_torch_noarch(*table);
      break;
    case Framework::TvmFfi:
      config.tvm_ffi = read_tvm_ffi(*table);
      break;
  }
}

}  // namespace

ReadResult read_document(const toml::table& document, const ReadContext& ctx) {
  TableReader root(ctx, document, "");
  auto newer = newer_edition_hint(ctx, root_keys(5), root_keys(6));
  root.deny_unknown_keys(root_keys(ctx.edition), [&newer](std::string_view key) -> std::string {
    if (contains(general_keys(5), key)) return dq(key) + " belongs in [general]";
    return newer(key);
  });

  ReadResult result;
  BuildConfig& config = result.config;
  config.edition = ctx.edition;
  auto general = root.opt_table("general");
  if (!general) fail_at(ctx, document.source().begin, "", "missing required table [general]");
  config.general = read_general(*general, result);
  read_framework(root, config);
  config.kernels = read_kernels(root, config.framework);
  return result;
}

}  // namespace kb::config::detail
