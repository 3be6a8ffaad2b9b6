// Locking for the Python side (runtime spec 7): kernels.lock read and
// written by libkb, projects locked on the hub KB_HUB names, locked kernels
// fetched into the cache and checked against their lock entry. Network work
// runs with the GIL released.
#include <pybind11/operators.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <mutex>

#include "libkb/cache/cache.h"
#include "libkb/hub/hub.h"
#include "libkb/lock/download.h"
#include "libkb/lock/lockfile.h"
#include "libkb/lock/project.h"
#include "libkb/lock/variant_hash.h"
#include "python/src/bindings.h"

namespace kb::python {

namespace fs = std::filesystem;

namespace {

// Variants as Python sees them: an insertion-ordered dict name -> VariantLock.
py::dict variants_dict(const lock::KernelLock& k) {
  py::dict out;
  for (const auto& [name, v] : k.variants) out[py::str(name)] = py::cast(v);
  return out;
}

lock::KernelLock make_lock(std::string repo_id, std::string sha, const py::dict& variants) {
  lock::KernelLock k{std::move(repo_id), std::move(sha), {}};
  for (const auto& [name, v] : variants) k.variants.emplace_back(name.cast<std::string>(), v.cast<lock::VariantLock>());
  return k;
}

}  // namespace

void bind_lock(py::module_& m) {
  py::class_<lock::VariantLock>(m, "VariantLock", "The lock of one variant: its git_lfs_concat hash.")
      .def(py::init([](std::string hash, std::string hash_type) {
             return lock::VariantLock{std::move(hash), std::move(hash_type)};
           }),
           py::arg("hash"), py::arg("hash_type") = std::string(lock::kGitLfsConcat))
      .def_readonly("hash", &lock::VariantLock::hash)
      .def_readonly("hash_type", &lock::VariantLock::hash_type)
      .def(py::self == py::self)
      .def("__repr__", [](const lock::VariantLock& v) {
        return "VariantLock(hash=" + py::repr(py::str(v.hash)).cast<std::string>() +
               ", hash_type=" + py::repr(py::str(v.hash_type)).cast<std::string>() + ")";
      });

  py::class_<lock::KernelLock>(m, "KernelLock", "One entry of kernels.lock: a kernel pinned to a commit.")
      .def(py::init(&make_lock), py::arg("repo_id"), py::arg("sha"), py::arg("variants") = py::dict())
      .def_readonly("repo_id", &lock::KernelLock::repo_id)
      .def_readonly("sha", &lock::KernelLock::sha)
      .def_property_readonly("variants", &variants_dict, "dict variant name -> VariantLock, in file order")
      .def_property_readonly(
          "dependency",
          [](const lock::KernelLock& k) -> py::object {
            if (!k.pin) return py::none();
            py::dict d;
            d["repo-id"] = k.repo_id;
            if (k.pin->version)
              d["version"] = *k.pin->version;
            else
              d["revision"] = *k.pin->revision;
            return d;
          },
          "What a structured (kernels >= 0.17) entry locked: {repo-id, version|revision}; None for a legacy entry")
      .def(py::self == py::self)
      .def("__repr__", [](const lock::KernelLock& k) {
        return "KernelLock(repo_id=" + py::repr(py::str(k.repo_id)).cast<std::string>() +
               ", sha=" + py::repr(py::str(k.sha)).cast<std::string>() +
               ", variants=" + py::repr(variants_dict(k)).cast<std::string>() + ")";
      });

  m.def(
      "parse_lock_file",
      [](const std::string& text, const std::string& source) {
        return translate(PyExc_ValueError, [&] { return lock::parse_lock_file(text, source); });
      },
      py::arg("text"), py::arg("source") = std::string(lock::kLockFileName),
      "The entries of kernels.lock text; ValueError naming the entry and key at fault.");
  m.def(
      "read_lock_file",
      [](const fs::path& path) {
        std::error_code ec;
        if (!fs::is_regular_file(path, ec)) raise(PyExc_FileNotFoundError, "No lock file at: " + path.string());
        return translate(PyExc_ValueError, [&] { return lock::read_lock_file(path); });
      },
      py::arg("path"), "The entries of a kernels.lock file; FileNotFoundError when there is none.");
  m.def("format_lock_file", &lock::format_lock_file, py::arg("locks"),
        "kernels.lock text for `locks`, byte for byte as the existing tool writes it.");
  m.def(
      "read_dependencies",
      [](const fs::path& pyproject) -> std::optional<std::vector<std::pair<std::string, int>>> {
        auto deps = translate(PyExc_ValueError, [&] { return lock::read_dependencies(pyproject); });
        if (!deps) return std::nullopt;
        std::vector<std::pair<std::string, int>> out;
        for (const auto& d : *deps) out.emplace_back(d.repo_id, d.version);
        return out;
      },
      py::arg("pyproject"),
      "[tool.kernels.dependencies] of a pyproject.toml as [(repo_id, version)], None without the table.");
  m.def(
      "lock_project",
      [](const fs::path& project_dir, const std::string& user_agent, const std::string& format, bool migrate) {
        std::error_code ec;
        if (!fs::is_regular_file(project_dir / "pyproject.toml", ec))
          raise(PyExc_FileNotFoundError, "No pyproject.toml found in: " + project_dir.string());
        if (format != "structured" && format != "legacy")
          raise(PyExc_ValueError, "Unknown lock format '" + format + "' (structured or legacy)");
        if (migrate && format != "structured") raise(PyExc_ValueError, "A legacy lock migrates to the structured format");
        std::vector<std::string> warnings;
        std::mutex warnings_mutex;
        lock::ProjectLock result = translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;  // kernels are resolved concurrently over the network
          lock::LockOptions options;
          options.warn = [&](const std::string& message) {
            std::lock_guard<std::mutex> hold(warnings_mutex);
            warnings.push_back(message);
          };
          options.format = format == "legacy" ? lock::LockFormat::Legacy : lock::LockFormat::Structured;
          if (migrate) options.pinned_commits = lock::legacy_commits(project_dir / std::string(lock::kLockFileName));
          return lock::lock_project(*open_hub(user_agent), project_dir, options);
        });
        py::list deps;
        for (const auto& d : result.dependencies) deps.append(py::make_tuple(d.repo_id, d.version));
        py::dict out;
        out["lock_path"] = result.lock_path;
        out["declared"] = result.declared;
        out["dependencies"] = deps;
        out["locks"] = result.locks;
        out["warnings"] = warnings;
        return out;
      },
      py::arg("project_dir"), py::arg("user_agent") = "", py::arg("format") = "structured", py::arg("migrate") = false,
      "Locks PROJECT_DIR's [tool.kernels.dependencies] into PROJECT_DIR/kernels.lock -> {lock_path, declared, "
      "dependencies, locks, warnings}: `format` structured (kernels >= 0.17, with the kernel dependency trees) or "
      "legacy (kernels <= 0.16, with variant hashes); `migrate` keeps the commits of the legacy lock there. Without "
      "the table nothing is written (declared False).");
  m.def(
      "download_locked",
      [](const lock::KernelLock& k, const std::optional<resolve::Environment>& env, bool all_variants,
         bool local_files_only, const std::string& user_agent) {
        if (!all_variants && !env) raise(PyExc_ValueError, "an environment is needed unless all_variants is set");
        std::vector<lock::DownloadedVariant> got = translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          lock::DownloadOptions options;
          options.cache_root = cache::default_cache_root();
          if (env) options.env = *env;
          options.all_variants = all_variants;
          options.local_files_only = local_files_only;
          return lock::download_locked(*open_hub(user_agent), k, options);
        });
        std::vector<std::pair<std::string, fs::path>> out;
        for (const auto& v : got) out.emplace_back(v.variant, v.dir);
        return out;
      },
      py::arg("lock"), py::arg("env"), py::arg("all_variants") = false, py::arg("local_files_only") = false,
      py::arg("user_agent") = "",
      "Fetches a lock entry at its sha (the variant for `env`, or every locked variant) and verifies it; a "
      "variant that fails is removed from the cache. -> [(variant, dir)]; ValueError naming what failed.");
  m.def(
      "verify_variant_dir",
      [](const fs::path& dir, const std::string& repo_id, const std::string& variant,
         const lock::VariantLock& expected) {
        translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          lock::verify_variant_dir(dir, repo_id, variant, expected);
        });
      },
      py::arg("dir"), py::arg("repo_id"), py::arg("variant"), py::arg("expected"),
      "ValueError naming the files at fault unless the cached variant directory is exactly what `expected` locks.");
  m.def(
      "variant_dir_hash",
      [](const fs::path& dir) {
        return translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          return lock::scan_variant_dir(dir).hash();
        });
      },
      py::arg("dir"), "The git_lfs_concat hash of a cached variant directory's content.");
}

}  // namespace kb::python
