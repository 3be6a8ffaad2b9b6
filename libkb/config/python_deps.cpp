// python-depends: names resolved against the curated table in
// data/python_dependencies.json. Validation is lazy (only when packaging
// files are generated), so parsing a build.toml never checks these names.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "libkb/config/config.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"

namespace kb::config {

namespace {

using Entries = std::map<std::string, std::vector<PythonPackage>, std::less<>>;

struct DependencyTable {
  Entries general;
  std::map<Backend, Entries> backends;  // a backend without an entry has no table at all
};

Entries read_entries(const nlohmann::json& object) {
  Entries out;
  for (const auto& [name, packages] : object.items()) {
    std::vector<PythonPackage> list;
    for (const auto& p : packages) {
      PythonPackage pkg{p.at("pip").get<std::string>(), std::nullopt};
      if (p.contains("import")) pkg.import_name = p.at("import").get<std::string>();
      list.push_back(std::move(pkg));
    }
    out.emplace(name, std::move(list));
  }
  return out;
}

const DependencyTable& dependency_table() {
  static const DependencyTable table = [] {
    auto json = nlohmann::json::parse(embedded_file("config/data/python_dependencies.json"));
    DependencyTable t;
    t.general = read_entries(json.at("general"));
    for (const auto& [name, entries] : json.at("backends").items()) {
      auto backend = parse_backend(name);
      if (!backend)
        throw Error("internal: unknown backend " + name + " in python_dependencies.json");
      t.backends.emplace(*backend, read_entries(entries));
    }
    return t;
  }();
  return table;
}

// Backends whose [general.<backend>] python-depends take part in packaging.
bool backend_python_depends_used(Backend b) {
  return b == Backend::Cuda || b == Backend::Tpu || b == Backend::Xpu;
}

std::string dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

const std::vector<PythonPackage>* find_python_dependency(std::string_view name,
                                                         std::optional<Backend> backend) {
  const auto& table = dependency_table();
  const Entries* entries = &table.general;
  if (backend) {
    auto it = table.backends.find(*backend);
    if (it == table.backends.end()) return nullptr;
    entries = &it->second;
  }
  auto it = entries->find(name);
  return it == entries->end() ? nullptr : &it->second;
}

std::vector<std::string> BuildConfig::python_depends_for(Backend b) const {
  const auto& table = dependency_table();
  std::vector<std::string> out;
  for (const auto& dep : general.python_depends) {
    if (!table.general.count(dep)) throw Error("Unknown dependency: `" + dq(dep) + "`");
    out.push_back(dep);
  }
  if (!backend_python_depends_used(b)) return out;
  auto listed = general.backend_python_depends.find(b);
  if (listed == general.backend_python_depends.end()) return out;
  for (const auto& dep : listed->second) {
    auto backend_table = table.backends.find(b);
    if (backend_table == table.backends.end())
      throw Error("No dependencies are defined for backend: " + dq(backend_name(b)));
    if (!backend_table->second.count(dep))
      throw Error("Unknown dependency `" + dq(dep) + "` for backend `" + dq(backend_name(b)) + "`");
    out.push_back(dep);
  }
  return out;
}

std::vector<std::string> BuildConfig::pip_packages_for(std::optional<Backend> b) const {
  std::vector<std::string> out;
  auto add = [&out](const std::vector<PythonPackage>& packages) {
    for (const auto& p : packages)
      if (std::find(out.begin(), out.end(), p.pip) == out.end()) out.push_back(p.pip);
  };
  if (!b) {
    for (const auto& dep : general.python_depends) {
      const auto* packages = find_python_dependency(dep, std::nullopt);
      if (!packages) throw Error("Unknown dependency: `" + dq(dep) + "`");
      add(*packages);
    }
    return out;
  }
  size_t general_count = general.python_depends.size();
  std::vector<std::string> names = python_depends_for(*b);
  for (size_t i = 0; i < names.size(); ++i)
    add(*find_python_dependency(names[i], i < general_count ? std::nullopt : b));
  return out;
}

}  // namespace kb::config
