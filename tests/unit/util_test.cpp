#include <gtest/gtest.h>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

using namespace kb;

TEST(Version, DropsTrailingZerosAndOrdersNumerically) {
  EXPECT_EQ(Version::parse("2.0"), Version::parse("2"));
  EXPECT_EQ(Version::parse("2.12.0").str(), "2.12");
  EXPECT_LT(Version::parse("3.9"), Version::parse("3.10"));
  EXPECT_EQ(Version::parse(" 13 ").major_minor(), "13.0");
}

TEST(Version, RejectsNonNumbers) {
  EXPECT_THROW(Version::parse(""), Error);
  EXPECT_THROW(Version::parse("2.x"), Error);
  EXPECT_THROW(Version::parse("2..1"), Error);
  try {
    Version::parse("1.a");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Version must consist of numbers: 1.a");
  }
}

TEST(Version, LeadingVersionIgnoresLocalSuffix) {
  EXPECT_EQ(leading_version("1.13.0a0").str(), "1.13");
  EXPECT_EQ(leading_version("2.11.0+cu130").str(), "2.11");
  EXPECT_THROW(leading_version("abc"), Error);
}

TEST(Strings, ClosestMatchFindsTypos) {
  std::vector<std::string> keys = {"cuda-capabilities", "cuda-flags", "cuda-minver", "src"};
  EXPECT_EQ(closest_match("cuda-capabilites", keys), "cuda-capabilities");
  EXPECT_EQ(closest_match("totally-different", keys), "");
}

TEST(Hash, Sha256AndBase64MatchKnownVectors) {
  EXPECT_EQ(to_hex(sha256_bytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
}

TEST(Fs, AtomicWriteAndDirectoryExchange) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-util-test");
  TempDirGuard guard(root);
  write_file_atomic(root / "a" / "f.txt", "one");
  EXPECT_EQ(read_file(root / "a" / "f.txt"), "one");
  EXPECT_FALSE(write_file_if_changed(root / "a" / "f.txt", "one"));
  EXPECT_TRUE(write_file_if_changed(root / "a" / "f.txt", "two"));
  fs::path staged = make_temp_dir(root, "stage");
  write_file_atomic(staged / "g.txt", "new");
  replace_directory(staged, root / "a");
  EXPECT_FALSE(fs::exists(root / "a" / "f.txt"));
  EXPECT_EQ(read_file(root / "a" / "g.txt"), "new");
  EXPECT_FALSE(fs::exists(staged));
  // No temporary files are left behind.
  for (auto& entry : fs::directory_iterator(root)) EXPECT_EQ(entry.path().filename(), "a");
}

TEST(Fs, ListFilesSortedRelativeRegularFilesOnly) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-util-test");
  TempDirGuard guard(root);
  for (const char* f : {"b.txt", "a/z.txt", "A.txt", "a.txt", "a/b/c/deep.py"}) write_file_atomic(root / f, f);
  fs::create_directories(root / "empty/dir");
  // Byte order: "A" < "a" and "a.txt" < "a/..." ('.' < '/').
  EXPECT_EQ(list_files(root), (std::vector<std::string>{"A.txt", "a.txt", "a/b/c/deep.py", "a/z.txt", "b.txt"}));
  EXPECT_TRUE(list_files(root / "missing").empty());
}

TEST(Process, CapturesOutputAndExitCode) {
  auto r = run_process({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  auto cat = run_process({.argv = {"cat"}, .stdin_data = "fed"});
  EXPECT_EQ(cat.out, "fed");
  EXPECT_THROW(run_process({.argv = {"kb-no-such-program"}}), Error);
}

TEST(Hex, FromHexIsTheInverseOfToHex) {
  EXPECT_EQ(kb::from_hex("00ff7Fa0"), std::optional<std::string>(std::string("\x00\xff\x7f\xa0", 4)));
  EXPECT_EQ(kb::to_hex(*kb::from_hex("0123456789abcdef")), "0123456789abcdef");
  EXPECT_FALSE(kb::from_hex("abc"));
  EXPECT_FALSE(kb::from_hex("zz"));
  EXPECT_EQ(kb::from_hex(""), std::optional<std::string>(""));
}
