#include "libkb/abi/verdict.h"

#include <nlohmann/json.hpp>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"

namespace kb::abi {

namespace fs = std::filesystem;

namespace {

constexpr int kVerdictFormat = 1;

std::string describe(const std::string& policy, const std::string& python_abi, const std::string& macos) {
  return policy + ", abi3 " + python_abi + ", macOS " + macos;
}

}  // namespace

std::string Verdict::describe() const {
  std::string text = abi::describe(policy, python_abi, macos);
  if (!torch_stable_abi.empty()) text += ", Torch stable ABI " + torch_stable_abi;
  if (tvm_ffi) text += ", tvm-ffi ABI";
  return text;
}

std::string describe_check(const CheckOptions& o) {
  return describe(o.manylinux, version_text(o.python_abi), version_text(o.macos));
}

fs::path verdict_path(const fs::path& variant_dir) {
  fs::path dir = variant_dir.has_filename() ? variant_dir : variant_dir.parent_path();
  return dir.parent_path() / ".kb-abi" / (dir.filename().string() + ".json");
}

std::string objects_fingerprint(const fs::path& variant_dir) {
  std::string listing;
  for (const fs::path& object : shared_objects(variant_dir))
    listing += relative_slash_path(object, variant_dir) + '\0' + to_hex(sha256_file_bytes(object)) + '\n';
  return to_hex(sha256_bytes(listing));
}

void record_verdict(const VariantReport& report, const CheckOptions& options) {
  std::error_code ec;
  if (!report.error.empty() || !fs::is_regular_file(report.dir / "metadata.json", ec)) return;
  nlohmann::ordered_json j = {{"format", kVerdictFormat},
                              {"variant", report.variant},
                              {"policy", options.manylinux},
                              {"python_abi", version_text(options.python_abi)},
                              {"macos", version_text(options.macos)},
                              {"portable", report.ok()},
                              {"problems", summarize_problems(report, options)},
                              {"fingerprint", objects_fingerprint(report.dir)}};
  if (report.torch_stable_abi) j["torch_stable_abi"] = version_text(*report.torch_stable_abi);
  if (report.tvm_ffi) j["tvm_ffi"] = true;
  write_file_atomic(verdict_path(report.dir), j.dump(2) + "\n");
}

std::optional<Verdict> current_verdict(const fs::path& variant_dir) {
  fs::path path = verdict_path(variant_dir);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    if (j.value("format", 0) != kVerdictFormat) return std::nullopt;
    Verdict v{j.at("variant").get<std::string>(),    j.at("policy").get<std::string>(),
              j.at("python_abi").get<std::string>(), j.at("macos").get<std::string>(),
              j.at("portable").get<bool>(),          j.at("problems").get<std::string>(),
              j.at("fingerprint").get<std::string>(), j.value("torch_stable_abi", std::string()),
              j.value("tvm_ffi", false)};
    if (v.fingerprint != objects_fingerprint(variant_dir)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: the variant is checked afresh
  }
}

}  // namespace kb::abi
