// The "zip" build layout: [general] build-layout in build.toml and
// "build-layout" in metadata.json.
#include <gtest/gtest.h>

#include "libkb/config/config.h"
#include "libkb/events/fields.h"
#include "libkb/metadata/digest.h"
#include "libkb/metadata/finalize.h"
#include "libkb/metadata/metadata.h"
#include "libkb/metadata/zip_layout.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/util/zip.h"
#include "support.h"

namespace kb {
namespace {

using testing::error_of;

std::string build_toml(const std::string& general_extra) {
  return "[general]\nname = \"relu\"\nversion = 1\nedition = 6\nlicense = \"apache-2.0\"\nbackends = [\"cpu\"]\n" +
         general_extra +
         "\n[torch]\nsrc = [\"torch-ext/torch_binding.cpp\"]\n\n[kernel.relu]\nlanguage = \"cpp-cpu\"\n"
         "src = [\"relu_cpu/relu_cpu.cpp\"]\ndepends = [\"torch\"]\n";
}

config::BuildConfig parse(const std::string& text) { return config::parse_build_config(text, "build.toml"); }

TEST(BuildLayoutConfig, DefaultsToFilesAndReadsZip) {
  EXPECT_EQ(parse(build_toml("")).general.build_layout, config::BuildLayout::Files);
  EXPECT_EQ(parse(build_toml("build-layout = \"files\"\n")).general.build_layout, config::BuildLayout::Files);
  EXPECT_EQ(parse(build_toml("build-layout = \"zip\"\n")).general.build_layout, config::BuildLayout::Zip);
}

TEST(BuildLayoutConfig, UnknownValuesAndTypesNameTheFileAndKey) {
  EXPECT_EQ(error_of([] { parse(build_toml("build-layout = \"tar\"\n")); }),
            "build.toml:7:16: [general] \"build-layout\" must be \"files\" or \"zip\", found \"tar\"");
  EXPECT_EQ(error_of([] { parse(build_toml("build-layout = \"ZIP\"\n")); }),
            "build.toml:7:16: [general] \"build-layout\" must be \"files\" or \"zip\", found \"ZIP\"");
  EXPECT_EQ(error_of([] { parse(build_toml("build-layout = 1\n")); }),
            "build.toml:7:16: [general] \"build-layout\" must be a string, found integer");
}

TEST(BuildLayoutConfig, SerialisesOnlyTheNonDefaultLayout) {
  std::string zip = config::to_toml(parse(build_toml("build-layout = \"zip\"\n")));
  EXPECT_NE(zip.find("build-layout = \"zip\"\n"), std::string::npos) << zip;
  EXPECT_EQ(parse(zip).general.build_layout, config::BuildLayout::Zip);
  EXPECT_EQ(config::to_toml(parse(build_toml(""))).find("build-layout"), std::string::npos);
}

const char* const kZipMetadata = R"({"name": "relu", "id": "_relu_cpu_abc1234", "version": 1,
  "build-layout": "zip", "kernels-minver": "0.19.0", "license": "MIT", "python-depends": [],
  "backend": {"type": "cpu"}})";

TEST(BuildLayoutMetadata, ReadsAndWritesTheLayoutAfterTheVersion) {
  metadata::Metadata m = metadata::parse_metadata(kZipMetadata, "metadata.json");
  EXPECT_EQ(m.build_layout, config::BuildLayout::Zip);
  std::string text = metadata::to_json_text(m);
  EXPECT_NE(text.find("\"version\": 1,\n  \"build-layout\": \"zip\",\n  \"kernels-minver\": \"0.19.0\",\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(metadata::parse_metadata(text, "again.json"), m);
}

TEST(BuildLayoutMetadata, FilesIsTheDefaultAndIsNotWritten) {
  std::string files = kZipMetadata;
  files.replace(files.find("\"zip\""), 5, "\"files\"");
  metadata::Metadata m = metadata::parse_metadata(files, "metadata.json");
  EXPECT_EQ(m.build_layout, config::BuildLayout::Files);
  EXPECT_EQ(metadata::to_json_text(m).find("build-layout"), std::string::npos);
}

TEST(BuildLayoutMetadata, AnUnknownLayoutNamesTheFileAndValue) {
  std::string odd = kZipMetadata;
  odd.replace(odd.find("\"zip\""), 5, "\"squashfs\"");
  EXPECT_EQ(error_of([&] { metadata::parse_metadata(odd, "/k/build/v/metadata.json"); }),
            "Cannot parse metadata from `/k/build/v/metadata.json`: `build-layout`: unknown build layout "
            "\"squashfs\", expected \"files\" or \"zip\" (a newer kernels may be needed)");
  odd = kZipMetadata;
  odd.replace(odd.find("\"zip\""), 5, "true");
  EXPECT_EQ(error_of([&] { metadata::parse_metadata(odd, "m.json"); }),
            "Cannot parse metadata from `m.json`: `build-layout`: expected a string, found a boolean");
}

TEST(BuildLayoutMetadata, ZipRaisesTheMinimumKernelsVersionTo0190) {
  metadata::Metadata m = metadata::parse_metadata(kZipMetadata, "metadata.json");
  m.build_layout = config::BuildLayout::Files;
  m.kernels_minver.reset();
  metadata::set_zip_layout(m);
  EXPECT_EQ(m.build_layout, config::BuildLayout::Zip);
  EXPECT_EQ(m.kernels_minver, "0.19.0");
  m.kernels_minver = "0.17.0";
  metadata::set_zip_layout(m);
  EXPECT_EQ(m.kernels_minver, "0.19.0");
  m.kernels_minver = "0.20.1";
  metadata::set_zip_layout(m);
  EXPECT_EQ(m.kernels_minver, "0.20.1");
}

class ZipLayoutVariant : public ::testing::Test {
 protected:
  ZipLayoutVariant() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-zip-layout-test")) {}

  // A files-layout variant as kb-compile installs it.
  fs::path make_variant(const std::string& name) const {
    fs::path dir = guard_.path() / name;
    write_file_atomic(dir / "metadata.json",
                      R"({"name": "relu", "id": "_relu_cpu_abc1234", "version": 1, "kernels-minver": "0.14.0",
                          "license": "MIT", "python-depends": [], "backend": {"type": "cpu"}})");
    write_file_atomic(dir / "__init__.py", "from ._ops import ops\nfrom . import layers\n");
    write_file_atomic(dir / "_ops.py", "from . import _relu_cpu_abc1234\nops = None\n");
    write_file_atomic(dir / "layers" / "__init__.py", "LAYER = 1\n");
    write_file_atomic(dir / "configs" / "device.json", "{}");
    write_file_atomic(dir / "_relu_cpu_abc1234.abi3.so", std::string("\x7f"
                                                                     "ELF fake",
                                                                     9));
    write_file_atomic(dir / "__pycache__" / "_ops.cpython-311.pyc", "bytecode");
    return dir;
  }

  static metadata::FinalizeOptions zip_options() {
    metadata::FinalizeOptions options;
    options.build_layout = config::BuildLayout::Zip;
    options.kernel_commit = git::CommitState{std::string(40, 'a'), false};
    return options;
  }

 private:
  TempDirGuard guard_;
};

TEST_F(ZipLayoutVariant, FinalizeMovesThePackageIntoTheArchiveAndKeepsTheLibraryOutside) {
  fs::path dir = make_variant("v");
  metadata::FinalizeResult result = metadata::finalize_variant(dir, zip_options());
  ASSERT_TRUE(result.ok) << join(result.problems, "\n");
  EXPECT_EQ(list_files(dir),
            (std::vector<std::string>{"_relu_cpu_abc1234.abi3.so", "_relu_cpu_abc1234.zip", "metadata.json"}));
  std::vector<ZipEntry> entries = check_zip_archive(dir / "_relu_cpu_abc1234.zip");
  std::vector<std::string> names;
  for (const ZipEntry& e : entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"__init__.py", "_ops.py", "configs/device.json", "layers/__init__.py"}));

  metadata::Metadata written = metadata::read_metadata(dir / "metadata.json");
  EXPECT_EQ(written.build_layout, config::BuildLayout::Zip);
  EXPECT_EQ(written.kernels_minver, "0.19.0");
  ASSERT_TRUE(written.digest);
  std::vector<std::string> digested;
  for (const auto& [path, hash] : written.digest->files) digested.push_back(path);
  EXPECT_EQ(digested, (std::vector<std::string>{"_relu_cpu_abc1234.abi3.so", "_relu_cpu_abc1234.zip"}));
  EXPECT_EQ(*written.digest, metadata::compute_digest(dir));
}

TEST_F(ZipLayoutVariant, RebuildsGiveByteIdenticalArchivesAndRefinalizingKeepsThem) {
  fs::path a = make_variant("a"), b = make_variant("b");
  ASSERT_TRUE(metadata::finalize_variant(a, zip_options()).ok);
  ASSERT_TRUE(metadata::finalize_variant(b, zip_options()).ok);
  std::string archive = read_file(a / "_relu_cpu_abc1234.zip");
  EXPECT_EQ(archive, read_file(b / "_relu_cpu_abc1234.zip"));

  // kb-metadata run again on a finished variant (any layout option) checks the archive and keeps it.
  metadata::FinalizeResult again = metadata::finalize_variant(a, {});
  ASSERT_TRUE(again.ok) << join(again.problems, "\n");
  EXPECT_EQ(read_file(a / "_relu_cpu_abc1234.zip"), archive);
  EXPECT_EQ(again.metadata->build_layout, config::BuildLayout::Zip);
}

TEST_F(ZipLayoutVariant, AZipVariantWithStrayOrBrokenFilesIsNotFinalized) {
  fs::path dir = make_variant("v");
  ASSERT_TRUE(metadata::finalize_variant(dir, zip_options()).ok);
  std::string before = read_file(dir / "metadata.json");
  write_file_atomic(dir / "_ops.py", "ops = 'shadow'\n");
  metadata::FinalizeResult stray = metadata::finalize_variant(dir, zip_options());
  EXPECT_FALSE(stray.ok);
  EXPECT_EQ(join(stray.problems, "\n"),
            "Variant `" + dir.string() + "` has the zip build layout but ships `_ops.py` outside its archive");
  fs::remove(dir / "_ops.py");

  std::string archive = read_file(dir / "_relu_cpu_abc1234.zip");
  write_file_atomic(dir / "_relu_cpu_abc1234.zip", archive.substr(0, archive.size() - 30));
  metadata::FinalizeResult broken = metadata::finalize_variant(dir, zip_options());
  EXPECT_FALSE(broken.ok);
  EXPECT_EQ(join(broken.problems, "\n"), "Invalid kernel archive `" + (dir / "_relu_cpu_abc1234.zip").string() +
                                             "`: not a ZIP archive (no end of central directory record)");
  EXPECT_EQ(read_file(dir / "metadata.json"), before);
}

TEST(ZipLayout, NativeLibrariesAndMetadataStayOutside) {
  for (const char* outside : {"metadata.json", "_relu.abi3.so", "lib/libfoo.so.1.2", "x.dylib", "m.pyd"})
    EXPECT_TRUE(metadata::stays_outside_archive(outside)) << outside;
  for (const char* inside : {"__init__.py", "_ops.py", "sub/metadata.json", "notes.so.txt", "a.sox"})
    EXPECT_FALSE(metadata::stays_outside_archive(inside)) << inside;
}

TEST(BuildLayoutEvents, TheProjectEventCarriesTheLayout) {
  events::ProjectEvent project;
  EXPECT_EQ(project.build_layout, "files");
  project.build_layout = "zip";
  EXPECT_EQ(events::ProjectEvent::from_json(project.to_json()).build_layout, "zip");
  EXPECT_EQ(events::ProjectEvent::from_json(events::Json::parse(R"({"event": "project"})")).build_layout, "files");
  EXPECT_EQ(error_of([] {
              events::ProjectEvent::from_json(events::Json::parse(R"({"event": "project", "build_layout": "tar"})"));
            }),
            "project event: field \"build_layout\" must be \"files\" or \"zip\", got string \"tar\"");
}

}  // namespace
}  // namespace kb
