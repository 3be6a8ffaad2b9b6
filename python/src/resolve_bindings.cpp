// Variant names, the environment a process offers, and variant resolution
// (runtime spec 3). Python passes facts; libkb/resolve decides.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libkb/resolve/resolve.h"
#include "libkb/variant/variant.h"
#include "python/src/bindings.h"

namespace kb::python {

namespace {

namespace fs = std::filesystem;
using resolve::Environment;
using resolve::TorchFacts;
using variant::Variant;

std::string optional_repr(const std::optional<Version>& v) { return v ? "'" + v->str() + "'" : "None"; }

// The environment of the running process. `cuda_runtime` is the CUDA runtime
// version found without torch (libcudart), `cuda_device_available` whether
// that runtime sees a device (None: not asked); torch's facts take precedence.
// `python_version` and `gil_disabled` decide the free-threading rule.
Environment make_environment(const std::string& machine, const std::string& system,
                             const std::optional<TorchFacts>& torch, const std::optional<std::string>& backend,
                             const std::optional<std::string>& cuda_runtime, const std::optional<std::string>& tvm_ffi,
                             const std::optional<std::string>& macos, const std::string& python_version,
                             bool gil_disabled, bool mlx, std::optional<bool> cuda_device_available) {
  return translate(PyExc_ValueError, [&] {
    Environment env;
    if (!torch && cuda_runtime) {
      env = resolve::make_cuda_runtime_environment(machine, system, Version::parse(*cuda_runtime),
                                                   cuda_device_available, backend);
    } else {
      env = resolve::make_environment(machine, system, torch, backend);
    }
    if (tvm_ffi) {
      Version v = leading_version(*tvm_ffi);
      env.tvm_ffi = Version({v.major(), v.minor()});
    }
    if (env.os == "darwin" && macos && !macos->empty()) env.macos = leading_version(*macos);
    // Compiled variants carry a Python ABI: the oldest Python they need, and
    // abi3 (GIL) or abi3t (free-threaded, from 3.15).
    Version python = leading_version(python_version);
    env.python = Version({python.major(), python.minor()});
    env.free_threaded = gil_disabled;
    env.mlx = mlx;
    return env;
  });
}

}  // namespace

void bind_resolve(py::module_& m) {
  py::class_<Variant>(m, "Variant", "A build variant name such as torch211-cxx11-cu128-x86_64-linux.")
      .def_static(
          "parse",
          [](const std::string& name) { return translate(PyExc_ValueError, [&] { return Variant::parse(name); }); },
          py::arg("name"))
      .def_property_readonly("variant_str", &Variant::str)
      .def_property_readonly("is_arch", &Variant::is_arch)
      .def("same_build", &Variant::same_build, py::arg("other"),
           "Whether `other` names the same build (a legacy name and its dotted cpython-3.9-abi3 twin).")
      .def_property_readonly("is_sdk", [](const Variant& v) { return v.kind() == variant::Kind::Sdk; })
      .def_property_readonly(
          "legacy", [](const Variant& v) { return v.name_form() == variant::NameForm::Legacy; },
          "Whether the name is in the legacy form (torch210-cu128-...) rather than the dotted one.")
      .def_property_readonly(
          "python_version",
          [](const Variant& v) -> std::optional<std::string> {
            if (!v.has_python_abi()) return std::nullopt;
            return v.python().version().major_minor();
          },
          "The oldest Python the compiled parts need (\"3.9\" for legacy names); None without compiled parts.")
      .def_property_readonly(
          "python_abi",
          [](const Variant& v) -> std::optional<std::string> {
            if (!v.has_python_abi()) return std::nullopt;
            return v.python().abi3t ? "abi3t" : "abi3";
          },
          "abi3 or abi3t; None without compiled parts.")
      .def("__str__", &Variant::str)
      .def("__repr__", [](const Variant& v) { return "Variant('" + v.str() + "')"; })
      .def(
          "__eq__", [](const Variant& a, const Variant& b) { return a == b; }, py::is_operator())
      .def(
          "__lt__", [](const Variant& a, const Variant& b) { return a < b; }, py::is_operator())
      .def("__hash__", [](const Variant& v) { return py::hash(py::str(v.str())); });

  py::class_<TorchFacts>(m, "TorchFacts", "What torch reports about itself (torch.__version__, torch.version.*).")
      .def(py::init([](std::string version, bool cxx11_abi, std::optional<std::string> cuda,
                       std::optional<std::string> hip, std::optional<std::string> xpu, bool mps, bool tpu, bool neuron,
                       std::optional<std::string> cann, std::optional<bool> device_available) {
             TorchFacts t;
             t.device_available = device_available;
             t.version = std::move(version);
             t.cxx11_abi = cxx11_abi;
             t.cuda = std::move(cuda);
             t.hip = std::move(hip);
             t.xpu = std::move(xpu);
             t.mps = mps;
             t.tpu = tpu;
             t.neuron = neuron;
             if (cann) t.cann = translate(PyExc_ValueError, [&] { return Version::parse(*cann); });
             return t;
           }),
           py::kw_only(), py::arg("version"), py::arg("cxx11_abi") = false, py::arg("cuda") = py::none(),
           py::arg("hip") = py::none(), py::arg("xpu") = py::none(), py::arg("mps") = false, py::arg("tpu") = false,
           py::arg("neuron") = false, py::arg("cann") = py::none(), py::arg("device_available") = py::none());

  py::class_<Environment>(m, "Environment", "What the running process offers a kernel.")
      .def_readonly("cpu", &Environment::cpu)
      .def_readonly("os", &Environment::os)
      .def_property_readonly("backend", [](const Environment& e) { return e.backend.str(); })
      .def_property_readonly(
          "backend_name", [](const Environment& e) { return std::string(config::backend_name(e.backend.backend())); })
      .def_property_readonly("torch",
                             [](const Environment& e) -> std::optional<std::string> {
                               return e.torch ? std::optional(e.torch->str()) : std::nullopt;
                             })
      .def_readonly("cxx11_abi", &Environment::cxx11_abi)
      .def_readonly("free_threaded", &Environment::free_threaded)
      .def_readonly("cpu_fallback", &Environment::cpu_fallback)
      .def("describe", &Environment::describe)
      .def("__repr__", [](const Environment& e) {
        return "Environment(" + e.describe() + ", tvm_ffi=" + optional_repr(e.tvm_ffi) + ")";
      });

  m.def("make_environment", &make_environment, py::kw_only(), py::arg("machine"), py::arg("system"),
        py::arg("torch") = py::none(), py::arg("backend") = py::none(), py::arg("cuda_runtime") = py::none(),
        py::arg("tvm_ffi") = py::none(), py::arg("macos") = py::none(), py::arg("python_version"),
        py::arg("gil_disabled") = false, py::arg("mlx") = false, py::arg("cuda_device_available") = py::none(),
        "The environment from platform and torch facts; ValueError for a backend override the system does not "
        "support.");

  py::class_<resolve::Decision>(m, "Decision")
      .def_readonly("variant", &resolve::Decision::variant)
      .def_readonly("accepted", &resolve::Decision::accepted)
      .def_readonly("reason", &resolve::Decision::reason, "Why it was rejected; for an accepted CPU fallback, why it was accepted.");

  py::class_<resolve::Resolution>(m, "Resolution")
      .def_readonly("trace", &resolve::Resolution::trace)
      .def_readonly("warnings", &resolve::Resolution::warnings)
      .def_property_readonly("best", [](const resolve::Resolution& r) -> std::optional<Variant> {
        if (const auto* d = r.best()) return d->variant;
        return std::nullopt;
      });

  m.def("resolve", &resolve::resolve, py::arg("variants"), py::arg("env"),
        "Decisions for every candidate, accepted first, preferred first.");
  m.def("render_trace", &resolve::render_trace, py::arg("trace"));
  m.def(
      "list_variant_dirs", [](const fs::path& dir) { return resolve::list_variant_dirs(dir); }, py::arg("dir"));
  m.def("variant_bases", &resolve::variant_bases, py::arg("path"),
        "The directories whose sub-directories are a local kernel's variants, in the order loaders try them.");

  py::class_<resolve::LocalChoice>(m, "LocalChoice")
      .def_readonly("variant_dir", &resolve::LocalChoice::variant_dir)
      .def_readonly("variant", &resolve::LocalChoice::variant)
      .def_readonly("resolution", &resolve::LocalChoice::resolution);

  m.def(
      "choose_local_variant",
      [](const fs::path& path, const Environment& env) {
        return translate(PyExc_FileNotFoundError, [&] { return resolve::choose_local_variant(path, env); });
      },
      py::arg("path"), py::arg("env"),
      "The variant directory to load for a repo root, build/ directory or variant directory; "
      "FileNotFoundError with the resolution trace when none fits.");
}

}  // namespace kb::python
