// Choosing a hub from KB_HUB.
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
    return open_hf_hub({hf_endpoint(), hf_token(), options.repo_type, agent});
  }
  throw Error("unknown KB_HUB value `" + value + "`: expected local, local:DIR, git+URL or hf");
}

}  // namespace kb::hub
