#pragma once
// Which variants of a kernel this machine builds (builder spec 2.3/2.4):
// every (toolchain x backend) that applies after the backend list, the
// torch/CUDA bounds and the stable-ABI rules; backends without a toolchain
// are reported as skipped with a reason instead of failing the build.
#include <optional>
#include <string>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/events/events.h"
#include "libkb/toolchain/toolchain.h"
#include "libkb/util/version.h"

namespace kb::pipeline {

struct PlannedVariant {
  std::string variant;
  config::Backend backend = config::Backend::Cpu;
  bool noarch = false;
  std::string ops_name;
  std::optional<toolchain::PythonToolchain> toolchain;  // arch variants
  std::optional<toolchain::Nvcc> nvcc;                  // cuda variants
};

struct SkippedBackend {
  config::Backend backend = config::Backend::Cpu;
  std::string reason;
  std::string variant;  // when a specific variant was ruled out
};

struct Plan {
  std::vector<PlannedVariant> planned;
  std::vector<SkippedBackend> skipped;
};

struct PlanFilter {
  std::vector<std::string> variants;      // only these names (empty: all)
  std::vector<config::Backend> backends;  // only these backends (empty: all)
};

// Deterministic: backends in build.toml order, toolchains in the given order;
// a variant name produced twice is planned once (first toolchain wins).
Plan plan_variants(const config::BuildConfig& config, const std::string& unique_id,
                   const std::vector<toolchain::PythonToolchain>& toolchains,
                   const std::optional<toolchain::Nvcc>& nvcc, const PlanFilter& filter = {});

// Events: variant-planned / variant-skipped (fields as in events.h).
events::Json planned_event(const PlannedVariant& v, const config::BuildConfig& config, const std::string& kernel_dir,
                           const std::string& project_dir);
events::Json skipped_event(const SkippedBackend& s);

}  // namespace kb::pipeline
