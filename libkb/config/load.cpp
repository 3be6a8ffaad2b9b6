// Edition detection and the entry points: editions 6 and 5 strictly,
// edition-less files as v4 (upgraded in memory) or v3 (update-build only), a
// clear refusal of the retired v1/v2 layouts, and update-build.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "libkb/config/toml_reader.h"
#include "libkb/config/toml_text.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/toml.h"

namespace kb::config {

namespace {

using detail::fail_at;
using detail::ReadContext;


const char* const kRetiredFormatHelp =
    "which kb no longer reads. Migrate it to edition 5 by hand: list the target backends in "
    "[general] `backends = [...]` (they used to be derived from the kernels); replace "
    "`universal = true` with an empty [torch-noarch] table and keep [torch] only for compiled "
    "kernels; move [general] `cuda-minver`/`cuda-maxver` to [general.cuda] `minver`/`maxver`; in "
    "each [kernel.*] replace `language` with `backend` (a \"cuda-hipify\" kernel becomes a cuda "
    "kernel plus a rocm kernel) and add `depends = [...]`; add `version`, `license` and "
    "`edition = 5` to [general]";

// Something only a v1/v2 file has: where it is and which table holds it.
struct RetiredMarker {
  toml::source_position where;
  std::string table;
  std::string what;
};

std::optional<RetiredMarker> find_retired_marker(const toml::table& root) {
  auto key_at = [](const toml::table& t, std::string_view key) {
    return t.find(key)->first.source().begin;
  };
  const toml::table* general = root["general"].as_table();
  if (general) {
    for (std::string_view key : {"universal", "cuda-minver", "cuda-maxver"})
      if (general->contains(key))
        return RetiredMarker{key_at(*general, key), "general",
                             "`" + std::string(key) + "` in [general]"};
  }
  if (const toml::table* torch = root["torch"].as_table(); torch && torch->contains("universal"))
    return RetiredMarker{key_at(*torch, "universal"), "torch", "`universal` in [torch]"};
  if (const toml::table* kernels = root["kernel"].as_table()) {
    for (auto&& [name, value] : *kernels) {
      const toml::table* kernel = value.as_table();
      if (kernel && kernel->contains("language")) {
        std::string path = "kernel." + detail::toml_key(name.str());
        return RetiredMarker{key_at(*kernel, "language"), path, "`language` in [" + path + "]"};
      }
    }
  }
  if (general && !general->contains("backends"))
    return RetiredMarker{general->source().begin, "general", "no `backends` in [general]"};
  return std::nullopt;
}

BuildConfig read_edition(const toml::table& root, const std::string& source, int edition) {
  return detail::read_document(root, ReadContext{source, edition}).config;
}

BuildConfig read_legacy(const toml::table& root, const std::string& source,
                        const LoadOptions& options, std::vector<std::string>* warnings) {
  if (auto marker = find_retired_marker(root))
    fail_at(ReadContext{source, 2}, marker->where, marker->table,
            "this build.toml uses the retired v1/v2 format (" + marker->what + "), " +
                kRetiredFormatHelp);
  try {
    BuildConfig config = detail::read_document(root, ReadContext{source, 4}).config;
    if (warnings)
      warnings->push_back(source +
                          " uses the legacy v4 format; upgrading to edition 6 in memory. Run "
                          "`kb update-build` to persist the upgrade.");
    return config;
  } catch (const Error& v4_error) {
    std::optional<detail::ReadResult> v3;
    try {
      v3 = detail::read_document(root, ReadContext{source, 3});
    } catch (const Error&) {
      // Neither layout fits: the v4 complaint is the one worth reading.
      throw v4_error;
    }
    if (!options.allow_v3)
      throw Error(source + " uses an unsupported legacy format; migrate it with `kb update-build`");
    if (!v3->license_given)
      fail_at(ReadContext{source, 3}, root["general"].node()->source().begin, "general",
              "cannot migrate to edition 6: the \"license\" key is required in [general] "
              "(e.g. license = \"apache-2.0\")");
    return v3->config;
  }
}

}  // namespace

BuildConfig parse_build_config(std::string_view text, const std::string& source_name,
                               const LoadOptions& options, std::vector<std::string>* warnings) {
  toml::table root = parse_toml(text, source_name);

  const toml::table* general = root["general"].as_table();
  const toml::node* edition = general ? general->get("edition") : nullptr;
  if (!edition) return read_legacy(root, source_name, options, warnings);

  ReadContext ctx{source_name, kCurrentEdition};
  if (!edition->is_integer())
    fail_at(ctx, edition->source().begin, "general",
            "\"edition\" must be an integer, found " + detail::type_name(*edition));
  int64_t value = edition->as_integer()->get();
  if (value > kCurrentEdition)
    fail_at(ctx, edition->source().begin, "general",
            "unsupported build edition " + std::to_string(value) +
                "; this kb reads editions 5 and 6, a newer kb is needed");
  if (value != 5 && value != 6)
    fail_at(ctx, edition->source().begin, "general",
            "unsupported build edition " + std::to_string(value) +
                "; the editions are 5 and 6 (older formats have no `edition` key; `kb update-build` "
                "converts them)");
  return read_edition(root, source_name, static_cast<int>(value));
}

BuildConfig load_build_config(const std::filesystem::path& kernel_dir, const LoadOptions& options,
                              std::vector<std::string>* warnings) {
  std::filesystem::path file = kernel_dir / "build.toml";
  std::string text;
  {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
      throw Error("Cannot open " + file.string() + " for reading: " + std::strerror(EISDIR));
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error("Cannot open " + file.string() + " for reading: " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) throw Error("Cannot read " + file.string());
    text = content.str();
  }
  return parse_build_config(text, file.string(), options, warnings);
}

namespace {

// Versions edition 6 cannot express: it writes exactly major.minor, so a third
// non-zero part ("2.5.1") would be lost. Named by file, table and key.
void check_expressible(const BuildConfig& config, const std::string& source) {
  auto check = [&](const std::optional<Version>& v, const std::string& table, const std::string& key) {
    if (v && v->parts().size() > 2)
      throw Error(source + ": [" + table + "] " + key + " = \"" + v->str() +
                  "\" cannot be written in edition 6, which takes versions as exactly major.minor; change it "
                  "by hand (e.g. \"" + v->major_minor() + "\") and run update-build again");
  };
  check(config.general.cuda_minver, "general.cuda", "minver");
  check(config.general.cuda_maxver, "general.cuda", "maxver");
  if (config.framework == Framework::Torch) {
    check(config.torch.minver, "torch", "minver");
    check(config.torch.maxver, "torch", "maxver");
    check(config.torch.stable_abi_all, "torch", "stable-abi");
    for (const auto& [b, v] : config.torch.stable_abi_per_backend)
      check(v, "torch.stable-abi", std::string(backend_name(b)));
  }
  for (const auto& k : config.kernels) check(k.cuda_minver, "kernel." + detail::toml_key(k.name), "cuda-minver");
}

}  // namespace

UpdateBuildResult plan_build_update(const std::filesystem::path& kernel_dir) {
  LoadOptions options;
  options.allow_v3 = true;
  std::filesystem::path file = kernel_dir / "build.toml";
  BuildConfig config = load_build_config(kernel_dir, options);
  UpdateBuildResult result;
  result.from_edition = config.edition;
  if (config.edition == kCurrentEdition) {
    result.text = read_file(file);
    return result;
  }
  check_expressible(config, file.string());
  result.text = to_toml(config);
  // What gets written must read back as the same configuration.
  BuildConfig reread = parse_build_config(result.text, file.string());
  reread.edition = config.edition;
  if (!(reread == config))
    throw Error("internal: the edition-6 form of " + file.string() + " does not read back the same");
  result.changed = true;
  return result;
}

UpdateBuildResult update_build_file(const std::filesystem::path& kernel_dir) {
  UpdateBuildResult result = plan_build_update(kernel_dir);
  if (result.changed) write_file_atomic(kernel_dir / "build.toml", result.text);
  return result;
}

}  // namespace kb::config
