#include "libkb/load/receipts.h"

#include "libkb/util/fs.h"
#include "libkb/util/hash.h"

namespace kb::load {

namespace fs = std::filesystem;

namespace {

void add_length_prefixed(std::string& out, std::string_view part) {
  uint64_t size = part.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(part);
}

nlohmann::ordered_json location_json(const KernelLocation& location) {
  nlohmann::ordered_json j;
  j["type"] = "remote_kernel";
  j["repo_id"] = location.repo_id;
  j["revision"] = location.revision;
  j["variant"] = location.variant;
  return j;
}

}  // namespace

fs::path receipt_dir(const fs::path& cache_root, ReceiptKind kind) {
  return cache_root / ".verified-kernels" / (kind == ReceiptKind::Digest ? "digest" : "signature") / "v1";
}

fs::path receipt_path(const fs::path& cache_root, ReceiptKind kind, const KernelLocation& location) {
  return receipt_dir(cache_root, kind) / receipt_key(location);
}

std::string receipt_key(const KernelLocation& location) {
  std::string message;
  for (std::string_view part : {std::string_view("remote_kernel"), std::string_view(location.repo_id),
                                std::string_view(location.revision), std::string_view(location.variant)})
    add_length_prefixed(message, part);
  return to_hex(sha256_bytes(message));
}

std::string receipt_json(const KernelLocation& location, const nlohmann::json& extra) {
  nlohmann::ordered_json j;
  j["location"] = location_json(location);
  for (const auto& [key, value] : extra.items()) j[key] = value;
  return j.dump();
}

std::optional<nlohmann::json> read_receipt(const fs::path& path, const KernelLocation& location,
                                           std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    nlohmann::json receipt = nlohmann::json::parse(read_file(path));
    if (receipt.at("location") == nlohmann::json(location_json(location))) return receipt;
    warnings.push_back("Ignoring unusable kernel verification receipt: receipt `" + path.string() +
                       "` describes a different kernel");
  } catch (const std::exception& e) {
    warnings.push_back("Ignoring unusable kernel verification receipt: receipt `" + path.string() +
                       "` is corrupt (" + e.what() + ")");
  }
  return std::nullopt;
}

}  // namespace kb::load
