#pragma once
// kernel-status.toml: a repository can send its users elsewhere (runtime
// spec 4.6). Only `kind = "redirect"` exists; one hop is followed.
#include <optional>
#include <string>
#include <string_view>

#include "libkb/hub/hub.h"

namespace kb::hub {

struct Redirect {
  std::string destination;         // "org/name"
  std::string revision = "main";   // replaces the requested revision
};

// Parses the file. Throws kb::Error with the existing runtime's messages:
// "kernel-status.toml must contain a 'kind' field", "Unknown kernel status
// kind: 'x'", "kernel-status.toml must contain a 'destination' field", and a
// TOML syntax error naming the file.
Redirect parse_kernel_status(std::string_view text);

// The redirect of `repo_id` at `revision`: nullopt when the repository or the
// file does not exist (a missing revision throws NotFound).
std::optional<Redirect> kernel_status(Hub& hub, std::string_view repo_id, std::string_view revision);

}  // namespace kb::hub
