#include "libkb/config/config.h"
#include "libkb/util/error.h"

namespace kb::config {

void validate_kernel_name(std::string_view name) {
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool ok = name.size() >= 2 && lower(name.front()) && name.back() != '-';
  for (char c : name)
    if (!(lower(c) || digit(c) || c == '-')) ok = false;
  if (ok) return;
  throw Error("invalid kernel name \"" + std::string(name) +
              "\": a kernel name has at least 2 characters, only lowercase letters a-z, digits 0-9 "
              "and dashes '-', starts with a letter and does not end with a dash "
              "(for example: my-kernel, relu2d, flash-attention)");
}

std::string python_module_name(std::string_view kernel_name) {
  std::string out(kernel_name);
  for (char& c : out)
    if (c == '-') c = '_';
  return out;
}

const std::vector<std::string>& known_cpp_dependencies(int edition) {
  static const std::vector<std::string> edition5 = {"cutlass_2_10", "cutlass_3_5", "cutlass_3_6", "cutlass_3_8",
                                                    "cutlass_3_9",  "cutlass_4_0", "cutlass_4_4", "cutlass_4_5",
                                                    "sycl_tla",     "metal-cpp",   "torch"};
  static const std::vector<std::string> edition6 = [] {
    std::vector<std::string> names = edition5;
    names.push_back("torch-stable-abi-shim");
    return names;
  }();
  return edition >= 6 ? edition6 : edition5;
}

}  // namespace kb::config

namespace kb::config {

std::string_view build_layout_name(BuildLayout layout) { return layout == BuildLayout::Zip ? "zip" : "files"; }

std::optional<BuildLayout> parse_build_layout(std::string_view text) {
  if (text == "files") return BuildLayout::Files;
  if (text == "zip") return BuildLayout::Zip;
  return std::nullopt;
}

std::string dependency_key(const KernelDependency& d) {
  if (d.version) return d.repo_id + " version " + std::to_string(*d.version);
  return d.repo_id + " revision " + d.revision.value_or("");
}

}  // namespace kb::config
