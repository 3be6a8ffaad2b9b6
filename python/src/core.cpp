// The kernels._core extension module.
#include "python/src/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "C++ core of the kernels package: variant resolution, metadata, LOCAL_KERNELS, python-depends.";
  // The distribution version (API level + kb version), and kb's own.
  m.attr("__version__") = KB_KERNELS_DIST_VERSION;
  m.attr("kb_version") = KB_VERSION;

  // A libkb error that no binding maps to a more specific type is bad input
  // (a name, a version, a file's content): ValueError, as Python code expects.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kb::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  kb::python::bind_metadata(m);
  kb::python::bind_resolve(m);
  kb::python::bind_runtime(m);
  kb::python::bind_hub(m);
  kb::python::bind_lock(m);
  kb::python::bind_layer(m);
  kb::python::bind_load(m);
  kb::python::bind_cli(m);
}
