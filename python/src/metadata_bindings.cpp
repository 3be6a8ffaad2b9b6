// metadata.json as the Python `Metadata` class (runtime spec 5.5 and 12):
// immutable objects whose properties mirror the existing kernels_data binding.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "libkb/config/config.h"
#include "libkb/metadata/metadata.h"
#include "libkb/metadata/zip_layout.h"
#include "python/src/bindings.h"

namespace kb::python {

namespace {

namespace fs = std::filesystem;
using metadata::Metadata;

// A validated kernel name; `python_name` is the importable spelling.
struct KernelName {
  std::string name;
};

KernelName make_kernel_name(const std::string& name) {
  translate(PyExc_ValueError, [&] { config::validate_kernel_name(name); });
  return {name};
}

// The text of `path`; an OSError (not FileNotFoundError: the existing
// binding raises plain OSError) when it cannot be read.
std::string read_text(const fs::path& path) {
  auto fail = [&](const std::string& why) -> std::string {
    raise(PyExc_OSError, "Failed to open `" + path.string() + "`: " + why);
  };
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(std::strerror(EISDIR));
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(std::strerror(errno));
  return text.str();
}

Metadata read_from_file(const fs::path& path) {
  std::string text = read_text(path);
  return translate(PyExc_ValueError, [&] { return metadata::parse_metadata(text, path.string()); });
}

Metadata from_bytes(const py::bytes& data) {
  std::string text = data;
  try {
    return metadata::parse_metadata(text, "<bytes>");
  } catch (const Error& e) {
    // The existing binding names no source for bytes.
    std::string message = e.what();
    const std::string prefix = "Cannot parse metadata from `<bytes>`: ";
    if (message.rfind(prefix, 0) == 0) message = "Cannot parse metadata: " + message.substr(prefix.size());
    raise(PyExc_ValueError, message);
  }
}

// upstream/source as the normalised git URL (SCP form becomes ssh://).
std::optional<std::string> normalized_url(const std::optional<std::string>& url) {
  if (!url) return std::nullopt;
  return config::parse_git_url(*url).normalized;
}

}  // namespace

void bind_metadata(py::module_& m) {
  py::class_<KernelName>(m, "KernelName", "A kernel name: lowercase letters, digits and '-'.")
      .def(py::init(&make_kernel_name), py::arg("name"))
      .def_property_readonly("python_name", [](const KernelName& n) { return config::python_module_name(n.name); })
      .def("__str__", [](const KernelName& n) { return n.name; })
      .def("__repr__", [](const KernelName& n) { return "KernelName('" + n.name + "')"; })
      .def(
          "__eq__", [](const KernelName& a, const KernelName& b) { return a.name == b.name; }, py::is_operator())
      .def("__hash__", [](const KernelName& n) { return py::hash(py::str(n.name)); });

  // py::enum_'s own __str__/__repr__ ("Backend.CUDA", "<Backend.CUDA: 2>")
  // are replaced by the existing binding's: str is the lowercase name.
  py::enum_<config::Backend> backend(m, "Backend");
  backend.value("CANN", config::Backend::Cann)
      .value("CPU", config::Backend::Cpu)
      .value("CUDA", config::Backend::Cuda)
      .value("Metal", config::Backend::Metal)
      .value("Neuron", config::Backend::Neuron)
      .value("ROCm", config::Backend::Rocm)
      .value("TPU", config::Backend::Tpu)
      .value("XPU", config::Backend::Xpu)
      .def_static("from_str", [](const std::string& s) {
        auto b = config::parse_backend(s);
        if (!b) raise(PyExc_ValueError, "Unknown backend: " + s);
        return *b;
      });
  py::setattr(
      backend, "__str__",
      py::cpp_function([](config::Backend b) { return std::string(config::backend_name(b)); }, py::is_method(backend)));
  py::setattr(backend, "__repr__",
              py::cpp_function([](py::object self) { return "Backend." + py::cast<std::string>(self.attr("name")); },
                               py::is_method(backend)));

  py::class_<metadata::BackendInfo>(m, "BackendInfo")
      .def_property_readonly(
          "backend_type",
          [](const metadata::BackendInfo& b) -> std::optional<config::Backend> {
            if (b.unknown_type)
              raise(PyExc_ValueError, "unknown backend, this kernel may require a newer version of `kernels`");
            if (b.agnostic) return std::nullopt;
            return b.type;
          },
          "The backend; None for a backend-agnostic build; ValueError for a type this version does not know.")
      .def_property_readonly("is_agnostic", [](const metadata::BackendInfo& b) { return b.agnostic; })
      .def_readonly("archs", &metadata::BackendInfo::archs);

  py::enum_<metadata::DigestAlgorithm> algorithm(m, "DigestAlgorithm");
  algorithm.value("SHA256", metadata::DigestAlgorithm::Sha256).value("SHA512", metadata::DigestAlgorithm::Sha512);
  py::setattr(
      algorithm, "__str__",
      py::cpp_function([](metadata::DigestAlgorithm a) { return std::string(metadata::digest_algorithm_name(a)); },
                       py::is_method(algorithm)));

  py::class_<metadata::Digest>(m, "Digest")
      .def_readonly("algorithm", &metadata::Digest::algorithm)
      // A copy: the digest stays immutable.
      .def_property_readonly("files", [](const metadata::Digest& d) { return d.files; });

  py::class_<git::CommitState>(m, "GitStatus")
      .def_readonly("commit", &git::CommitState::commit)
      .def_readonly("dirty", &git::CommitState::dirty);

  py::class_<metadata::BuilderProvenance>(m, "KernelBuilderVersion")
      .def_readonly("version", &metadata::BuilderProvenance::version)
      .def_readonly("git", &metadata::BuilderProvenance::git);

  py::class_<metadata::Provenance>(m, "Provenance")
      .def_readonly("kernel_builder", &metadata::Provenance::kernel_builder)
      .def_readonly("kernel", &metadata::Provenance::kernel)
      .def_property_readonly("dirty", &metadata::Provenance::dirty);

  py::class_<config::KernelDependency>(m, "KernelDependency")
      .def_readonly("repo_id", &config::KernelDependency::repo_id)
      .def_readonly("version", &config::KernelDependency::version)
      .def_readonly("revision", &config::KernelDependency::revision)
      .def("__repr__", [](const config::KernelDependency& d) {
        std::string spec =
            d.version ? "version=" + std::to_string(*d.version) : "revision='" + d.revision.value_or("") + "'";
        return "KernelDependency('" + d.repo_id + "', " + spec + ")";
      });

  py::enum_<config::BuildLayout>(m, "BuildLayout", "How a variant ships its Python package (metadata.json build-layout).")
      .value("FILES", config::BuildLayout::Files)
      .value("ZIP", config::BuildLayout::Zip);
  m.def(
      "check_zip_variant_archive",
      [](const std::filesystem::path& variant_dir, const Metadata& md) {
        metadata::check_zip_variant_archive(variant_dir, md);
      },
      py::arg("variant_dir"), py::arg("metadata"),
      "Checks a zip-layout variant's <id>.zip without extracting it (ValueError naming the archive and entry).");

  py::class_<Metadata>(m, "Metadata", "A variant's metadata.json.")
      .def_static("read_from_file", &read_from_file, py::arg("path"),
                  "Reads and validates a metadata.json (OSError when unreadable, ValueError when invalid).")
      .def_static("from_bytes", &from_bytes, py::arg("data"))
      .def_readonly("id", &Metadata::id)
      .def_property_readonly("name", [](const Metadata& md) { return KernelName{md.name}; })
      .def_readonly("version", &Metadata::version)
      .def_readonly("kernels_minver", &Metadata::kernels_minver)
      .def_readonly("build_layout", &Metadata::build_layout)
      .def_readonly("license", &Metadata::license)
      .def_property_readonly("upstream", [](const Metadata& md) { return normalized_url(md.upstream); })
      .def_property_readonly("source", [](const Metadata& md) { return normalized_url(md.source); })
      .def_property_readonly("python_depends", [](const Metadata& md) { return md.python_depends; })
      .def_property_readonly("kernel_depends", [](const Metadata& md) { return md.kernel_depends; })
      .def_readonly("backend", &Metadata::backend)
      .def_readonly("digest", &Metadata::digest)
      .def_readonly("provenance", &Metadata::provenance)
      .def("__repr__", [](const Metadata& md) {
        return "Metadata(name='" + md.name + "', id='" + md.id + "', version=" + std::to_string(md.version) + ")";
      });
}

}  // namespace kb::python
