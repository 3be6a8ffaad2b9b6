#pragma once
// Digests used by metadata (sha256, base64) and, later, hubs and locks.
#include <filesystem>
#include <string>
#include <string_view>

namespace kb {

std::string sha256_bytes(std::string_view data);                   // raw 32 bytes
std::string sha256_file_bytes(const std::filesystem::path& path);  // raw 32 bytes, streamed
std::string to_hex(std::string_view raw);
std::string base64_encode(std::string_view raw);  // standard alphabet, padded

}  // namespace kb
