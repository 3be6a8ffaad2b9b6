#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "libkb/util/error.h"
#include "libkb/variant/variant.h"

using namespace kb;
using namespace kb::variant;
using config::Backend;

namespace {

std::string parse_error(const std::string& name) {
  try {
    Variant::parse(name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Variant, RoundTripsEveryKindAndToken) {
  const std::vector<std::string> names = {
      // torch arch, every compute token, every ABI tag
      "torch212-cxx11-cpu-x86_64-linux",
      "torch212-cxx11-cu126-aarch64-linux",
      "torch213-cxx11-cu130-x86_64-linux",
      "torch213-cxx11-cu132-x86_64-linux",
      "torch212-cxx11-rocm71-x86_64-linux",
      "torch212-cxx11-xpu20253-x86_64-linux",
      "torch213-cxx11-xpu20260-x86_64-linux",
      "torch212-metal-aarch64-darwin",
      "torch212-cpu-aarch64-darwin",
      "torch211-cxx11-tpu-x86_64-linux",
      "torch210-cxx98-neuron-x86_64-linux",
      "torch29-cxx11-cann82-aarch64-linux",
      "torch210-cu128-x86_64-windows",
      "torch113-cxx11-cpu-x86_64-linux",
      "torch20-cpu-x86_64-linux",
      // stable ABI
      "torch-stable-abi211-cu130-x86_64-linux",
      "torch-stable-abi29-cpu-aarch64-darwin",
      "torch-stable-abi210-rocm72-x86_64-linux",
      // tvm-ffi
      "tvm-ffi01-cu128-x86_64-linux",
      "tvm-ffi01-cpu-aarch64-darwin",
      "tvm-ffi012-xpu20253-x86_64-linux",
      // noarch, including names that are not backends and names with dashes
      "torch-cpu", "torch-cuda", "torch-metal", "torch-rocm", "torch-xpu", "torch-tpu",
      "torch-neuron", "torch-npu", "torch-universal", "torch-some-future-thing",
  };
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    Variant v = Variant::parse(name);
    EXPECT_EQ(v.str(), name);
    EXPECT_EQ(Variant::parse(v.str()), v);
  }
}

TEST(Variant, ParsesTorchArchFields) {
  Variant v = Variant::parse("torch212-cxx11-cu130-x86_64-linux");
  EXPECT_EQ(v.kind(), Kind::Torch);
  EXPECT_TRUE(v.is_arch());
  EXPECT_EQ(v.framework_version(), Version::parse("2.12"));
  EXPECT_EQ(v.cxx11_abi(), std::optional<bool>(true));
  EXPECT_EQ(v.compute().kind, ComputeKind::Cuda);
  EXPECT_EQ(v.compute().version(), Version::parse("13.0"));
  EXPECT_EQ(v.compute().backend(), Backend::Cuda);
  EXPECT_EQ(v.cpu(), "x86_64");
  EXPECT_EQ(v.os(), "linux");

  EXPECT_EQ(Variant::parse("torch210-cxx98-cpu-x86_64-linux").cxx11_abi(), std::optional<bool>(false));
  EXPECT_EQ(Variant::parse("torch210-cpu-aarch64-darwin").cxx11_abi(), std::nullopt);
  // One-digit major, the rest is the minor.
  EXPECT_EQ(Variant::parse("torch29-cpu-x86_64-linux").framework_version(), Version::parse("2.9"));
  EXPECT_EQ(Variant::parse("torch210-cpu-x86_64-linux").framework_version(), Version::parse("2.10"));
  EXPECT_EQ(Variant::parse("torch113-cxx11-cpu-x86_64-linux").framework_version(), Version::parse("1.13"));
}

TEST(Variant, ParsesOtherKinds) {
  Variant abi = Variant::parse("torch-stable-abi211-cu130-x86_64-linux");
  EXPECT_EQ(abi.kind(), Kind::TorchStableAbi);
  EXPECT_EQ(abi.framework_version(), Version::parse("2.11"));
  EXPECT_EQ(abi.cxx11_abi(), std::nullopt);
  EXPECT_EQ(Variant::parse("torch-stable-abi29-cpu-x86_64-linux").framework_version(), Version::parse("2.9"));

  Variant tvm = Variant::parse("tvm-ffi01-cu128-x86_64-linux");
  EXPECT_EQ(tvm.kind(), Kind::TvmFfi);
  EXPECT_EQ(tvm.framework_major(), 0u);
  EXPECT_EQ(tvm.framework_minor(), 1u);
  EXPECT_EQ(Variant::parse("tvm-ffi012-cpu-x86_64-linux").framework_minor(), 12u);

  Variant noarch = Variant::parse("torch-universal");
  EXPECT_EQ(noarch.kind(), Kind::Noarch);
  EXPECT_FALSE(noarch.is_arch());
  EXPECT_EQ(noarch.noarch_backend(), "universal");
  EXPECT_EQ(Variant::parse("torch-a-b").noarch_backend(), "a-b");
}

TEST(Variant, ComputeTokensTakeTheLastDigitAsMinor) {
  struct Case {
    const char* token;
    ComputeKind kind;
    uint64_t major, minor;
  };
  const Case cases[] = {
      {"cu128", ComputeKind::Cuda, 12, 8},    {"cu130", ComputeKind::Cuda, 13, 0},
      {"cu1210", ComputeKind::Cuda, 121, 0},  {"rocm71", ComputeKind::Rocm, 7, 1},
      {"xpu20253", ComputeKind::Xpu, 2025, 3}, {"cann82", ComputeKind::Cann, 8, 2},
      {"cpu", ComputeKind::Cpu, 0, 0},        {"metal", ComputeKind::Metal, 0, 0},
      {"tpu", ComputeKind::Tpu, 0, 0},        {"neuron", ComputeKind::Neuron, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.token);
    Compute compute = Compute::parse(c.token);
    EXPECT_EQ(compute.kind, c.kind);
    EXPECT_EQ(compute.major, c.major);
    EXPECT_EQ(compute.minor, c.minor);
    EXPECT_EQ(compute.str(), c.token);
  }
  EXPECT_FALSE(Compute::parse("cpu").versioned());
  EXPECT_TRUE(Compute::parse("cann82").versioned());
  EXPECT_EQ(Compute::parse("cann82").backend(), Backend::Cann);
  EXPECT_TRUE(Compute::parse("metal").version().empty());
}

TEST(Variant, RejectsMalformedNamesWithReasons) {
  struct Case {
    const char* name;
    const char* reason_part;
  };
  const Case cases[] = {
      {"", "unknown framework"},
      {"pytorch212-cpu-x86_64-linux", "unknown framework"},
      {"tvm-ffi-cpu", "tvm-ffi version"},  // there is no tvm-ffi noarch form
      {"tvm-ffi1-cpu-x86_64-linux", "tvm-ffi version"},
      {"torch", "needs a backend"},
      {"torch-", "needs a backend"},
      {"torch2-cpu-x86_64-linux", "torch version"},
      {"torchx12-cpu-x86_64-linux", "torch version"},
      {"torch2010-cpu-x86_64-linux", "leading zero"},
      {"torch212-cxx11-cpu-x86_64", "expected <compute>-<cpu>-<os>"},
      {"torch212-cxx11-cpu-x86_64-linux-extra", "expected <compute>-<cpu>-<os>"},
      {"torch212-cxx11-cu-x86_64-linux", "needs major and minor digits"},
      {"torch212-cxx11-cu1-x86_64-linux", "needs major and minor digits"},
      {"torch212-cxx11-cu12a-x86_64-linux", "needs major and minor digits"},
      {"torch212-cxx11-cu0130-x86_64-linux", "leading zero"},
      {"torch212-cxx11-cuda-x86_64-linux", "needs major and minor digits"},
      {"torch212-cxx11-gpu-x86_64-linux", "unknown compute token `gpu`"},
      {"torch212-cxx14-cpu-x86_64-linux", "expected <compute>-<cpu>-<os>"},
      {"torch212-cxx11-cpu--linux", "empty CPU or OS"},
      {"torch-stable-abi-cpu-x86_64-linux", "stable ABI version"},
      {"torch-stable-abi2-cpu-x86_64-linux", "stable ABI version"},
      {"torch-stable-abi211-cxx11-cpu-x86_64-linux", "expected <compute>-<cpu>-<os>"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string message = parse_error(c.name);
    EXPECT_NE(message.find("invalid variant name `" + std::string(c.name) + "`: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.reason_part), std::string::npos) << message;
    std::string why;
    EXPECT_FALSE(Variant::try_parse(c.name, &why).has_value());
    EXPECT_FALSE(why.empty());
  }
}

TEST(Variant, BuildsNamesFromParts) {
  Compute cu130 = Compute::from_backend(Backend::Cuda, Version::parse("13.0"));
  EXPECT_EQ(Variant::torch(Version::parse("2.12.1"), true, cu130, "x86_64", "linux").str(),
            "torch212-cxx11-cu130-x86_64-linux");
  EXPECT_EQ(Variant::torch(Version::parse("2.10"), std::nullopt, Compute::from_backend(Backend::Metal), "aarch64",
                           "darwin")
                .str(),
            "torch210-metal-aarch64-darwin");
  EXPECT_EQ(Variant::torch_stable_abi(Version::parse("2.11"), cu130, "aarch64", "linux").str(),
            "torch-stable-abi211-cu130-aarch64-linux");
  EXPECT_EQ(Variant::tvm_ffi(Version::parse("0.1"), cu130, "x86_64", "linux").str(), "tvm-ffi01-cu130-x86_64-linux");
  EXPECT_EQ(Variant::noarch("cuda").str(), "torch-cuda");
  EXPECT_EQ(Variant::torch(Version::parse("2"), true, Compute::from_backend(Backend::Cpu), "x86_64", "linux").str(),
            "torch20-cxx11-cpu-x86_64-linux");

  EXPECT_THROW(Variant::noarch(""), Error);
  EXPECT_THROW(Variant::torch(Version::parse("10.1"), true, cu130, "x86_64", "linux"), Error);
  EXPECT_THROW(Variant::torch(Version::parse("2.12"), true, cu130, "x86-64", "linux"), Error);
  EXPECT_THROW(Variant::tvm_ffi(Version::parse("0.1"), cu130, "", "linux"), Error);
}

TEST(Variant, ComputeFromBackendFlattensVersions) {
  EXPECT_EQ(Compute::from_backend(Backend::Cuda, Version::parse("12.6")).str(), "cu126");
  EXPECT_EQ(Compute::from_backend(Backend::Cuda, Version::parse("12")).str(), "cu120");
  EXPECT_EQ(Compute::from_backend(Backend::Rocm, Version::parse("7.1")).str(), "rocm71");
  EXPECT_EQ(Compute::from_backend(Backend::Xpu, Version::parse("2025.3.2")).str(), "xpu20253");
  EXPECT_EQ(Compute::from_backend(Backend::Xpu, Version::parse("2026.0.0")).str(), "xpu20260");
  EXPECT_EQ(Compute::from_backend(Backend::Cann, Version::parse("8.2")).str(), "cann82");
  EXPECT_EQ(Compute::from_backend(Backend::Cpu).str(), "cpu");
  EXPECT_EQ(Compute::from_backend(Backend::Tpu, Version::parse("9.9")).str(), "tpu");
  EXPECT_EQ(Compute::from_backend(Backend::Neuron).str(), "neuron");
  for (Backend b : config::all_backends()) EXPECT_EQ(Compute::from_backend(b, Version::parse("1.2")).backend(), b);

  EXPECT_THROW(Compute::from_backend(Backend::Cuda), Error);
  try {
    Compute::from_backend(Backend::Cuda, Version::parse("12.10"));
    FAIL() << "12.10 has a two-digit minor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("12.10"), std::string::npos);
  }
}

TEST(Variant, FlatVersionPadsAndDropsPatch) {
  EXPECT_EQ(flat_version(Version::parse("2.12")), "212");
  EXPECT_EQ(flat_version(Version::parse("2.12.1")), "212");
  EXPECT_EQ(flat_version(Version::parse("12")), "120");
  EXPECT_EQ(flat_version(Version::parse("13.0")), "130");
  EXPECT_EQ(flat_version(Version::parse("0.1")), "01");
  EXPECT_EQ(flat_version(Version::parse("2025.3.2")), "20253");
}

TEST(Variant, NormalizesPlatformNames) {
  EXPECT_EQ(normalize_cpu("x86_64"), "x86_64");
  EXPECT_EQ(normalize_cpu("amd64"), "x86_64");
  EXPECT_EQ(normalize_cpu("AMD64"), "x86_64");
  EXPECT_EQ(normalize_cpu("aarch64"), "aarch64");
  EXPECT_EQ(normalize_cpu("arm64"), "aarch64");
  EXPECT_EQ(normalize_cpu("ARM64"), "aarch64");
  try {
    normalize_cpu("riscv64");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("riscv64"), std::string::npos);
  }

  std::string warning;
  EXPECT_EQ(normalize_os("Linux", &warning), "linux");
  EXPECT_EQ(normalize_os("Darwin", &warning), "darwin");
  EXPECT_EQ(normalize_os("Windows", &warning), "windows");
  EXPECT_TRUE(warning.empty());
  EXPECT_EQ(normalize_os("FreeBSD", &warning), "freebsd");
  EXPECT_NE(warning.find("FreeBSD"), std::string::npos);

  EXPECT_TRUE(os_has_abi_tag("linux"));
  EXPECT_FALSE(os_has_abi_tag("darwin"));
  EXPECT_FALSE(os_has_abi_tag("windows"));
}

TEST(Variant, OrdersByNameAndComparesByValue) {
  std::vector<Variant> vs = {Variant::parse("torch-cuda"), Variant::parse("torch212-cxx11-cpu-x86_64-linux"),
                             Variant::parse("torch-cpu")};
  std::sort(vs.begin(), vs.end());
  EXPECT_EQ(vs[0].str(), "torch-cpu");
  EXPECT_EQ(vs[1].str(), "torch-cuda");
  EXPECT_EQ(vs[2].str(), "torch212-cxx11-cpu-x86_64-linux");
  EXPECT_NE(Variant::parse("torch212-cxx11-cpu-x86_64-linux"), Variant::parse("torch212-cpu-x86_64-linux"));
}
