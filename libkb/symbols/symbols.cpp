#include "libkb/symbols/symbols.h"

#include <unistd.h>

#include <cctype>

#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::symbols {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// The name the variant is imported under: its build id (as the loaders use),
// else one made from the directory name.
std::string import_name(const fs::path& variant_dir) {
  try {
    Json metadata = Json::parse(read_file(variant_dir / "metadata.json"));
    if (metadata.is_object() && metadata.contains("id") && metadata["id"].is_string()) {
      std::string id = metadata["id"].get<std::string>();
      if (!id.empty()) return id;
    }
  } catch (const std::exception&) {
    // No usable metadata.json: the directory name will do.
  }
  std::string name = "_" + variant_dir.filename().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

void remove_stale(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

void check_symbols(const Json& symbols, const std::string& where) {
  if (!symbols.is_object() || !symbols.contains("schema_version") || symbols["schema_version"] != 1)
    throw Error("Unsupported symbols.json schema at " + where + "; expected schema_version 1");
  for (const char* group : {"functions", "layers"}) {
    bool ok = symbols.contains(group) && symbols[group].is_array();
    if (ok)
      for (const Json& entry : symbols[group])
        ok = ok && entry.is_object() && entry.contains("name") && entry["name"].is_string();
    if (!ok) throw Error("Invalid symbols.json at " + where + ": " + group + " must be a list of named symbols");
  }
  for (const Json& layer : symbols["layers"]) {
    bool ok = layer.contains("attributes") && layer["attributes"].is_object();
    if (ok)
      for (const auto& [_, value] : layer["attributes"].items()) ok = ok && (value.is_null() || value.is_boolean());
    if (!ok) throw Error("Invalid symbols.json at " + where + ": layer attributes must be booleans or null");
  }
}

SymbolsResult write_symbols(const fs::path& variant_dir, const fs::path& python) {
  SymbolsResult result;
  result.path = variant_dir / kFileName;
  auto skip = [&](std::string why) {
    remove_stale(result.path);
    result.skipped = std::move(why);
    return result;
  };
  if (python.empty() || ::access(python.c_str(), X_OK) != 0)
    return skip("no Python interpreter to import it with" + (python.empty() ? "" : " (" + python.string() + ")"));
  std::error_code ec;
  if (!fs::is_regular_file(variant_dir / "__init__.py", ec)) return skip("it has no __init__.py to import");

  ProcessSpec spec;
  // -B: importing must not leave bytecode in the variant (its digest covers every file).
  spec.argv = {python.string(),
               "-I",
               "-B",
               "-c",
               std::string(embedded_file("symbols/data/symbols.py")),
               fs::absolute(variant_dir).string(),
               import_name(variant_dir)};
  spec.cwd = fs::temp_directory_path();
  ProcessResult run = run_process(spec);
  if (!run.ok()) {
    std::string reason = trim(run.err);
    if (reason.empty()) reason = "exit " + std::to_string(run.exit_code);
    std::vector<std::string> lines = split(reason, '\n');
    return skip("cannot import it with " + python.string() + ": " + lines.back());
  }
  Json symbols = Json::parse(run.out, nullptr, false);
  try {
    if (symbols.is_discarded()) throw Error("the symbol extractor printed no JSON");
    check_symbols(symbols, result.path.string());
  } catch (const Error& e) {
    return skip(e.what());
  }
  result.functions = symbols["functions"].size();
  result.layers = symbols["layers"].size();
  result.written = write_file_if_changed(result.path, symbols.dump(2) + "\n");
  return result;
}

}  // namespace kb::symbols
