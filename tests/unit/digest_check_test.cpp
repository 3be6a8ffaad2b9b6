// The digest check of every load and its verification receipts.
#include "libkb/load/digest_check.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "libkb/load/load.h"
#include "libkb/metadata/digest.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using load::KernelLocation;

namespace {

const KernelLocation kLocation{"kernels-test/signatures", std::string(40, 'a'), "torch30-cxx11-cu128-x86_64-linux"};

TEST(DigestReceipt, KeysHashLengthPrefixedPartsAsTheKernelsPackageDoes) {
  // Reference value from Python's hashlib over the same length-prefixed parts.
  EXPECT_EQ(load::receipt_key(kLocation), "867ebb19bcd3391768f81f7049b4bdac24384db0c7c956ae2b24a59bd52ab17b");
  // Moving characters between parts gives another key.
  EXPECT_NE(load::receipt_key({"kernels-test/sig", std::string(40, 'a'), "natures"}),
            load::receipt_key({"kernels-test/signatures", std::string(40, 'a'), ""}));
  EXPECT_NE(load::receipt_key(kLocation),
            load::receipt_key({kLocation.repo_id, std::string(40, 'b'), kLocation.variant}));
  EXPECT_EQ(load::receipt_dir("/cache", load::ReceiptKind::Digest), fs::path("/cache/.verified-kernels/digest/v1"));
  EXPECT_EQ(nlohmann::json::parse(load::receipt_json(kLocation)),
            nlohmann::json::parse(R"({"location": {"type": "remote_kernel", "repo_id": "kernels-test/signatures",
               "revision": ")" + std::string(40, 'a') + R"(", "variant": "torch30-cxx11-cu128-x86_64-linux"}})"));
}

class DigestCheckTest : public ::testing::Test {
 protected:
  DigestCheckTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-digest")) {
    variant_ = tmp_.path() / "build" / kLocation.variant;
    write_file_atomic(variant_ / "__init__.py", "VALUE = 1\n");
    write_file_atomic(variant_ / "sub/_ops.py", "OPS = 2\n");
    metadata_.name = "relu";
    metadata_.digest = metadata::compute_digest(variant_);
    write_file_atomic(variant_ / "metadata.json", "{}");  // not part of the digest
  }

  load::DigestCheck check(const std::optional<KernelLocation>& location) {
    return load::check_digest(variant_, metadata_, kLocation.variant, location, cache());
  }
  fs::path cache() const { return tmp_.path() / "cache"; }
  fs::path receipt() const { return load::receipt_dir(cache(), load::ReceiptKind::Digest) / load::receipt_key(kLocation); }

  TempDirGuard tmp_;
  fs::path variant_;
  metadata::Metadata metadata_;
};

TEST_F(DigestCheckTest, AHubBuildIsHashedOnceThenTrustedThroughItsReceipt) {
  load::DigestCheck first = check(kLocation);
  EXPECT_FALSE(first.failure);
  EXPECT_TRUE(first.hashed);
  EXPECT_TRUE(first.warnings.empty());
  ASSERT_TRUE(fs::is_regular_file(receipt()));
  EXPECT_EQ(read_file(receipt()), load::receipt_json(kLocation));

  // The receipt stands for the commit's files: no second hashing.
  write_file_atomic(variant_ / "__init__.py", "VALUE = 2\n");
  load::DigestCheck second = check(kLocation);
  EXPECT_FALSE(second.failure);
  EXPECT_FALSE(second.hashed);
}

TEST_F(DigestCheckTest, ChangedFilesAreNamedAndNoReceiptIsStored) {
  write_file_atomic(variant_ / "__init__.py", "VALUE = 2\n");
  write_file_atomic(variant_ / "extra.py", "\n");
  fs::remove(variant_ / "sub/_ops.py");
  load::DigestCheck result = check(kLocation);
  ASSERT_TRUE(result.failure);
  EXPECT_TRUE(result.failure->starts_with(
      "Kernel 'relu' variant '" + kLocation.variant +
      "': the files do not match the digest in the metadata, so they may have been modified:\n"))
      << *result.failure;
  EXPECT_TRUE(contains(*result.failure, "\nFile hash mismatch for __init__.py: expected: ")) << *result.failure;
  EXPECT_TRUE(contains(*result.failure, "\nMissing file: sub/_ops.py")) << *result.failure;
  EXPECT_TRUE(contains(*result.failure, "\nUnknown file: extra.py")) << *result.failure;
  EXPECT_FALSE(fs::exists(receipt()));
}

TEST_F(DigestCheckTest, LocalBuildsAreHashedOnEveryLoad) {
  EXPECT_FALSE(check(std::nullopt).failure);
  EXPECT_FALSE(fs::exists(load::receipt_dir(cache(), load::ReceiptKind::Digest)));
  write_file_atomic(variant_ / "__init__.py", "VALUE = 2\n");
  EXPECT_TRUE(check(std::nullopt).failure);
}

TEST_F(DigestCheckTest, AMissingDigestWarns) {
  metadata_.digest.reset();
  load::DigestCheck result = check(kLocation);
  EXPECT_FALSE(result.failure);
  EXPECT_EQ(result.warnings, std::vector<std::string>{"Kernel 'relu' variant '" + kLocation.variant +
                                                      "': the metadata does not record a digest, so its integrity "
                                                      "cannot be verified"});
}

TEST_F(DigestCheckTest, UnusableReceiptsAreIgnoredAndReplaced) {
  write_file_atomic(receipt(), "{not json");
  load::DigestCheck corrupt = check(kLocation);
  EXPECT_TRUE(corrupt.hashed);
  ASSERT_EQ(corrupt.warnings.size(), 1u);
  EXPECT_TRUE(contains(corrupt.warnings[0], "Ignoring unusable kernel verification receipt")) << corrupt.warnings[0];
  EXPECT_EQ(read_file(receipt()), load::receipt_json(kLocation));

  // A receipt that names another kernel does not vouch for this one.
  write_file_atomic(receipt(), load::receipt_json({"other/kernel", kLocation.revision, kLocation.variant}));
  write_file_atomic(variant_ / "__init__.py", "VALUE = 2\n");
  load::DigestCheck other = check(kLocation);
  ASSERT_TRUE(other.failure);
  ASSERT_EQ(other.warnings.size(), 1u);
  EXPECT_TRUE(contains(other.warnings[0], "describes a different kernel")) << other.warnings[0];
}

TEST_F(DigestCheckTest, AnUnwritableCacheOnlyWarns) {
  if (::geteuid() == 0) {
    // root writes anywhere: make the receipt directory's place a file instead.
    write_file_atomic(cache() / ".verified-kernels", "");
  } else {
    fs::create_directories(cache());
    fs::permissions(cache(), fs::perms::owner_read | fs::perms::owner_exec);
  }
  load::DigestCheck result = check(kLocation);
  EXPECT_FALSE(result.failure);
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_TRUE(contains(result.warnings[0], "Cannot store kernel digest verification receipt")) << result.warnings[0];
  fs::permissions(cache(), fs::perms::owner_all, fs::perm_options::add);
}

}  // namespace
