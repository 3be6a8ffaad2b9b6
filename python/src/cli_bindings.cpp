// What the `kernels` command-line commands share with the kb tools: the
// cache listing (`kernels cache ls` = `kb cache ls`), the symbols.json rules
// (`kernels describe-api` reads what kb-symbols writes), variant backends.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "libkb/cache/audit.h"
#include "libkb/cache/listing.h"
#include "libkb/config/config.h"
#include "libkb/symbols/symbols.h"
#include "libkb/variant/variant.h"
#include "python/src/bindings.h"

namespace kb::python {

void bind_cli(py::module_& m) {
  m.def(
      "cache_ls",
      [](const std::optional<std::filesystem::path>& cache_dir, bool json, bool show_warnings, bool no_truncate,
         const std::optional<int>& columns) {
        cache::CacheLsRequest request;
        request.cache_dir = cache_dir;
        request.json = json;
        request.show_warnings = show_warnings;
        request.no_truncate = no_truncate;
        request.columns = columns;
        cache::CacheLsResult result;
        {
          py::gil_scoped_release release;  // hashes every cached file
          result = cache::cache_ls(request);
        }
        return py::make_tuple(result.out, result.err, result.exit_code);
      },
      py::kw_only(), py::arg("cache_dir") = py::none(), py::arg("json") = false, py::arg("show_warnings") = false,
      py::arg("no_truncate") = false, py::arg("columns") = py::none(),
      "`cache ls` -> (stdout text, stderr text, exit code): the kernel versions in the cache, their variants and "
      "whether their files match the hub's hashes.");
  m.def(
      "cache_verify",
      [](const std::optional<std::filesystem::path>& cache_dir, bool repair, bool json, bool progress) {
        cache::CacheVerifyRequest request;
        request.cache_dir = cache_dir;
        request.repair = repair;
        request.json = json;
        request.progress = progress;
        cache::CacheVerifyResult result;
        {
          py::gil_scoped_release release;  // hashes every cached file
          result = cache::cache_verify(request);
        }
        return py::make_tuple(result.out, result.err, result.exit_code);
      },
      py::kw_only(), py::arg("cache_dir") = py::none(), py::arg("repair") = false, py::arg("json") = false,
      py::arg("progress") = false,
      "`cache verify` -> (stdout text, stderr text, exit code): every cached file re-hashed, the layout checked; "
      "with repair, what is wrong is removed.");
  m.def(
      "check_symbols",
      [](const std::string& text, const std::string& where) {
        translate(PyExc_ValueError, [&] {
          auto symbols = nlohmann::ordered_json::parse(text, nullptr, false);
          if (symbols.is_discarded()) throw Error("Invalid symbols.json at " + where + ": not JSON");
          symbols::check_symbols(symbols, where);
        });
      },
      py::arg("text"), py::arg("where"), "ValueError naming `where` unless `text` is a schema-1 symbols.json.");
  m.def(
      "variant_backend",
      [](const variant::Variant& v) {
        return v.is_arch() ? std::string(config::backend_name(v.compute().backend())) : v.noarch_backend();
      },
      py::arg("variant"), "The backend a variant is for: \"cuda\", \"cpu\", ... (noarch: the name after torch-).");
}

}  // namespace kb::python
