#pragma once
// kb-genproject: build.toml -> generated project + a build plan as events.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "libkb/events/events.h"
#include "libkb/pipeline/plan.h"

namespace kb::pipeline {

// Discovers this machine's toolchains (interpreters with torch from
// `pythons`, KB_PYTHON, PATH, the defaults; nvcc) and plans the variants of
// `config`. An explicitly given interpreter that cannot import torch is an error.
Plan plan_for_machine(const config::BuildConfig& config, const std::string& unique_id,
                      const std::vector<std::string>& pythons, const PlanFilter& filter);

struct GenprojectOptions {
  std::filesystem::path kernel_dir = ".";
  std::filesystem::path target_dir;  // empty: <scratch>/project (pipeline/scratch.h)
  std::optional<std::string> unique_id;
  std::vector<std::string> pythons;
  PlanFilter filter;
  bool strict = false;  // downstream tools fail on ABI violations
  bool force = false;   // overwrite files kb did not generate
  // Link target of arch variants: a manylinux policy or "native" (see
  // libkb/portable/target.h); empty: the machine's default.
  std::string target;
};

// Loads build.toml, writes the generated project (only files whose content
// changed; into the kernel directory only when it is target_dir), discovers
// toolchains and emits `project` followed by one variant-planned /
// variant-skipped per backend (both carry project_dir and scratch_dir).
// Config and generation errors are thrown as kb::Error; warnings go to the
// stream and to `log`.
void run_genproject(const GenprojectOptions& options, events::Writer& out, std::ostream& log);

}  // namespace kb::pipeline
