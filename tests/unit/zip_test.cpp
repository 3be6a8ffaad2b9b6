// The ZIP writer (read back by Python's zipfile and `unzip -t`) and the
// checks a loader runs on archives it is given.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/zip.h"
#include "support.h"

namespace kb {
namespace {

using testing::contains;
using testing::error_of;

class ZipTest : public ::testing::Test {
 protected:
  ZipTest() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-zip-test")) {}
  fs::path path(const std::string& name) const { return guard_.path() / name; }
  fs::path write(const std::string& name, const std::string& bytes) const {
    write_file_atomic(path(name), bytes);
    return path(name);
  }

 private:
  TempDirGuard guard_;
};

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  std::string raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return raw;
}

// An archive written by Python's zipfile (the reference reader/writer).
std::string python_zip(const std::string& script) {
  ProcessResult r = run_process({.argv = {"python3", "-I", "-c", script}});
  EXPECT_TRUE(r.ok()) << r.err;
  return r.out;
}

const std::vector<ZipInput> kPackage = {
    {"__init__.py", "from ._ops import ops\n"},
    {"_ops.py", "ops = 'ops'\n"},
    {"layers/__init__.py", "LAYER = 1\n"},
    {"configs/device.json", "{\"block_size\": 1024}"},
    {"empty.txt", ""},
    {"data/bin.dat", std::string("\0\xff\x01\x80 binary", 11)},
};

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
}

TEST_F(ZipTest, PythonZipfileReadsEveryEntryBackInOrder) {
  fs::path zip = write("k.zip", make_zip(kPackage));
  ProcessResult r = run_process({.argv = {"python3", "-I", "-c",
                                          "import json, sys, zipfile\n"
                                          "z = zipfile.ZipFile(sys.argv[1])\n"
                                          "assert z.testzip() is None\n"
                                          "print(json.dumps([[i.filename, z.read(i).hex(), i.date_time,"
                                          " i.external_attr >> 16, i.compress_type] for i in z.infolist()]))\n",
                                          zip.string()}});
  ASSERT_TRUE(r.ok()) << r.err;
  nlohmann::json listed = nlohmann::json::parse(r.out);
  ASSERT_EQ(listed.size(), kPackage.size());
  for (size_t i = 0; i < kPackage.size(); ++i) {
    EXPECT_EQ(listed[i][0], kPackage[i].name);
    EXPECT_EQ(listed[i][1], to_hex(kPackage[i].data));
    EXPECT_EQ(listed[i][2], nlohmann::json({1980, 1, 1, 0, 0, 0}));
    EXPECT_EQ(listed[i][3], 0100644);
    EXPECT_EQ(listed[i][4], 0);  // stored
  }
}

TEST_F(ZipTest, UnzipTestsTheArchiveClean) {
  fs::path zip = write("k.zip", make_zip(kPackage));
  ProcessResult r = run_process({.argv = {"unzip", "-t", zip.string()}});
  EXPECT_TRUE(r.ok()) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "No errors detected")) << r.out;
}

TEST_F(ZipTest, TheSameInputGivesTheSameBytes) {
  EXPECT_EQ(make_zip(kPackage), make_zip(kPackage));
  std::vector<ZipInput> changed = kPackage;
  changed[1].data = "ops = 'other'\n";
  EXPECT_NE(make_zip(kPackage), make_zip(changed));
}

TEST_F(ZipTest, CheckListsWhatTheWriterWrote) {
  std::vector<ZipEntry> entries = check_zip_archive(write("k.zip", make_zip(kPackage)));
  ASSERT_EQ(entries.size(), kPackage.size());
  for (size_t i = 0; i < kPackage.size(); ++i) {
    EXPECT_EQ(entries[i].name, kPackage[i].name);
    EXPECT_EQ(entries[i].uncompressed_size, kPackage[i].data.size());
    EXPECT_EQ(entries[i].crc32, crc32(kPackage[i].data));
  }
}

TEST_F(ZipTest, CheckAcceptsDeflatedArchivesWithDirectoriesFromPython) {
  std::string bytes = python_zip(
      "import io, sys, zipfile\n"
      "b = io.BytesIO()\n"
      "with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    z.mkdir('layers')\n"
      "    z.writestr('layers/__init__.py', 'X = 1\\n' * 100)\n"
      "    z.comment = b'a comment'\n"
      "sys.stdout.write(b.getvalue().hex())\n");
  std::vector<ZipEntry> entries = check_zip_bytes(from_hex(bytes), "py.zip");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "layers/__init__.py");
  EXPECT_EQ(entries[0].method, 8);
}

// Hostile archives, written with Python's zipfile exactly as an attacker would.
std::string hostile_zip(const std::string& body) {
  std::string hex = python_zip(
      "import io, sys, zipfile\n"
      "b = io.BytesIO()\n"
      "z = zipfile.ZipFile(b, 'w')\n" +
      body +
      "z.close()\n"
      "sys.stdout.write(b.getvalue().hex())\n");
  return from_hex(hex);
}

TEST_F(ZipTest, EntriesEscapingTheArchiveAreRefusedByName) {
  fs::path zip = write("evil.zip", hostile_zip("z.writestr('__init__.py', '')\nz.writestr('a/../../x.py', '')\n"));
  EXPECT_EQ(error_of([&] { check_zip_archive(zip); }),
            "Invalid kernel archive `" + zip.string() + "`: entry `a/../../x.py`: path escapes the archive (`..`)");
}

TEST_F(ZipTest, AbsoluteNamesAreRefused) {
  // zipfile strips a leading '/' from names it is given, so the info is built by hand.
  std::string bytes = hostile_zip("i = zipfile.ZipInfo('x')\ni.filename = '/etc/passwd'\nz.writestr(i, 'x')\n");
  EXPECT_EQ(error_of([&] { check_zip_bytes(bytes, "a.zip"); }),
            "Invalid kernel archive `a.zip`: entry `/etc/passwd`: absolute path");
  bytes = hostile_zip("i = zipfile.ZipInfo('x')\ni.filename = 'C:/x.py'\nz.writestr(i, 'x')\n");
  EXPECT_TRUE(contains(error_of([&] { check_zip_bytes(bytes, "a.zip"); }), "entry `C:/x.py`: absolute path"));
  bytes = hostile_zip("i = zipfile.ZipInfo('x')\ni.filename = 'a\\\\b.py'\nz.writestr(i, 'x')\n");
  EXPECT_TRUE(
      contains(error_of([&] { check_zip_bytes(bytes, "a.zip"); }), "entry `a\\b.py`: name contains a backslash"));
}

TEST_F(ZipTest, SymbolicLinkEntriesAreRefused) {
  std::string bytes = hostile_zip(
      "i = zipfile.ZipInfo('_ops.py')\ni.create_system = 3\ni.external_attr = 0o120777 << 16\n"
      "z.writestr(i, '/etc/passwd')\n");
  EXPECT_EQ(error_of([&] { check_zip_bytes(bytes, "l.zip"); }),
            "Invalid kernel archive `l.zip`: entry `_ops.py`: symbolic links are not allowed");
}

TEST_F(ZipTest, DuplicateEntriesAreRefused) {
  std::string bytes = hostile_zip(
      "import warnings\nwarnings.simplefilter('ignore')\n"
      "z.writestr('_ops.py', 'a')\nz.writestr('_ops.py', 'b')\n");
  EXPECT_EQ(error_of([&] { check_zip_bytes(bytes, "d.zip"); }),
            "Invalid kernel archive `d.zip`: entry `_ops.py`: duplicate entry");
}

TEST_F(ZipTest, TruncatedAndCorruptArchivesAreRefused) {
  std::string good = make_zip(kPackage);
  EXPECT_EQ(error_of([&] { check_zip_bytes(good.substr(0, good.size() / 2), "t.zip"); }),
            "Invalid kernel archive `t.zip`: not a ZIP archive (no end of central directory record)");
  EXPECT_EQ(error_of([&] { check_zip_bytes("PK", "t.zip"); }),
            "Invalid kernel archive `t.zip`: not a ZIP archive (too short)");
  EXPECT_EQ(error_of([&] { check_zip_bytes(std::string(100, 'x'), "t.zip"); }),
            "Invalid kernel archive `t.zip`: not a ZIP archive (no end of central directory record)");

  std::string flipped = good;
  size_t data = flipped.find("ops = 'ops'");
  ASSERT_NE(data, std::string::npos);
  flipped[data] = 'O';
  EXPECT_EQ(error_of([&] { check_zip_bytes(flipped, "c.zip"); }),
            "Invalid kernel archive `c.zip`: entry `_ops.py`: CRC mismatch (corrupt data)");

  // Cut bytes out of the middle: the end record survives, its offsets no longer fit.
  std::string cut = good.substr(0, 40) + good.substr(60);
  EXPECT_TRUE(contains(error_of([&] { check_zip_bytes(cut, "m.zip"); }), "Invalid kernel archive `m.zip`: "));
}

TEST_F(ZipTest, MissingArchivesAreNamed) {
  EXPECT_EQ(error_of([&] { check_zip_archive(path("none.zip")); }),
            "Kernel archive not found: `" + path("none.zip").string() + "`");
}

TEST_F(ZipTest, TheWriterRefusesNamesTheCheckerWouldRefuse) {
  EXPECT_EQ(error_of([&] {
              make_zip({{"../x.py", ""}});
            }),
            "Cannot add `../x.py` to a ZIP archive: path escapes the archive (`..`)");
  EXPECT_EQ(error_of([&] { make_zip({{"/x.py", ""}}); }), "Cannot add `/x.py` to a ZIP archive: absolute path");
  EXPECT_EQ(error_of([&] { make_zip({{"x.py", ""}, {"x.py", ""}}); }), "Cannot add `x.py` to a ZIP archive twice");
}

}  // namespace
}  // namespace kb
