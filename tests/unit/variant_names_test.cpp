// The dotted variant names, abi3t, mlx and SDK variants beside the legacy
// names: every form round-trips, malformed names are refused with a reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "libkb/util/error.h"
#include "libkb/variant/variant.h"

using namespace kb;
using namespace kb::variant;

namespace {

std::string parse_error(const std::string& name) {
  std::string why;
  if (Variant::try_parse(name, &why)) return "<parsed>";
  return why;
}

// Every combination of the parts lists, joined with '-'.
std::vector<std::string> combine(const std::vector<std::vector<std::string>>& lists) {
  std::vector<std::string> out = {""};
  for (const auto& list : lists) {
    std::vector<std::string> next;
    for (const auto& head : out)
      for (const auto& part : list) next.push_back(head.empty() ? part : part.empty() ? head : head + "-" + part);
    out = std::move(next);
  }
  return out;
}

const std::vector<std::string> kPythonAbis = {"cpython-3.9-abi3", "cpython-3.12-abi3", "cpython-3.15-abi3t"};
const std::vector<std::string> kLinux = {"aarch64-linux", "x86_64-linux"};

}  // namespace

TEST(VariantNames, DottedArchNamesRoundTrip) {
  std::vector<std::string> names =
      combine({{"torch-2.5", "torch-2.10", "torch-2.12"},
               {"", "cxx98", "cxx11"},
               {"cpu", "cuda-12.6", "cuda-13.0", "rocm-6.3", "rocm-10.0", "rocm-7.14", "xpu-2025.2", "cuda-12.10"},
               kPythonAbis,
               kLinux});
  for (const auto& n : combine({{"torch-2.10", "tvm-ffi-0.1"}, {"cpu", "metal"}, kPythonAbis, {"aarch64-darwin"}}))
    names.push_back(n);
  for (const auto& n : combine({{"tvm-ffi-0.1", "tvm-ffi-0.12"},
                                {"cpu", "cuda-12.8", "rocm-6.4", "xpu-2025.2", "cann-8.1"},
                                kPythonAbis,
                                kLinux}))
    names.push_back(n);
  for (const auto& n : combine({{"torch-stable-abi-2.9", "torch-stable-abi-2.11", "torch-stable-abi-10.0"},
                                {"cpu", "cuda-12.8", "rocm-6.4", "xpu-2025.2"},
                                kPythonAbis,
                                kLinux}))
    names.push_back(n);
  names.push_back("torch-2.10-cann-8.1-cpython-3.9-abi3-aarch64-linux");
  names.push_back("torch-2.10-tpu-cpython-3.10-abi3-x86_64-linux");
  names.push_back("torch-2.10-neuron-cpython-3.16-abi3t-x86_64-linux");
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    Variant v = Variant::parse(name);
    EXPECT_EQ(v.str(), name);
    EXPECT_EQ(v.name_form(), NameForm::Dotted);
    EXPECT_TRUE(v.is_arch());
    EXPECT_TRUE(v.has_python_abi());
    EXPECT_NE(name.find("-" + v.python().str() + "-"), std::string::npos);
  }
}

TEST(VariantNames, LegacyNamesAreCpython39Abi3) {
  for (const std::string name :
       {"torch210-cxx11-cu128-x86_64-linux", "torch-stable-abi211-cpu-aarch64-darwin", "tvm-ffi01-cu128-x86_64-linux",
        "torch29-cxx11-rocm714-x86_64-linux", "torch212-cu132-x86_64-linux"}) {
    SCOPED_TRACE(name);
    Variant v = Variant::parse(name);
    EXPECT_EQ(v.str(), name);
    EXPECT_EQ(v.name_form(), NameForm::Legacy);
    EXPECT_EQ(v.python(), PythonAbi{});
    EXPECT_EQ(v.python().str(), "cpython-3.9-abi3");
  }
  Compute rocm = Variant::parse("torch29-cxx11-rocm714-x86_64-linux").compute();
  EXPECT_EQ(rocm.version(), Version::parse("7.14")) << "rocm714 is ROCm 7.14, the one two-digit legacy minor";
  EXPECT_EQ(Variant::parse("torch29-cxx11-rocm100-x86_64-linux").compute().version(), Version::parse("10.0"));
}

TEST(VariantNames, DottedFieldsAndConversionToAndFromLegacy) {
  Variant v = Variant::parse("torch-2.10-cxx11-cuda-12.8-cpython-3.15-abi3t-x86_64-linux");
  EXPECT_EQ(v.kind(), Kind::Torch);
  EXPECT_EQ(v.framework_version(), Version::parse("2.10"));
  EXPECT_EQ(v.cxx11_abi(), std::optional<bool>(true));
  EXPECT_EQ(v.compute().kind, ComputeKind::Cuda);
  EXPECT_EQ(v.compute().version(), Version::parse("12.8"));
  EXPECT_EQ(v.python().version(), Version::parse("3.15"));
  EXPECT_TRUE(v.python().abi3t);
  EXPECT_EQ(v.cpu(), "x86_64");
  EXPECT_EQ(v.os(), "linux");

  Variant legacy = Variant::parse("torch210-cxx11-cu128-x86_64-linux");
  Variant dotted = legacy.with_name_form(NameForm::Dotted);
  EXPECT_EQ(dotted.str(), "torch-2.10-cxx11-cuda-12.8-cpython-3.9-abi3-x86_64-linux");
  EXPECT_EQ(dotted.with_name_form(NameForm::Legacy), legacy);
  EXPECT_NE(dotted, legacy) << "two names are two directories";
  EXPECT_TRUE(dotted.same_build(legacy));
  EXPECT_FALSE(dotted.with_python({3, 10, false}).same_build(legacy));
  EXPECT_EQ(dotted.with_python({3, 12, false}).str(), "torch-2.10-cxx11-cuda-12.8-cpython-3.12-abi3-x86_64-linux");
  EXPECT_EQ(Variant::parse("torch-stable-abi211-cu130-x86_64-linux").with_name_form(NameForm::Dotted).str(),
            "torch-stable-abi-2.11-cuda-13.0-cpython-3.9-abi3-x86_64-linux");
  EXPECT_EQ(Variant::parse("tvm-ffi01-xpu20253-x86_64-linux").with_name_form(NameForm::Dotted).str(),
            "tvm-ffi-0.1-xpu-2025.3-cpython-3.9-abi3-x86_64-linux");
  EXPECT_EQ(Variant::parse("torch-cuda").with_name_form(NameForm::Dotted).str(), "torch-cuda");

  EXPECT_THROW(v.with_name_form(NameForm::Legacy), Error) << "the legacy form holds only cpython-3.9-abi3";
  EXPECT_THROW(Variant::parse("torch-2.10-cuda-12.10-cpython-3.9-abi3-x86_64-linux").with_name_form(NameForm::Legacy),
               Error);
  EXPECT_THROW(legacy.with_python({3, 12, false}), Error);
  EXPECT_THROW(dotted.with_python({3, 14, true}), Error);
  EXPECT_EQ(Compute::parse_dotted({"rocm", "7.14"}).str(), "rocm714");
  EXPECT_EQ(Compute::parse("cu130").dotted(), "cuda-13.0");
}

TEST(VariantNames, NoarchMlxAndCann) {
  for (const std::string name : {"mlx-metal", "mlx-cuda", "mlx-metal-4.0", "torch-cann", "torch-npu"}) {
    SCOPED_TRACE(name);
    Variant v = Variant::parse(name);
    EXPECT_EQ(v.str(), name);
    EXPECT_EQ(v.kind(), Kind::Noarch);
    EXPECT_FALSE(v.has_python_abi());
  }
  EXPECT_EQ(Variant::parse("mlx-metal").noarch_framework(), NoarchFramework::Mlx);
  EXPECT_EQ(Variant::parse("mlx-metal").noarch_backend(), "metal");
  EXPECT_EQ(Variant::parse("torch-metal").noarch_framework(), NoarchFramework::Torch);
  EXPECT_EQ(Variant::noarch("metal", NoarchFramework::Mlx).str(), "mlx-metal");
  EXPECT_NE(parse_error("mlx-0.32-metal-cpython-3.12-abi3-aarch64-darwin"), "<parsed>")
      << "versioned (arch) MLX variants are not a form yet";
}

TEST(VariantNames, SdkFormsRoundTrip) {
  std::vector<std::string> names = {"sdk"};
  for (const char* b : {"cpu", "cuda", "metal", "rocm", "xpu", "cann"}) names.push_back(std::string("sdk-") + b);
  for (const auto& n : combine({{"sdk"},
                                {"cpu", "cuda-12.6", "cuda-13.0", "rocm-6.3", "rocm-6.4", "xpu-2025.2", "cann-8.1"},
                                kPythonAbis,
                                kLinux}))
    names.push_back(n);
  for (const auto& n : combine({{"sdk"}, {"cpu", "metal"}, kPythonAbis, {"aarch64-darwin"}})) names.push_back(n);
  for (const auto& n : combine({{"sdk"}, kPythonAbis, {"aarch64-linux", "x86_64-linux", "aarch64-darwin"}}))
    names.push_back(n);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    Variant v = Variant::parse(name);
    EXPECT_EQ(v.str(), name);
    EXPECT_EQ(v.kind(), Kind::Sdk);
    EXPECT_FALSE(v.is_arch());
    EXPECT_EQ(Variant::parse(v.str()), v);
  }
  Variant compiled = Variant::parse("sdk-cuda-12.8-cpython-3.15-abi3t-x86_64-linux");
  EXPECT_TRUE(compiled.has_python_abi());
  EXPECT_TRUE(compiled.sdk_has_compute());
  EXPECT_EQ(compiled.compute().version(), Version::parse("12.8"));
  EXPECT_TRUE(compiled.python().abi3t);
  Variant agnostic = Variant::parse("sdk-cpython-3.9-abi3-x86_64-linux");
  EXPECT_TRUE(agnostic.has_python_abi());
  EXPECT_FALSE(agnostic.sdk_has_compute());
  EXPECT_EQ(Variant::parse("sdk-cuda").noarch_backend(), "cuda");
  EXPECT_FALSE(Variant::parse("sdk-cuda").has_python_abi());
  EXPECT_EQ(Variant::sdk_compiled(Compute::parse("cu128"), {3, 12, false}, "x86_64", "linux").str(),
            "sdk-cuda-12.8-cpython-3.12-abi3-x86_64-linux");
  EXPECT_EQ(Variant::sdk_compiled(std::nullopt, {3, 15, true}, "aarch64", "darwin").str(),
            "sdk-cpython-3.15-abi3t-aarch64-darwin");
  EXPECT_EQ(Variant::sdk("cuda").str(), "sdk-cuda");
  EXPECT_THROW(Variant::sdk_compiled(std::nullopt, {3, 12, true}, "x86_64", "linux"), Error);
}

TEST(VariantNames, RefusesMixedAndMalformedNamesWithAReason) {
  struct Case {
    const char* name;
    const char* reason_part;
  };
  const Case cases[] = {
      // Mixing the forms.
      {"torch-2.10-cu128-cpython-3.9-abi3-x86_64-linux", "unknown backend `cu128`"},
      {"torch210-cuda-12.8-x86_64-linux", "expected <compute>-<cpu>-<os> after the framework, got 4"},
      {"torch210-cuda-12.8-cpython-3.9-abi3-x86_64-linux", "expected <compute>-<cpu>-<os>"},
      {"torch-stable-abi-2.11-cu128-cpython-3.9-abi3-x86_64-linux", "unknown backend"},
      {"torch-stable-abi211-cuda-12.8-cpython-3.9-abi3-x86_64-linux", "expected <compute>-<cpu>-<os>"},
      {"tvm-ffi-0.1-xpu20253-cpython-3.9-abi3-x86_64-linux", "unknown backend"},
      {"tvm-ffi01-xpu-2025.3-cpython-3.9-abi3-x86_64-linux", "expected <compute>-<cpu>-<os>"},
      {"torch210-cu128-cpython-3.15-abi3t-x86_64-linux", "expected <compute>-<cpu>-<os>"},
      // Backends in the dotted form.
      {"torch-2.10-cu-12.8-cpython-3.9-abi3-x86_64-linux", "unknown backend"},
      {"torch-2.10-cuda-cpython-3.9-abi3-x86_64-linux", "expected `cuda-<major>.<minor>`"},
      {"torch-2.10-cpu-12.8-cpython-3.9-abi3-x86_64-linux", "takes no version"},
      {"torch-2.10-cuda-12-cpython-3.9-abi3-x86_64-linux", "is not <major>.<minor>"},
      // Framework versions.
      {"torch-2.-cpu-cpython-3.9-abi3-x86_64-linux", "torch version `2.`"},
      {"torch-2.10.1-cpu-cpython-3.9-abi3-x86_64-linux", "torch version `2.10.1`"},
      {"torch-2.010-cpu-cpython-3.9-abi3-x86_64-linux", "torch version `2.010`"},
      {"torch-stable-abi-2-cpu-cpython-3.9-abi3-x86_64-linux", "stable ABI version `2`"},
      {"tvm-ffi-0-cpu-cpython-3.9-abi3-x86_64-linux", "tvm-ffi version `0`"},
      // The Python part.
      {"torch-2.10-cuda-12.8-x86_64-linux", "missing Python version and ABI"},
      {"tvm-ffi-0.1-cpu-aarch64-darwin", "missing Python version and ABI"},
      {"torch-2.10-cuda-12.8-x86_64-linux-abi3", "missing Python version and ABI"},
      {"torch-2.10-cuda-12.8-cpython-3.9-x86_64-linux", "right before <cpu>-<os>"},
      {"torch-2.10-cpython-3.9-abi3-cuda-12.8-x86_64-linux", "right before <cpu>-<os>"},
      {"torch-2.10-cuda-12.8-cpython-3.9-abi3-cpython-3.9-abi3-x86_64-linux", "right before <cpu>-<os>"},
      {"torch-2.10-cuda-12.8-cpython-3.9-abi4-x86_64-linux", "unknown Python ABI `abi4`"},
      {"torch-2.10-cuda-12.8-cpython-3.15-abi3.abi3t-x86_64-linux", "unknown Python ABI"},
      {"torch-2.10-cuda-12.8-cpython-39-abi3-x86_64-linux", "Python version `39`"},
      {"torch-2.10-cuda-12.8-cpython-3.9.1-abi3-x86_64-linux", "Python version `3.9.1`"},
      {"torch-2.10-cuda-12.8-cpython-3.09-abi3-x86_64-linux", "Python version `3.09`"},
      {"torch-2.10-cuda-12.8-cpython-3.14-abi3t-x86_64-linux", "abi3t needs Python 3.15 or later, not 3.14"},
      // A backend is required.
      {"torch-2.10-cpython-3.9-abi3-x86_64-linux", "missing backend"},
      {"torch-2.10-cxx11-cpython-3.9-abi3-x86_64-linux", "missing backend"},
      {"torch-stable-abi-2.11-cpython-3.9-abi3-x86_64-linux", "missing backend"},
      {"tvm-ffi-0.1-cpython-3.15-abi3t-x86_64-linux", "missing backend"},
      {"torch210-x86_64-linux", "missing backend"},
      {"torch210-cxx11-x86_64-linux", "missing backend"},
      {"torch-stable-abi211-x86_64-linux", "missing backend"},
      {"tvm-ffi01-x86_64-linux", "missing backend"},
      // SDKs.
      {"sdk-", "an SDK without compiled parts"},
      {"sdk-cuda-12.8", "an SDK without compiled parts"},
      {"sdk-cuda-12.8-x86_64-linux", "an SDK without compiled parts"},
      {"sdk-cpython-3.12-abi3t-x86_64-linux", "abi3t needs Python 3.15"},
      {"sdk-cpython", "expected <cpu>-<os>"},
      {"sdk-cpython-3.12-abi3", "expected cpython-"},
      {"sdk-cpython-3.9-abi3-x86_64-linux-extra", "right before <cpu>-<os>"},
      {"sdk-cpython-3.9-abi3-cuda-12.8-x86_64-linux", "right before <cpu>-<os>"},
      {"sdk-cu128-cpython-3.9-abi3-x86_64-linux", "unknown backend `cu128`"},
      {"sdk-cuda-cpython-3.9-abi3-x86_64-linux", "expected `cuda-<major>.<minor>`"},
      {"sdk-unknown-cpython-3.9-abi3-x86_64-linux", "unknown backend `unknown`"},
      {"sdkfoo", "unknown framework"},
      {"mlx", "unknown framework"},
      {"mlx-", "needs a backend after `mlx-`"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string why = parse_error(c.name);
    EXPECT_NE(why.find(c.reason_part), std::string::npos) << why;
  }
}
