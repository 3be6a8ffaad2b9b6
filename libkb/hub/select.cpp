// Choosing a hub from KB_HUB.
#include "libkb/hub/hub.h"
#include "libkb/util/dirs.h"
#include "libkb/util/error.h"
#include "libkb/util/process.h"

namespace kb::hub {

std::filesystem::path default_local_hub_root() { return user_data_dir() / "kb" / "hub"; }

std::unique_ptr<Hub> open_hub(const std::optional<std::string>& spec) {
  std::string value = spec ? *spec : env_or("KB_HUB", "");
  if (value == "local") return open_local_hub(default_local_hub_root());
  if (value.rfind("local:", 0) == 0 && value.size() > 6) return open_local_hub(value.substr(6));
  if (value.rfind("git+", 0) == 0 && value.size() > 4) {
    std::string url = value.substr(4);
    return open_git_hub(url, default_mirror_root(url));
  }
  if (value.empty() || value == "hf")
    throw Error("the Hugging Face Hub is not supported by this kb build yet; set KB_HUB=local or KB_HUB=local:DIR "
                "to use a local hub");
  throw Error("unknown KB_HUB value `" + value + "`: expected local, local:DIR, git+URL or hf");
}

}  // namespace kb::hub
