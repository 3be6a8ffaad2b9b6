#include "libkb/metadata/finalize.h"
#include "libkb/config/config.h"

#include "libkb/metadata/checks.h"
#include "libkb/metadata/digest.h"
#include "libkb/metadata/zip_layout.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::metadata {

namespace fs = std::filesystem;

nlohmann::ordered_json FinalizeResult::metadata_json() const {
  return metadata ? to_json(*metadata) : nlohmann::ordered_json::object();
}

Metadata check_variant_metadata(const fs::path& variant_dir) {
  fs::path path = variant_dir / "metadata.json";
  Metadata metadata;
  try {
    metadata = read_metadata(path);
  } catch (const Error& e) {
    throw Error("Failed to parse metadata: " + path.string() + "\n  Caused by: " + e.what());
  }
  // Loaders read a backend type they do not know (a newer builder's); a
  // build of our own must name one kb knows.
  if (metadata.backend.unknown_type) {
    std::vector<std::string> names = {"agnostic"};
    for (config::Backend b : config::all_backends()) names.emplace_back(config::backend_name(b));
    throw Error("Failed to parse metadata: " + path.string() + "\n  Caused by: `backend.type`: unknown backend `" +
                *metadata.backend.unknown_type + "`, expected one of: " + join(names, ", "));
  }
  return metadata;
}

FinalizeResult finalize_variant(const fs::path& variant_dir, const FinalizeOptions& options) {
  FinalizeResult result;
  try {
    result.metadata = check_variant_metadata(variant_dir);
  } catch (const Error& e) {
    result.problems.push_back(e.what());
    return result;
  }
  Metadata& metadata = *result.metadata;

  const bool already_zipped = metadata.build_layout == config::BuildLayout::Zip;
  try {
    // Bytecode is a by-product of running the kernel's tests, never shipped.
    remove_bytecode(variant_dir);
    std::vector<std::string> problems = already_zipped
                                            ? check_zip_layout(variant_dir, metadata)
                                            : check_layout(variant_dir, config::python_module_name(metadata.name));
    for (std::string& problem : problems) result.problems.push_back(std::move(problem));
  } catch (const Error& e) {
    result.problems.push_back(e.what());
  }
  // A zipped package was linted when it was zipped.
  if (options.lint_ops && !already_zipped) {
    try {
      std::vector<OpsViolation> violations = lint_ops_registrations(variant_dir, options.python);
      if (!violations.empty()) result.problems.push_back(format_ops_report(violations));
    } catch (const Error& e) {
      result.problems.push_back(e.what());
    }
  }
  if (!result.problems.empty()) return result;

  std::optional<CommitState> kernel = options.kernel_commit;
  if (!kernel && metadata.provenance) kernel = metadata.provenance->kernel;
  if (!kernel && options.kernel_dir) kernel = git::kernel_provenance(*options.kernel_dir);
  Provenance provenance;
  provenance.kernel_builder = kb_provenance();
  provenance.kernel = kernel;

  try {
    Metadata updated = metadata;
    if (options.build_layout == config::BuildLayout::Zip && !already_zipped)
      convert_to_zip_layout(variant_dir, updated);
    updated.provenance = provenance;
    updated.digest = compute_digest(variant_dir, options.algorithm);
    write_metadata(variant_dir / "metadata.json", updated);
    metadata = std::move(updated);
  } catch (const Error& e) {
    result.problems.push_back(e.what());
    return result;
  }
  result.ok = true;
  return result;
}

}  // namespace kb::metadata
