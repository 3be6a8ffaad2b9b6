#pragma once
// Publisher trust (runtime spec 4.5) with a short-lived record of positive
// answers, so a warm get_kernel in a new process does not ask the hub again.
// Negative and failed answers are never recorded: a publisher that becomes
// trusted is seen at once, one that loses trust within `ttl`.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>

#include "libkb/hub/hub.h"

namespace kb::hub {

// Hub::publisher_trusted, answered from {cache_root}/.kb-trust/<hub digest>/<org>
// when the hub said "trusted" less than `ttl` ago.
std::optional<bool> publisher_trusted_cached(Hub& hub, std::string_view org, const std::filesystem::path& cache_root,
                                             std::chrono::seconds ttl = std::chrono::hours(1));

}  // namespace kb::hub
