// Choosing a hub from KB_HUB.
#include <algorithm>

#include "libkb/hub/hub.h"
#include "libkb/util/dirs.h"
#include "libkb/util/error.h"
#include "libkb/util/process.h"

namespace kb::hub {

std::filesystem::path default_local_hub_root() { return user_data_dir() / "kb" / "hub"; }

std::unique_ptr<Hub> open_hub(const std::optional<std::string>& spec, const OpenOptions& options) {
  std::string value = spec ? *spec : env_or("KB_HUB", "");
  if (value == "local") return open_local_hub(default_local_hub_root());
  if (value.rfind("local:", 0) == 0 && value.size() > 6) return open_local_hub(value.substr(6));
  if (value.rfind("git+", 0) == 0 && value.size() > 4) {
    std::string url = value.substr(4);
    return open_git_hub(url, default_mirror_root(url));
  }
  if (value.empty() || value == "hf") {
    std::string agent = options.user_agent.empty() ? std::string("kb/") + KB_VERSION : options.user_agent;
    HfHubOptions hf{hf_endpoint(), hf_token(), options.repo_type, agent};
    // KB_HUB_MAX_ATTEMPTS bounds the tries of each request (default 5).
    if (std::string attempts = env_or("KB_HUB_MAX_ATTEMPTS", ""); !attempts.empty()) {
      try {
        hf.max_attempts = std::clamp(std::stoi(attempts), 1, 20);
      } catch (const std::exception&) {
        throw Error("KB_HUB_MAX_ATTEMPTS must be a number from 1 to 20, not `" + attempts + "`");
      }
    }
    return open_hf_hub(hf);
  }
  throw Error("unknown KB_HUB value `" + value + "`: expected local, local:DIR, git+URL or hf");
}

}  // namespace kb::hub
