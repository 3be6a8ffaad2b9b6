#pragma once
// The kernel card: <kernel_dir>/CARD.md is a Jinja template (see template.h)
// rendered into the README.md of the kernel's hub repository. Its context:
//   repo_id        [general.hub] repo-id (required)
//   version        [general] version (integer)
//   license        [general] license, lowercased
//   functions      string items of the first top-level `__all__ = [...]` in
//                  <torch-ext|tvm-ffi-ext>/<module>/__init__.py, minus "layers";
//                  undefined when there are none
//   layers         top-level class names of <ext>/<module>/layers/__init__.py
//                  (else layers.py), only when "layers" is in `__all__`;
//                  undefined when there are none
//   has_benchmark  benchmarks/benchmark.py exists
//   upstream, source   [general] git URLs, normalised (SCP form -> ssh://);
//                  undefined when not set
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/template/jinja.h"
#include "libkb/util/error.h"

namespace kb::card {

// A card is a Jinja template (libkb/template) rendered with this context.
using templates::Context;
using templates::Template;
using templates::Value;

// Thrown when build.toml has no [general.hub] repo-id: a kernel without a hub
// repository still builds, so `kb build` skips the card on this one error.
class MissingRepoIdError : public Error {
 public:
  MissingRepoIdError() : Error("Cannot fill card template because `repo-id` is not specified in `[general.hub]`") {}
};

// The string items of the first top-level `__all__ = [...]` assignment of a
// Python module that has any (f-strings, bytes and other items are skipped);
// std::nullopt when there is none or the source cannot be tokenized.
std::optional<std::vector<std::string>> python_all_names(std::string_view source);

// Names of the classes defined at the top level of a Python module, in order.
std::vector<std::string> python_class_names(std::string_view source);

// The template context of the kernel at `kernel_dir` (see above). Throws
// MissingRepoIdError when build.toml names no repo-id.
Context card_context(const std::filesystem::path& kernel_dir, const config::BuildConfig& config);

// Renders <kernel_dir>/CARD.md. Throws kb::Error when CARD.md is missing
// ("CARD.md template not found at `<path>`"), for template errors (naming the
// file and line) and MissingRepoIdError.
std::string render_card(const std::filesystem::path& kernel_dir, const config::BuildConfig& config);
// Same, loading <kernel_dir>/build.toml first.
std::string render_card(const std::filesystem::path& kernel_dir);

// What `kb build` does with the card: when the kernel has a CARD.md, renders
// it to <kernel_dir>/build/CARD.md (atomically, left alone when unchanged).
struct BuildCardResult {
  std::optional<std::filesystem::path> written;  // the card's path when rendered
  std::optional<std::string> skipped;            // why it was not rendered (no repo-id)
};
BuildCardResult write_build_card(const std::filesystem::path& kernel_dir);

}  // namespace kb::card
