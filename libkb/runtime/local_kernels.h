#pragma once
// LOCAL_KERNELS: "org/name=/path:org/other=/path2" redirects repo ids to local
// kernel directories for every loader, before any hub, version or trust logic.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kb::runtime {

// Parses a LOCAL_KERNELS value: entries split on ':', each split at its first
// '='; later duplicates win. An entry without '=' (an empty value included)
// throws kb::Error "Invalid LOCAL_KERNELS entry: ENTRY. Expected format:
// repo_id_1=path_1:repo_id_2=path_2".
std::map<std::string, std::filesystem::path> parse_local_kernels(std::string_view value);

// The local path for `repo_id` from the LOCAL_KERNELS environment variable;
// nullopt when the variable is unset or does not name the repo. A malformed
// value throws even for repo ids it does not name.
std::optional<std::filesystem::path> local_kernel_override(std::string_view repo_id);

}  // namespace kb::runtime
