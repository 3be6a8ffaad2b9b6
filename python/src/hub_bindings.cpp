// Hub access for the loaders: version branches and variant installs into the
// cache, through the hub KB_HUB names (runtime spec 4, 5.1).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/hub/hub.h"
#include "python/src/bindings.h"

namespace kb::python {

void bind_hub(py::module_& m) {
  m.def("offline_mode", &cache::offline_mode, "HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set.");
  m.def("cache_root", &cache::default_cache_root, "The kernel cache: KERNELS_CACHE, else the Hugging Face cache.");
  m.def(
      "resolve_version",
      [](const std::string& repo_id, int version, bool local_files_only) {
        return translate(PyExc_ValueError, [&] {
          std::unique_ptr<hub::Hub> hub = local_files_only ? nullptr : hub::open_hub();
          return fetch::resolve_version(hub.get(), repo_id, version, cache::default_cache_root(), local_files_only);
        });
      },
      py::arg("repo_id"), py::arg("version"), py::arg("local_files_only"),
      "The commit of version branch v<version>; ValueError when it does not exist.");
  m.def(
      "install_variant",
      [](const std::string& repo_id, const std::string& revision, const resolve::Environment& env,
         bool local_files_only) {
        fetch::Installed installed = translate(PyExc_FileNotFoundError, [&] {
          py::gil_scoped_release release;  // downloads run in parallel C++ threads
          std::unique_ptr<hub::Hub> hub = hub::open_hub();
          return fetch::install_variant(*hub, {repo_id, revision, env, cache::default_cache_root(), local_files_only});
        });
        return py::make_tuple(installed.variant_dir, installed.commit, installed.resolution.warnings);
      },
      py::arg("repo_id"), py::arg("revision"), py::arg("env"), py::arg("local_files_only"),
      "Downloads the best variant into the cache (verified) -> (variant_dir, commit, warnings).");
}

}  // namespace kb::python
