#pragma once
// kernels._core: the C++ core of the `kernels` Python package. Python
// collects facts (torch, platform, importability); libkb decides (variant
// resolution, metadata, LOCAL_KERNELS, python-depends). Each bind_* function
// registers one concern on the module.
#include <pybind11/pybind11.h>

#include <string>
#include <utility>

#include "libkb/hub/hub.h"
#include "libkb/util/error.h"

namespace kb::python {

namespace py = pybind11;

void bind_metadata(py::module_& m);
void bind_resolve(py::module_& m);
void bind_runtime(py::module_& m);
void bind_hub(py::module_& m);
void bind_layer(py::module_& m);
void bind_load(py::module_& m);
void bind_cli(py::module_& m);

// The hub KB_HUB names, sending `user_agent` (built by the Python side) with
// its requests.
std::unique_ptr<hub::Hub> open_hub(const std::string& user_agent);
void bind_lock(py::module_& m);

// Raises a Python exception of `type` (PyExc_ValueError, PyExc_OSError, ...)
// with `message` as its only argument, so str(e) is the message.
[[noreturn]] inline void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

// Runs `f`, turning a kb::Error into the Python exception the public API
// documents for that call (libkb has one error type; Python callers catch
// ValueError, FileNotFoundError, ImportError, ...).
template <typename F>
auto translate(PyObject* type, F&& f) -> decltype(f()) {
  try {
    return std::forward<F>(f)();
  } catch (const Error& e) {
    raise(type, e.what());
  }
}

}  // namespace kb::python
