#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kb {

std::string trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
std::string to_lower(std::string_view s);

// The candidate closest to `word` by edit distance, if close enough to be a
// plausible typo ("cuda-capabilites" -> "cuda-capabilities"); empty otherwise.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace kb
