#pragma once
// Data files compiled into libkb (see cmake/embed-data.cmake). Paths are
// relative to libkb/, e.g. "abi/data/manylinux_2_28-x86_64.txt".
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kb {

const std::map<std::string_view, std::string_view>& embedded_table();

// The content of one embedded file; throws kb::Error when it does not exist.
std::string_view embedded_file(std::string_view path);

// Paths of the embedded files whose path starts with `prefix`, sorted.
std::vector<std::string_view> embedded_files_under(std::string_view prefix);

}  // namespace kb
