// Hub access for the loaders: versions, variant listings, publisher trust and
// variant installs into the cache, through the hub KB_HUB names (runtime
// spec 4, 5.1). Every call takes the user agent the Python side built.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/fetch/repo_folder.h"
#include "libkb/hub/hub.h"
#include "libkb/hub/trust.h"
#include "python/src/bindings.h"

namespace kb::python {

std::unique_ptr<hub::Hub> open_hub(const std::string& user_agent) {
  hub::OpenOptions options;
  options.user_agent = user_agent;
  return hub::open_hub(std::nullopt, options);
}

void bind_hub(py::module_& m) {
  m.def("offline_mode", &cache::offline_mode, "HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set.");
  m.def("cache_root", &cache::default_cache_root, "The kernel cache: KERNELS_CACHE, else the Hugging Face cache.");
  m.def(
      "hub_versions",
      [](const std::string& repo_id, bool local_files_only, const std::string& user_agent) {
        return translate(PyExc_ValueError, [&] {
          if (local_files_only) return cache::cached_version_refs(cache::default_cache_root(), repo_id);
          py::gil_scoped_release release;
          return hub::version_branches(open_hub(user_agent)->list_branches(repo_id));
        });
      },
      py::arg("repo_id"), py::arg("local_files_only"), py::arg("user_agent") = "",
      "Version -> commit: branches v<N> on the hub, or the cache's refs offline.");
  m.def(
      "resolve_version",
      [](const std::string& repo_id, int version, bool local_files_only, const std::string& user_agent) {
        return translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          std::unique_ptr<hub::Hub> hub = local_files_only ? nullptr : open_hub(user_agent);
          std::optional<std::string> notice;
          std::string commit =
              fetch::resolve_version(hub.get(), repo_id, version, cache::default_cache_root(), local_files_only, &notice);
          return std::make_pair(commit, notice);
        });
      },
      py::arg("repo_id"), py::arg("version"), py::arg("local_files_only"), py::arg("user_agent") = "",
      "(commit of version branch v<version>, a notice when a newer version exists or None); ValueError when "
      "it does not exist.");
  m.def(
      "hub_variants",
      [](const std::string& repo_id, const std::string& revision, const std::string& user_agent) {
        return translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          return fetch::hub_variants(*open_hub(user_agent), repo_id, revision);
        });
      },
      py::arg("repo_id"), py::arg("revision"), py::arg("user_agent") = "",
      "The variants under build/ of `repo_id` at `revision` on the hub.");
  m.def(
      "hub_fetch_folder",
      [](const std::string& repo_id, const std::string& revision, const std::string& folder, bool local_files_only,
         const std::string& user_agent) {
        return translate(PyExc_ValueError, [&] {
          fetch::FolderSnapshot snap;
          {
            py::gil_scoped_release release;
            std::filesystem::path root = cache::default_cache_root();
            snap = local_files_only ? fetch::cached_repo_folder(root, repo_id, revision, folder)
                                    : fetch::fetch_repo_folder(*open_hub(user_agent), root, repo_id, revision, folder);
          }
          py::dict out;
          out["commit"] = snap.commit;
          out["root"] = snap.root;
          out["folder_exists"] = snap.folder_exists;
          out["files"] = snap.files;
          return out;
        });
      },
      py::arg("repo_id"), py::arg("revision"), py::arg("folder"), py::arg("local_files_only") = false,
      py::arg("user_agent") = "",
      "Stores the files under `folder` of `repo_id` at `revision` in the cache (offline: finds them there): "
      "{commit, root (the snapshot directory), folder_exists, files}.");
  m.def(
      "hub_file_exists",
      [](const std::string& repo_id, const std::string& revision, const std::string& path,
         const std::string& user_agent) {
        return translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          return open_hub(user_agent)->file_exists(repo_id, revision, path);
        });
      },
      py::arg("repo_id"), py::arg("revision"), py::arg("path"), py::arg("user_agent") = "",
      "Whether `path` is a file of `repo_id` at `revision` on the hub.");
  m.def(
      "publisher_trusted",
      [](const std::string& org, const std::string& user_agent) {
        return translate(PyExc_RuntimeError, [&] {
          py::gil_scoped_release release;
          return hub::publisher_trusted_cached(*open_hub(user_agent), org, cache::default_cache_root());
        });
      },
      py::arg("org"), py::arg("user_agent") = "",
      "True/False from the hub's organisation overview (a positive answer is remembered for an hour); None for "
      "hubs without publishers. RuntimeError when the hub cannot say.");
  m.def(
      "install_variant",
      [](const std::string& repo_id, const std::string& revision, const resolve::Environment& env,
         bool local_files_only, const std::string& user_agent) {
        fetch::Installed installed = translate(PyExc_FileNotFoundError, [&] {
          py::gil_scoped_release release;  // downloads run in parallel C++ threads
          std::unique_ptr<hub::Hub> hub = open_hub(user_agent);
          return fetch::install_variant(*hub, {repo_id, revision, env, cache::default_cache_root(), local_files_only});
        });
        return py::make_tuple(installed.variant_dir, installed.commit, installed.resolution.warnings);
      },
      py::arg("repo_id"), py::arg("revision"), py::arg("env"), py::arg("local_files_only"),
      py::arg("user_agent") = "",
      "Downloads the best variant into the cache (verified) -> (variant_dir, commit, warnings).");
}

}  // namespace kb::python
