#pragma once
// What `kb build --target` accepts: a manylinux policy the variants are
// linked for (portable; the default on Linux) or "native" (linked plainly
// for this machine, flagged by kb-checkabi and refused by kb upload unless
// --allow-nonportable).
#include <string>

namespace kb::portable {

inline constexpr std::string_view kNativeTarget = "native";
inline constexpr std::string_view kDefaultPolicy = "manylinux_2_28";

// manylinux_2_28 on Linux x86_64 and aarch64 (where kb-link can pin symbol
// versions), native elsewhere.
std::string default_target();

// `text` when it is "native" or a known manylinux policy; otherwise throws
// kb::Error listing what is accepted.
std::string parse_target(const std::string& text);

bool is_portable(const std::string& target);

}  // namespace kb::portable
