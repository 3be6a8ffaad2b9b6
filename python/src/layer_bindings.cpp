// Capability ranges of CUDA/ROCm kernel mappings (libkb/layer). The Python
// side keeps the mapped data in a list indexed by the slots handed out here.
#include <pybind11/stl.h>

#include "libkb/layer/capability_ranges.h"
#include "python/src/bindings.h"

namespace kb::python {

void bind_layer(py::module_& m) {
  using layer::CapabilityRanges;
  auto copy = [](const CapabilityRanges& r) { return r; };
  py::class_<CapabilityRanges>(m, "CapabilityRanges",
                               "Compute-capability ranges (major*10+minor), each owning a slot; lookups pick the "
                               "narrowest range holding a capability.")
      .def(py::init<>())
      .def(
          "insert",
          [](CapabilityRanges& r, int64_t min, int64_t max) {
            return translate(PyExc_ValueError, [&] { return r.insert(min, max); });
          },
          py::arg("min_capability"), py::arg("max_capability"),
          "The slot of [min, max]: the existing one for a range registered before, else len(self).")
      .def("find_narrowest", &CapabilityRanges::find_narrowest, py::arg("capability"),
           "The slot of the narrowest range holding `capability` (lowest start among equals), or None.")
      .def("find_all", &CapabilityRanges::find_all, py::arg("capability"))
      .def("ranges",
           [](const CapabilityRanges& r) {
             std::vector<std::pair<int64_t, int64_t>> out;
             for (const auto& range : r.ranges()) out.emplace_back(range.min, range.max);
             return out;
           })
      .def("__len__", &CapabilityRanges::size)
      .def("__copy__", copy)
      .def("__deepcopy__", [copy](const CapabilityRanges& r, py::dict) { return copy(r); }, py::arg("memo"))
      .def(py::pickle(
          [](const CapabilityRanges& r) {
            py::list ranges;
            for (const auto& range : r.ranges()) ranges.append(py::make_tuple(range.min, range.max));
            return ranges;
          },
          [](const py::list& ranges) {
            CapabilityRanges r;
            for (const auto& item : ranges) {
              auto t = item.cast<std::pair<int64_t, int64_t>>();
              r.insert(t.first, t.second);
            }
            return r;
          }));
}

}  // namespace kb::python
