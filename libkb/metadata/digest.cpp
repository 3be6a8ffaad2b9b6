#include "libkb/metadata/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::metadata {

namespace fs = std::filesystem;

namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string sha512_file_bytes(const fs::path& path) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1)
    throw Error("internal: cannot initialise sha512");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + " for hashing");
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error("cannot read " + path.string() + " for hashing");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string upper_name(DigestAlgorithm a) { return a == DigestAlgorithm::Sha512 ? "SHA512" : "SHA256"; }

}  // namespace

bool excluded_from_digest(std::string_view relative_path) {
  if (relative_path == "metadata.json" || relative_path == "metadata.json.sigstore") return true;
  if (fs::path(relative_path).extension() == ".pyc") return true;
  for (const std::string& component : split(relative_path, '/'))
    if (component == "__pycache__") return true;
  return false;
}

Digest compute_digest(const fs::path& variant_dir, DigestAlgorithm algorithm) {
  auto failure = [&](const std::string& why) {
    return Error("Failed to hash variant `" + variant_dir.string() + "`: " + why);
  };
  std::error_code ec;
  if (!fs::is_directory(variant_dir, ec)) throw failure("not a directory");
  Digest digest;
  digest.algorithm = algorithm;
  fs::recursive_directory_iterator it(variant_dir, fs::directory_options::none, ec), end;
  if (ec) throw failure(ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw failure(ec.message());
    std::string relative = relative_slash_path(it->path(), variant_dir);
    if (it->path().filename() == "__pycache__" && it->is_directory(ec) && !it->is_symlink(ec)) {
      it.disable_recursion_pending();
      continue;
    }
    if (excluded_from_digest(relative)) continue;
    fs::path target = fs::canonical(it->path(), ec);
    if (ec) throw failure("cannot resolve `" + it->path().string() + "`: " + ec.message());
    if (!fs::is_regular_file(target, ec)) continue;
    try {
      std::string raw = algorithm == DigestAlgorithm::Sha512 ? sha512_file_bytes(target) : sha256_file_bytes(target);
      digest.files[relative] = base64_encode(raw);
    } catch (const Error& e) {
      throw failure(e.what());
    }
  }
  if (ec) throw failure(ec.message());
  return digest;
}

std::vector<std::string> digest_violations(const Digest& expected, const Digest& actual) {
  std::vector<std::string> violations;
  if (expected.algorithm != actual.algorithm)
    violations.push_back("Algorithm mismatch: expected: " + upper_name(expected.algorithm) +
                         ", got: " + upper_name(actual.algorithm));
  for (const auto& [path, hash] : expected.files) {
    auto it = actual.files.find(path);
    if (it == actual.files.end())
      violations.push_back("Missing file: " + path);
    else if (it->second != hash)
      violations.push_back("File hash mismatch for " + path + ": expected: " + hash + ", got: " + it->second);
  }
  for (const auto& [path, hash] : actual.files)
    if (!expected.files.count(path)) violations.push_back("Unknown file: " + path);
  return violations;
}

}  // namespace kb::metadata
