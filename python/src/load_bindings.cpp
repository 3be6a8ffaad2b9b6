// The loaders' shared path (libkb/load): LOCAL_KERNELS, trust, revision,
// install, python-depends. Python supplies the facts (environment, whether a
// module is importable) and imports the directory it gets back.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "libkb/load/load.h"
#include "libkb/load/verify_signatures.h"
#include "python/src/bindings.h"

namespace kb::python {

namespace {

namespace fs = std::filesystem;

load::Context make_context(const resolve::Environment& env, const std::optional<std::string>& backend,
                           const std::string& detected_backend, bool local_files_only, const std::string& user_agent,
                           const std::optional<py::function>& importable) {
  auto parsed = config::parse_backend(detected_backend);
  if (!parsed) raise(PyExc_ValueError, "Unknown backend: " + detected_backend);
  load::Context ctx = load::make_context(env, *parsed);
  ctx.backend = backend;
  ctx.local_files_only = local_files_only;
  ctx.user_agent = user_agent;
  if (importable) {
    // Called from C++ with the GIL released around the whole load.
    const py::function& f = *importable;
    ctx.importable = [&f](const std::string& name) {
      py::gil_scoped_acquire gil;
      return f(name).cast<bool>();
    };
  }
  return ctx;
}

// The device facts of Python's detection: (capability (major, minor) or
// None, gcnArchName or None), asked only for builds that declare archs.
void set_device(load::Context& ctx, bool check_arch, const std::optional<py::function>& device) {
  ctx.check_arch = check_arch;
  if (!device) return;
  const py::function& f = *device;
  ctx.device = [&f] {
    py::gil_scoped_acquire gil;
    auto [capability, gcn] =
        f().cast<std::pair<std::optional<std::pair<long long, long long>>, std::optional<std::string>>>();
    load::DeviceArch out;
    if (capability) out.cuda = load::CudaCapability{capability->first, capability->second};
    out.rocm = gcn;
    return out;
  };
}

load::Trust make_trust(const py::object& trust_remote_code) {
  load::Trust trust;
  // A list is an allowlist of repo ids, as in the current kernels API.
  if (py::isinstance<py::list>(trust_remote_code)) {
    for (const py::handle& item : trust_remote_code) {
      if (!py::isinstance<py::str>(item))
        raise(PyExc_TypeError, "trust_remote_code must be a bool or a list of repository ids, got an item " +
                                   py::repr(item).cast<std::string>());
      trust.repos.push_back(item.cast<std::string>());
    }
  } else
    trust.all = py::bool_(trust_remote_code);
  return trust;
}

py::list warnings_list(const std::vector<load::Warning>& warnings) {
  py::list out;
  for (const auto& w : warnings)
    out.append(py::make_tuple(w.channel == load::Warning::Channel::VersionNotice ? "version"
                              : w.channel == load::Warning::Channel::Log         ? "log"
                                                                                 : "user",
                              w.message));
  return out;
}

}  // namespace

void bind_load(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const load::LoadError& e) {
      PyObject* type = e.kind() == load::ErrorKind::NotFound            ? PyExc_FileNotFoundError
                       : e.kind() == load::ErrorKind::MissingDependency ? PyExc_ImportError
                       : e.kind() == load::ErrorKind::Incompatible      ? PyExc_RuntimeError
                       : e.kind() == load::ErrorKind::Modified          ? PyExc_RuntimeError
                       : e.kind() == load::ErrorKind::Unsigned          ? PyExc_RuntimeError
                       : e.kind() == load::ErrorKind::Unauthorized      ? PyExc_PermissionError
                                                                        : PyExc_ValueError;
      // The warnings found before the failure travel with the exception
      // (`kb_warnings`), for the Python loader to show before it re-raises.
      py::object error = py::reinterpret_steal<py::object>(PyObject_CallFunction(type, "s", e.what()));
      if (!error) return;  // the Python error of the failed call stands
      error.attr("kb_warnings") = warnings_list(e.warnings);
      PyErr_SetObject(type, error.ptr());
    }
  });

  m.def(
      "verify_signatures",
      [](const std::string& target, const std::optional<int>& version, const std::optional<std::string>& revision,
         bool all_variants, bool filter_unsigned, bool filter_no_digest, bool json, const resolve::Environment& env,
         const std::string& detected_backend, bool local_files_only, const std::string& user_agent) {
        load::Context ctx = make_context(env, std::nullopt, detected_backend, local_files_only, user_agent, std::nullopt);
        load::VerifySignaturesRequest request{target, version, revision, all_variants, filter_unsigned,
                                              filter_no_digest, json};
        load::VerifySignaturesResult result;
        translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;  // fetches and hashes
          result = load::verify_signatures(request, ctx);
        });
        return py::make_tuple(result.out, result.exit_code);
      },
      py::kw_only(), py::arg("target"), py::arg("version") = py::none(), py::arg("revision") = py::none(),
      py::arg("all_variants") = false, py::arg("filter_unsigned") = false, py::arg("filter_no_digest") = false,
      py::arg("json") = false, py::arg("env"), py::arg("detected_backend"), py::arg("local_files_only") = false,
      py::arg("user_agent") = "",
      "`verify-signature` -> (stdout text, exit code): each variant's signature and digest checked (runtime spec "
      "9.4). ValueError when the target cannot be found or fetched.");
  py::class_<load::Located>(m, "Located", "A variant directory to load, and what the loader learned on the way.")
      .def_readonly("variant_dir", &load::Located::variant_dir)
      .def_readonly("variant", &load::Located::variant)
      .def_readonly("metadata", &load::Located::metadata)
      .def_readonly("repo_info", &load::Located::repo_info)
      .def_property_readonly("warnings", [](const load::Located& l) { return warnings_list(l.warnings); })
      .def_property_readonly(
          "dependencies",
          [](const load::Located& l) {
            py::list out;
            for (const auto& dep : l.dependencies) out.append(py::make_tuple(dep.repo_id, *dep.located));
            return out;
          },
          "[(repo_id, Located)]: the kernel dependencies, in metadata order, each with its own dependencies.");

  m.def(
      "locate",
      [](const std::string& repo_id, const std::optional<std::string>& revision, const std::optional<int>& version,
         const resolve::Environment& env, const std::optional<std::string>& backend,
         const std::string& detected_backend, const py::object& trust_remote_code, bool local_files_only,
         const std::string& user_agent, const std::optional<py::function>& importable, bool check_arch,
         const std::optional<py::function>& device, bool require_signature) {
        load::Context ctx = make_context(env, backend, detected_backend, local_files_only, user_agent, importable);
        set_device(ctx, check_arch, device);
        ctx.signature.require |= require_signature;
        load::Request request{repo_id, revision, version, make_trust(trust_remote_code)};
        py::gil_scoped_release release;
        return load::locate(request, ctx);
      },
      py::kw_only(), py::arg("repo_id"), py::arg("revision"), py::arg("version"), py::arg("env"),
      py::arg("backend") = py::none(), py::arg("detected_backend"), py::arg("trust_remote_code"),
      py::arg("local_files_only"), py::arg("user_agent") = "", py::arg("importable") = py::none(),
      py::arg("check_arch") = true, py::arg("device") = py::none(), py::arg("require_signature") = false,
      "get_kernel's path to a verified variant directory: LOCAL_KERNELS, trust, revision, install, python-depends. "
      "`env` is the detected environment, `backend` an override (not applied to LOCAL_KERNELS ids). "
      "ValueError, FileNotFoundError or ImportError as the existing runtime raises them; RuntimeError when the build "
      "needs a newer kernels API or (check_arch) cannot run on the device `device()` describes.");
  m.def(
      "locate_local",
      [](const fs::path& path, const resolve::Environment& env, const std::optional<std::string>& backend,
         const std::string& detected_backend, const std::optional<py::function>& importable,
         const py::object& trust_remote_code, bool local_files_only, const std::string& user_agent, bool check_arch,
         const std::optional<py::function>& device, bool require_signature) {
        load::Context ctx =
            make_context(env, backend, detected_backend, local_files_only, user_agent, importable);
        set_device(ctx, check_arch, device);
        ctx.signature.require |= require_signature;
        load::Trust trust = make_trust(trust_remote_code);
        py::gil_scoped_release release;
        return load::locate_local(path, ctx, trust);
      },
      py::kw_only(), py::arg("path"), py::arg("env"), py::arg("backend") = py::none(), py::arg("detected_backend"),
      py::arg("importable") = py::none(), py::arg("trust_remote_code") = false, py::arg("local_files_only") = false,
      py::arg("user_agent") = "", py::arg("check_arch") = true, py::arg("device") = py::none(),
      py::arg("require_signature") = false,
      "The variant directory of a local kernel for `env`, python-depends checked; its kernel dependencies are "
      "located as get_kernel locates them (LOCAL_KERNELS, then the hub with `trust_remote_code`).");
  m.def(
      "locate_locked",
      [](const lock::KernelLock& entry, const resolve::Environment& env, const std::optional<std::string>& backend,
         const std::string& detected_backend, bool local_files_only, const std::string& user_agent,
         const std::optional<py::function>& importable, const std::vector<lock::KernelLock>& locks,
         const py::object& trust_remote_code, bool check_arch, const std::optional<py::function>& device,
         bool require_signature) {
        load::Context ctx = make_context(env, backend, detected_backend, local_files_only, user_agent, importable);
        set_device(ctx, check_arch, device);
        ctx.signature.require |= require_signature;
        load::Trust trust = make_trust(trust_remote_code);
        py::gil_scoped_release release;  // fetches, and hashes every file of the variant
        return load::locate_locked(entry, ctx, locks, trust);
      },
      py::kw_only(), py::arg("entry"), py::arg("env"), py::arg("backend") = py::none(), py::arg("detected_backend"),
      py::arg("local_files_only"), py::arg("user_agent") = "", py::arg("importable") = py::none(),
      py::arg("locks") = std::vector<lock::KernelLock>{}, py::arg("trust_remote_code") = false,
      py::arg("check_arch") = true, py::arg("device") = py::none(), py::arg("require_signature") = false,
      "The variant of a locked kernel for `env` at the locked commit, in the cache and checked against the lock (an "
      "altered cached copy is fetched again). FileNotFoundError when it cannot be found or fetched, ValueError when "
      "the lock does not cover it or its files differ from the lock.");
  m.def(
      "hub_variant_metadata",
      [](const std::string& repo_id, const std::string& revision, const std::string& variant,
         const std::string& user_agent) -> std::optional<metadata::Metadata> {
        std::string path = "build/" + variant + "/metadata.json";
        std::optional<std::string> text = translate(PyExc_ValueError, [&] {
          py::gil_scoped_release release;
          return open_hub(user_agent)->read_repo_file(repo_id, revision, path);
        });
        if (!text) return std::nullopt;
        return translate(PyExc_ValueError, [&] { return metadata::parse_metadata(*text, repo_id + "/" + path); });
      },
      py::kw_only(), py::arg("repo_id"), py::arg("revision"), py::arg("variant"), py::arg("user_agent") = "",
      "The metadata.json of a variant of `repo_id` at `revision` on the hub, None when it has none.");
  m.def(
      "arch_refusal",
      [](const metadata::Metadata& metadata, const std::string& variant,
         const std::optional<py::function>& device) -> std::optional<std::string> {
        load::Context ctx;
        set_device(ctx, true, device);
        try {
          load::check_device_arch(metadata, variant, ctx);
        } catch (const load::LoadError& e) {
          if (e.kind() != load::ErrorKind::Incompatible) throw;
          return std::string(e.what());
        }
        return std::nullopt;
      },
      py::kw_only(), py::arg("metadata"), py::arg("variant"), py::arg("device") = py::none(),
      "Why the build `metadata` describes cannot run on the device `device()` describes (the loaders' RuntimeError "
      "message), or None.");
  m.def(
      "select_revision",
      [](const std::string& repo_id, const std::optional<std::string>& revision, const std::optional<int>& version,
         bool local_files_only, const std::string& user_agent) {
        load::Context ctx = load::make_context({}, config::Backend::Cpu);
        ctx.local_files_only = local_files_only;
        ctx.user_agent = user_agent;
        std::vector<load::Warning> warnings;
        std::string selected;
        {
          py::gil_scoped_release release;
          selected = load::select_revision(repo_id, revision, version, ctx, warnings);
        }
        return py::make_tuple(selected, warnings_list(warnings));
      },
      py::kw_only(), py::arg("repo_id"), py::arg("revision"), py::arg("version"), py::arg("local_files_only"),
      py::arg("user_agent") = "", "(revision, warnings): `revision`, or the commit of branch v<version>.");
}

}  // namespace kb::python
