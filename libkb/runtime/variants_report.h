#pragma once
// `kb variants PATH`: every variant of a local kernel decided for the torch of
// a Python interpreter, and the directory a loader would load.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/resolve/resolve.h"
#include "libkb/toolchain/toolchain.h"

namespace kb::runtime {

// What torch in `python` reports, in the form resolution takes.
resolve::TorchFacts torch_facts(const toolchain::PythonToolchain& python);

// The interpreter whose torch `kb variants` resolves for: `python` when given
// (kb::Error when it cannot import torch), else the first usable KB_PYTHON
// entry when KB_PYTHON is set, else the first one discovered (PATH, the
// defaults). nullopt when none can import torch; `why` then says what was tried.
std::optional<toolchain::PythonToolchain> select_python(const std::optional<std::filesystem::path>& python,
                                                        std::string* why = nullptr);

// The environment a kernel loaded in `python` resolves for. Without an
// interpreter (nullptr): this host without torch, where only noarch variants
// can match. Throws kb::Error for an invalid backend override.
resolve::Environment python_environment(const toolchain::PythonToolchain* python,
                                        const std::optional<std::string>& backend_override = std::nullopt);

struct VariantsReport {
  // The variants of one directory (the path itself or path/build), decided
  // and in preference order; names that are not variants in `skipped`.
  struct Group {
    std::filesystem::path dir;
    std::vector<resolve::Decision> trace;
    std::vector<std::string> skipped;  // "name: why"
  };
  std::filesystem::path path;
  std::vector<Group> groups;  // only directories that hold variants
  // What a loader loads (choose_local_variant); nullopt with `error` set when
  // nothing would load.
  std::optional<std::filesystem::path> chosen;
  std::optional<variant::Variant> chosen_variant;  // nullopt for an explicit variant directory
  std::string error;
  std::vector<std::string> warnings;  // from resolution (free-threaded Python)
};

VariantsReport report_local_variants(const std::filesystem::path& path, const resolve::Environment& env);

// Drops the rejected decisions (`--only-compatible`); what would load stays.
void keep_compatible(VariantsReport& report);

// Human-readable: one line per variant as the runtime's trace prints it,
// grouped by directory, then "Would load: DIR" or the error.
std::string render_report(const VariantsReport& report);

// {"path", "variants": [{"variant", "dir", "accepted", "reason"}], "chosen", "error"?}
// (reason null when accepted; chosen null when nothing would load).
nlohmann::ordered_json report_json(const VariantsReport& report);
// {"description", "torch", "cxx11_abi", "backend", "cpu", "os"} (null when unknown).
nlohmann::ordered_json environment_json(const resolve::Environment& env);

}  // namespace kb::runtime
