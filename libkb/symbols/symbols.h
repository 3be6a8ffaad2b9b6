#pragma once
// symbols.json: the public API of a built variant, written next to its
// metadata.json by `kb build` (kb-symbols) and read by `kernels describe-api`
// without importing the kernel. Schema 1, as the kernels package reads it:
//
//   {"schema_version": 1, "module": "<import name>",
//    "functions": [{"name", "qualname", "module", "kind": "function", "doc",
//                   "signature": {"parameters": [{"name", "kind", "default",
//                                 "annotation"}], "return_annotation"}}],
//    "layers": [{"name", "qualname", "module", "kind": "class", "doc",
//                "signature": null, "attributes": {"has_backward",
//                "can_torch_compile"}}]}
//
// Producing it means importing the variant, so it needs an interpreter whose
// torch can load the build; a variant that cannot be imported here gets no
// symbols.json (and a reason), never a failed build.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kb::symbols {

inline constexpr const char* kFileName = "symbols.json";

// Throws kb::Error naming `where` and the rule broken unless `symbols` is a
// schema-1 document: an object with schema_version 1, "functions" and
// "layers" lists of objects with a string "name", each layer's "attributes"
// an object of booleans or nulls.
void check_symbols(const nlohmann::ordered_json& symbols, const std::string& where);

struct SymbolsResult {
  std::filesystem::path path;          // <variant_dir>/symbols.json
  bool written = false;                // false: content unchanged, or skipped
  std::optional<std::string> skipped;  // why there is no symbols.json
  size_t functions = 0;
  size_t layers = 0;
};

// Imports `variant_dir` with `python` (as the package named by
// metadata.json's "id") and writes <variant_dir>/symbols.json atomically
// (left alone when unchanged). A variant that cannot be imported is skipped:
// `skipped` says why, and a stale symbols.json is removed so none describes
// another build. Throws kb::Error only when the file cannot be written.
SymbolsResult write_symbols(const std::filesystem::path& variant_dir, const std::filesystem::path& python);

}  // namespace kb::symbols
