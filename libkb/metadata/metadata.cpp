#include "libkb/metadata/metadata.h"

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

namespace kb::metadata {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Raised while walking the JSON; turned into the full message at the top.
struct KeyError {
  std::string key;
  std::string problem;
};

std::string type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

std::string join_key(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// The value of `key` in `object`; std::nullopt when absent or null.
const json* optional_member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& required_member(const json& object, const char* key, const std::string& parent) {
  const json* value = optional_member(object, key);
  if (!value) throw KeyError{join_key(parent, key), "missing required key"};
  return *value;
}

void expect_object(const json& j, const std::string& key) {
  if (!j.is_object()) throw KeyError{key, "expected an object, found " + type_name(j)};
}

std::string as_string(const json& j, const std::string& key) {
  if (!j.is_string()) throw KeyError{key, "expected a string, found " + type_name(j)};
  return j.get<std::string>();
}

uint64_t as_unsigned(const json& j, const std::string& key) {
  if (!j.is_number_unsigned())
    throw KeyError{key, "expected a non-negative integer, found " +
                            (j.is_number() ? j.dump() : type_name(j))};
  return j.get<uint64_t>();
}

bool as_bool(const json& j, const std::string& key) {
  if (!j.is_boolean()) throw KeyError{key, "expected true or false, found " + type_name(j)};
  return j.get<bool>();
}

std::vector<std::string> as_string_list(const json& j, const std::string& key) {
  if (!j.is_array()) throw KeyError{key, "expected a list of strings, found " + type_name(j)};
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(as_string(j[i], key + "[" + std::to_string(i) + "]"));
  return out;
}

std::string git_url(const json& j, const std::string& key) {
  std::string text = as_string(j, key);
  try {
    config::parse_git_url(text);
  } catch (const Error& e) {
    throw KeyError{key, e.what()};
  }
  return text;
}

std::string object_id(const json& j, const std::string& key) {
  std::string text = as_string(j, key);
  try {
    return git::parse_object_id(text);
  } catch (const Error& e) {
    throw KeyError{key, e.what()};
  }
}

// `commit` (or its legacy alias `sha`) of a git status object.
std::optional<std::string> commit_member(const json& object, const std::string& parent) {
  const json* commit = optional_member(object, "commit");
  const json* sha = optional_member(object, "sha");
  if (commit && sha) throw KeyError{join_key(parent, "sha"), "duplicate of `commit` (`sha` is its legacy alias)"};
  if (commit) return object_id(*commit, join_key(parent, "commit"));
  if (sha) return object_id(*sha, join_key(parent, "sha"));
  return std::nullopt;
}

std::vector<config::KernelDependency> kernel_depends(const json& j, const std::string& key) {
  if (!j.is_array()) throw KeyError{key, "expected a list of dependencies, found " + type_name(j)};
  std::vector<config::KernelDependency> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string entry_key = key + "[" + std::to_string(i) + "]";
    const json& entry = j[i];
    expect_object(entry, entry_key);
    for (const auto& [name, value] : entry.items())
      if (name != "repo-id" && name != "version" && name != "revision")
        throw KeyError{join_key(entry_key, name), "unknown key, expected `repo-id` and `version` or `revision`"};
    config::KernelDependency dep;
    dep.repo_id = as_string(required_member(entry, "repo-id", entry_key), join_key(entry_key, "repo-id"));
    const json* version = optional_member(entry, "version");
    const json* revision = optional_member(entry, "revision");
    if (version && revision)
      throw KeyError{entry_key, "`version` and `revision` are mutually exclusive"};
    if (!version && !revision) throw KeyError{entry_key, "either `version` or `revision` is required"};
    if (version) dep.version = as_unsigned(*version, join_key(entry_key, "version"));
    if (revision) dep.revision = as_string(*revision, join_key(entry_key, "revision"));
    out.push_back(std::move(dep));
  }
  return out;
}

BackendInfo backend_info(const json& j) {
  expect_object(j, "backend");
  BackendInfo info;
  std::string type = as_string(required_member(j, "type", "backend"), "backend.type");
  if (type == "agnostic") {
    info.agnostic = true;
    return info;
  }
  std::optional<config::Backend> backend = config::parse_backend(type);
  // Names match exactly; another spelling is a type this version does not
  // know, whose other keys mean nothing here.
  if (!backend || config::backend_name(*backend) != type) {
    info.unknown_type = type;
    return info;
  }
  info.type = *backend;
  if (const json* archs = optional_member(j, "archs")) info.archs = as_string_list(*archs, "backend.archs");
  return info;
}

Digest digest(const json& j) {
  expect_object(j, "digest");
  Digest d;
  std::string algorithm = as_string(required_member(j, "algorithm", "digest"), "digest.algorithm");
  if (algorithm == "sha256") {
    d.algorithm = DigestAlgorithm::Sha256;
  } else if (algorithm == "sha512") {
    d.algorithm = DigestAlgorithm::Sha512;
  } else {
    throw KeyError{"digest.algorithm", "unsupported digest algorithm `" + algorithm + "`, expected sha256 or sha512"};
  }
  const json& files = required_member(j, "files", "digest");
  expect_object(files, "digest.files");
  for (const auto& [path, value] : files.items()) d.files[path] = as_string(value, "digest.files." + path);
  return d;
}

Provenance provenance(const json& j) {
  expect_object(j, "provenance");
  Provenance p;
  const json& builder = required_member(j, "kernel-builder", "provenance");
  expect_object(builder, "provenance.kernel-builder");
  p.kernel_builder.version =
      as_string(required_member(builder, "version", "provenance.kernel-builder"), "provenance.kernel-builder.version");
  std::optional<std::string> commit = commit_member(builder, "provenance.kernel-builder");
  const json* dirty = optional_member(builder, "dirty");
  if (commit.has_value() != (dirty != nullptr))
    throw KeyError{"provenance.kernel-builder", "git commit and dirty must be specified together"};
  if (commit) p.kernel_builder.git = CommitState{*commit, as_bool(*dirty, "provenance.kernel-builder.dirty")};
  if (const json* kernel = optional_member(j, "kernel")) {
    expect_object(*kernel, "provenance.kernel");
    std::optional<std::string> kernel_commit = commit_member(*kernel, "provenance.kernel");
    if (!kernel_commit) throw KeyError{"provenance.kernel.commit", "missing required key"};
    bool kernel_dirty = as_bool(required_member(*kernel, "dirty", "provenance.kernel"), "provenance.kernel.dirty");
    p.kernel = CommitState{*kernel_commit, kernel_dirty};
  }
  return p;
}

ordered_json commit_json(const CommitState& state) {
  ordered_json j = ordered_json::object();
  j["commit"] = state.commit;
  j["dirty"] = state.dirty;
  return j;
}

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw Error("Cannot parse metadata from `" + source + "`: " + problem);
}

}  // namespace

std::string_view digest_algorithm_name(DigestAlgorithm a) {
  return a == DigestAlgorithm::Sha512 ? "sha512" : "sha256";
}

bool Provenance::dirty() const {
  return (kernel_builder.git && kernel_builder.git->dirty) || (kernel && kernel->dirty);
}

// "X.Y.Z": exactly three non-negative integers, as the current release requires.
std::string three_part_version(const json& v, const std::string& key) {
  std::string text = as_string(v, key);
  std::vector<uint64_t> parts;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9)
      throw KeyError{key, "expected a version with three parts (X.Y.Z), got \"" + text + "\""};
    parts.push_back(std::stoull(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) throw KeyError{key, "expected a version with three parts (X.Y.Z), got \"" + text + "\""};
  return text;
}

Metadata metadata_from_json(const json& j, const std::string& source) {
  try {
    expect_object(j, "(top level)");
    Metadata m;
    m.name = as_string(required_member(j, "name", ""), "name");
    try {
      config::validate_kernel_name(m.name);
    } catch (const Error& e) {
      throw KeyError{"name", e.what()};
    }
    m.id = as_string(required_member(j, "id", ""), "id");
    m.version = as_unsigned(required_member(j, "version", ""), "version");
    if (const json* v = optional_member(j, "build-layout")) {
      std::string layout = as_string(*v, "build-layout");
      std::optional<config::BuildLayout> parsed = config::parse_build_layout(layout);
      if (!parsed)
        throw KeyError{"build-layout", "unknown build layout \"" + layout +
                                           "\", expected \"files\" or \"zip\" (a newer kernels may be needed)"};
      m.build_layout = *parsed;
    }
    if (const json* v = optional_member(j, "kernels-minver")) m.kernels_minver = three_part_version(*v, "kernels-minver");
    m.license = as_string(required_member(j, "license", ""), "license");
    if (const json* v = optional_member(j, "upstream")) m.upstream = git_url(*v, "upstream");
    if (const json* v = optional_member(j, "source")) m.source = git_url(*v, "source");
    m.python_depends = as_string_list(required_member(j, "python-depends", ""), "python-depends");
    if (auto it = j.find("kernel-depends"); it != j.end()) m.kernel_depends = kernel_depends(*it, "kernel-depends");
    m.backend = backend_info(required_member(j, "backend", ""));
    if (const json* v = optional_member(j, "digest")) m.digest = digest(*v);
    if (const json* v = optional_member(j, "provenance")) m.provenance = provenance(*v);
    return m;
  } catch (const KeyError& e) {
    fail(source, "`" + e.key + "`: " + e.problem);
  }
}

Metadata parse_metadata(std::string_view json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {  // a syntax error, or a number too large (out_of_range)
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " tag.
    if (auto close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string::npos)
      what = what.substr(close + 2);
    fail(source, "invalid JSON: " + what);
  }
  return metadata_from_json(j, source);
}

Metadata read_metadata(const fs::path& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error("Failed to open `" + path.string() + "`: " + e.what());
  }
  return parse_metadata(text, path.string());
}

ordered_json to_json(const Metadata& m) {
  ordered_json j = ordered_json::object();
  j["name"] = m.name;
  j["id"] = m.id;
  j["version"] = m.version;
  // Written only when not the default, so files-layout metadata stays as older readers know it.
  if (m.build_layout != config::BuildLayout::Files)
    j["build-layout"] = std::string(config::build_layout_name(m.build_layout));
  if (m.kernels_minver) j["kernels-minver"] = *m.kernels_minver;
  j["license"] = m.license;
  if (m.upstream) j["upstream"] = *m.upstream;
  if (m.source) j["source"] = *m.source;
  j["python-depends"] = m.python_depends;
  ordered_json deps = ordered_json::array();
  for (const config::KernelDependency& dep : m.kernel_depends) {
    ordered_json d = ordered_json::object();
    d["repo-id"] = dep.repo_id;
    if (dep.version) d["version"] = *dep.version;
    if (dep.revision) d["revision"] = *dep.revision;
    deps.push_back(std::move(d));
  }
  j["kernel-depends"] = std::move(deps);
  ordered_json backend = ordered_json::object();
  if (m.backend.unknown_type)
    throw Error("cannot write metadata for " + m.name + ": backend type `" + *m.backend.unknown_type +
                "` is unknown to this version of kb");
  backend["type"] = m.backend.agnostic ? std::string("agnostic") : std::string(config::backend_name(m.backend.type));
  if (m.backend.archs && !m.backend.agnostic) backend["archs"] = *m.backend.archs;
  j["backend"] = std::move(backend);
  if (m.digest) {
    ordered_json d = ordered_json::object();
    d["algorithm"] = std::string(digest_algorithm_name(m.digest->algorithm));
    ordered_json files = ordered_json::object();
    for (const auto& [path, value] : m.digest->files) files[path] = value;
    d["files"] = std::move(files);
    j["digest"] = std::move(d);
  }
  if (m.provenance) {
    ordered_json p = ordered_json::object();
    ordered_json builder = ordered_json::object();
    builder["version"] = m.provenance->kernel_builder.version;
    if (const auto& git = m.provenance->kernel_builder.git) {
      builder["commit"] = git->commit;
      builder["dirty"] = git->dirty;
    }
    p["kernel-builder"] = std::move(builder);
    if (m.provenance->kernel) p["kernel"] = commit_json(*m.provenance->kernel);
    j["provenance"] = std::move(p);
  }
  return j;
}

std::string to_json_text(const Metadata& metadata) { return to_json(metadata).dump(2) + "\n"; }

void write_metadata(const fs::path& path, const Metadata& metadata) {
  write_file_atomic(path, to_json_text(metadata));
}

std::string minimum_kernels_version(const KernelsFeatures& features) {
  if (features.zip_layout) return std::string(kKernelsVersionZipLayout);
  if (features.kernel_depends) return "0.17.0";
  return "0.14.0";
}

void set_zip_layout(Metadata& metadata) {
  metadata.build_layout = config::BuildLayout::Zip;
  if (!metadata.kernels_minver ||
      Version::parse(*metadata.kernels_minver) < Version::parse(std::string(kKernelsVersionZipLayout)))
    metadata.kernels_minver = std::string(kKernelsVersionZipLayout);
}

Metadata metadata_for_backend(const config::BuildConfig& config, config::Backend backend, const std::string& ops_name,
                              const std::optional<Provenance>& provenance) {
  const config::General& general = config.general;
  Metadata m;
  m.name = general.name;
  m.id = ops_name;
  m.version = general.version;
  m.license = general.license;
  if (general.upstream) m.upstream = general.upstream->original;
  if (general.source) m.source = general.source->original;
  m.python_depends = config.python_depends_for(backend);
  m.kernel_depends = config.kernel_depends_for(backend);
  m.kernels_minver = minimum_kernels_version({.kernel_depends = !m.kernel_depends.empty()});
  m.backend.type = backend;
  if (config.framework == config::Framework::TorchNoarch) {
    const config::TorchNoarchTable& noarch = config.torch_noarch;
    if (backend == config::Backend::Cuda && !noarch.cuda_capabilities.empty())
      m.backend.archs = noarch.cuda_capabilities;
    if (backend == config::Backend::Rocm && !noarch.rocm_archs.empty()) m.backend.archs = noarch.rocm_archs;
  }
  m.provenance = provenance;
  return m;
}

}  // namespace kb::metadata
