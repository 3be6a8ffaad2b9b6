#pragma once
// Verification receipts (kernels 0.18+): a hub build verified once leaves a
// file in the cache, <cache>/.verified-kernels/{digest|signature}/v1/<key>,
// laid out as the kernels package lays it out, so later loads skip the work.
// A receipt that cannot be read, is corrupt or names another kernel is a miss
// with a warning: a broken cache never stops a kernel that verifies.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kb::load {

// Identity of a hub build: what a receipt is for.
struct KernelLocation {
  std::string repo_id;
  std::string revision;  // the commit
  std::string variant;
  friend bool operator==(const KernelLocation&, const KernelLocation&) = default;
};

enum class ReceiptKind { Digest, Signature };

// <cache_root>/.verified-kernels/<digest|signature>/v1
std::filesystem::path receipt_dir(const std::filesystem::path& cache_root, ReceiptKind kind);
std::filesystem::path receipt_path(const std::filesystem::path& cache_root, ReceiptKind kind,
                                   const KernelLocation& location);
// Hex SHA-256 over "remote_kernel", repo id, revision and variant, each
// prefixed with its length (8 bytes, big endian): parts cannot run together.
std::string receipt_key(const KernelLocation& location);
// {"location":{"type":"remote_kernel","repo_id":..,"revision":..,"variant":..}}
// plus `extra` members (kernels ignores members it does not know).
std::string receipt_json(const KernelLocation& location, const nlohmann::json& extra = nlohmann::json::object());

// The stored receipt for `location` (its whole JSON), or nullopt: none, or
// unusable (a warning says why).
std::optional<nlohmann::json> read_receipt(const std::filesystem::path& path, const KernelLocation& location,
                                           std::vector<std::string>& warnings);

}  // namespace kb::load
