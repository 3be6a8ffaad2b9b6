#pragma once
// metadata.json: the description every built variant carries (builder spec
// 3.10, runtime spec 5.5). Reading validates everything the runtime validates
// and ignores unknown keys; writing emits the keys in the canonical order:
//   name, id, version, build-layout? (only "zip"), kernels-minver?, license, upstream?, source?, python-depends,
//   kernel-depends, backend{type, archs?}, digest?, provenance?
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/config/config.h"
#include "libkb/git/git.h"

namespace kb::metadata {

using git::CommitState;

enum class DigestAlgorithm { Sha256, Sha512 };
std::string_view digest_algorithm_name(DigestAlgorithm a);  // "sha256" / "sha512"

struct Digest {
  DigestAlgorithm algorithm = DigestAlgorithm::Sha256;
  std::map<std::string, std::string> files;  // relative path ('/') -> standard padded base64
  friend bool operator==(const Digest&, const Digest&) = default;
};

// provenance.kernel-builder: the builder's version string and, when known,
// the commit it was built from. kb writes version "kb <version>" under the
// key "kernel-builder" so existing readers accept it.
struct BuilderProvenance {
  std::string version;
  std::optional<CommitState> git;
  friend bool operator==(const BuilderProvenance&, const BuilderProvenance&) = default;
};

struct Provenance {
  BuilderProvenance kernel_builder;
  std::optional<CommitState> kernel;
  // Either the builder or the kernel came from a tree with uncommitted changes.
  bool dirty() const;
  friend bool operator==(const Provenance&, const Provenance&) = default;
};

struct BackendInfo {
  config::Backend type = config::Backend::Cpu;  // when neither agnostic nor unknown
  std::optional<std::vector<std::string>> archs;
  // {"type": "agnostic"}: a build for no backend in particular (some SDKs).
  bool agnostic = false;
  // A type this version does not know (from a newer builder), as written.
  // Reading accepts it, so the variant still loads; writing refuses it.
  std::optional<std::string> unknown_type;
  friend bool operator==(const BackendInfo&, const BackendInfo&) = default;
};

struct Metadata {
  std::string name;
  std::string id;
  uint64_t version = 0;
  // "build-layout": absent means files; the zip layout ships `<id>.zip`.
  config::BuildLayout build_layout = config::BuildLayout::Files;
  // The oldest `kernels` API that can load this build ("X.Y.Z", exactly three
  // parts), when the builder recorded one.
  std::optional<std::string> kernels_minver;
  std::string license;
  std::optional<std::string> upstream;  // URL text as written (validated as a git URL)
  std::optional<std::string> source;
  std::vector<std::string> python_depends;
  std::vector<config::KernelDependency> kernel_depends;
  BackendInfo backend;
  std::optional<Digest> digest;
  std::optional<Provenance> provenance;
  friend bool operator==(const Metadata&, const Metadata&) = default;
};

// Validating readers. Errors are kb::Error
//   "Cannot parse metadata from `<source>`: `<key>`: <problem>".
Metadata metadata_from_json(const nlohmann::json& json, const std::string& source);
Metadata parse_metadata(std::string_view json_text, const std::string& source);
// Also fails (naming the path) when the file cannot be read.
Metadata read_metadata(const std::filesystem::path& path);

// Canonical key order; optional keys omitted when absent, kernel-depends
// always present.
nlohmann::ordered_json to_json(const Metadata& metadata);
// Pretty JSON, 2-space indent, trailing newline.
std::string to_json_text(const Metadata& metadata);
// Atomic write of to_json_text.
void write_metadata(const std::filesystem::path& path, const Metadata& metadata);

// The features of a build variant that raise the oldest `kernels` able to load it.
struct KernelsFeatures {
  bool kernel_depends = false;  // metadata lists kernel-depends (resolved since 0.17)
  bool zip_layout = false;      // the variant ships as <id>.zip (imported since 0.19)
};
// metadata.json's kernels-minver for a variant with `features`: "0.14.0" for
// the current metadata format, "0.17.0" with kernel dependencies, "0.19.0"
// for the zip layout (the highest that applies).
std::string minimum_kernels_version(const KernelsFeatures& features);

// What create-pyproject writes as metadata-<backend>.json: python-depends and
// kernel-depends for `backend`, kernels-minver from minimum_kernels_version,
// archs only for noarch cuda (cuda_capabilities) and rocm (rocm_archs) when
// listed. Throws what python_depends_for throws.
Metadata metadata_for_backend(const config::BuildConfig& config, config::Backend backend,
                              const std::string& ops_name, const std::optional<Provenance>& provenance);

// The kernels version that first loads the zip build layout.
inline constexpr std::string_view kKernelsVersionZipLayout = "0.19.0";
// Marks `metadata` as zip layout and raises kernels-minver to at least
// kKernelsVersionZipLayout (a newer minver is kept).
void set_zip_layout(Metadata& metadata);

// kb's own provenance: version "kb <KB_VERSION>" and the commit/dirty state of
// the kb sources it was compiled from (absent when unknown).
BuilderProvenance kb_provenance();
// kb_provenance plus the kernel's commit from the repository around
// `kernel_dir` (kernel part absent without a repository or directory).
Provenance build_provenance(const std::optional<std::filesystem::path>& kernel_dir);

}  // namespace kb::metadata
