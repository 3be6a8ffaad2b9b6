#include "libkb/hub/status.h"

#include "libkb/util/error.h"
#include "libkb/util/toml.h"

namespace kb::hub {

namespace {

std::string python_repr(const std::string& s) {
  // The existing runtime formats the kind with !r: 'value'.
  return "'" + s + "'";
}

}  // namespace

Redirect parse_kernel_status(std::string_view text) {
  toml::table table = parse_toml(text, "kernel-status.toml");
  auto kind = table["kind"].value<std::string>();
  if (!kind || kind->empty()) throw Error("kernel-status.toml must contain a 'kind' field");
  if (*kind != "redirect") throw Error("Unknown kernel status kind: " + python_repr(*kind));
  auto destination = table["destination"].value<std::string>();
  if (!destination || destination->empty()) throw Error("kernel-status.toml must contain a 'destination' field");
  Redirect out;
  out.destination = *destination;
  if (auto revision = table["revision"].value<std::string>(); revision && !revision->empty()) out.revision = *revision;
  return out;
}

std::optional<Redirect> kernel_status(Hub& hub, std::string_view repo_id, std::string_view revision) {
  std::optional<std::string> text = hub.read_repo_file(repo_id, revision, "kernel-status.toml");
  if (!text) return std::nullopt;
  return parse_kernel_status(*text);
}

}  // namespace kb::hub
