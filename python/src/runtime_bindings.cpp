// Loader policy shared with the C++ runtime: LOCAL_KERNELS and the
// python-depends check (runtime spec 5.4, 5.6).
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <string>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/load/load.h"
#include "libkb/runtime/local_kernels.h"
#include "libkb/runtime/python_depends.h"
#include "libkb/runtime/variant_files.h"
#include "python/src/bindings.h"

namespace kb::python {

namespace {

// Unknown dependency names are ValueError, uninstalled packages ImportError
// (as in the existing runtime; load::LoadError kinds map to them).
void validate_python_depends(const std::string& python_name, const std::vector<std::string>& depends,
                             const std::string& backend, const std::function<bool(const std::string&)>& importable) {
  auto parsed = config::parse_backend(backend);
  if (!parsed) raise(PyExc_ValueError, "Unknown backend: " + backend);
  load::check_python_depends(python_name, depends, *parsed, importable);
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.def(
      "parse_local_kernels",
      [](const std::string& value) {
        return translate(PyExc_ValueError, [&] { return runtime::parse_local_kernels(value); });
      },
      py::arg("value"), "LOCAL_KERNELS text -> {repo_id: Path}; ValueError naming a malformed entry.");
  m.def(
      "dirty_provenance_warning",
      [](const metadata::Metadata& metadata, const std::string& variant) {
        return runtime::dirty_provenance_warning(metadata, variant);
      },
      py::arg("metadata"), py::arg("variant"),
      "The warning for a variant built from a dirty git tree, or None (runtime spec 5.7).");
  m.def("validate_python_depends", &validate_python_depends, py::arg("python_name"), py::arg("depends"),
        py::arg("backend"), py::arg("importable"),
        "Checks a kernel's python-depends against the curated table (ValueError) and `importable(import_name)` "
        "(ImportError).");
}

}  // namespace kb::python
