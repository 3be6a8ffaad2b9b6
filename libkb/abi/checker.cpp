#include "libkb/abi/checker.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "libkb/abi/symbols.h"
#include "libkb/metadata/discover.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"

namespace kb::abi {

namespace fs = std::filesystem;

namespace {

bool is_checked_extension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".so" || ext == ".pyd";
}

// "std::vector<int>::push_back(int const&)" for an Itanium-mangled name, or "".
std::string demangle(const std::string& symbol) {
  std::string name = symbol.substr(0, symbol.find('@'));
  if (name.rfind("_Z", 0) != 0) return {};
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> text(::abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status),
                                                   &std::free);
  return status == 0 && text ? std::string(text.get()) : std::string();
}

std::string symbol_line(const Violation& v) {
  std::string line = "    " + v.symbol;
  if (std::string readable = demangle(v.symbol); !readable.empty()) line += "  (" + readable + ")";
  return line + "\n";
}

}  // namespace

bool VariantReport::ok() const {
  return error.empty() && std::all_of(files.begin(), files.end(), [](const FileReport& f) { return f.ok(); });
}

size_t VariantReport::problem_count() const {
  size_t n = error.empty() ? 0 : 1;
  for (const FileReport& f : files) n += f.violations.size() + (f.error.empty() ? 0 : 1);
  return n;
}

FileReport check_file(const fs::path& file, const CheckOptions& options, std::string name) {
  FileReport report;
  report.path = file;
  report.name = name.empty() ? file.filename().string() : std::move(name);
  try {
    ObjectInfo info = read_object(file);
    report.format = to_string(info.format);
    report.arch = info.arch;
    if (info.format == ObjectFormat::Elf) {
      report.violations = check_manylinux(info.undefined, ManylinuxPolicy::load(options.manylinux, info.arch));
    } else {
      report.violations = check_macos(info.macos_min, options.macos);
    }
    for (Violation& v : check_python_abi(info.undefined, PythonStableAbi::builtin(), options.python_abi))
      report.violations.push_back(std::move(v));
  } catch (const Error& e) {
    report.violations.clear();
    report.error = e.what();
  }
  return report;
}

std::string version_text(const Version& v) { return v.parts().size() <= 2 ? v.major_minor() : v.str(); }

std::vector<fs::path> shared_objects(const fs::path& dir) {
  std::vector<fs::path> objects;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_symlink(entry_ec) || !it->is_regular_file(entry_ec)) continue;
    if (is_checked_extension(it->path())) objects.push_back(it->path());
  }
  if (ec) throw Error("cannot walk `" + dir.string() + "`: " + ec.message());
  std::sort(objects.begin(), objects.end());
  return objects;
}

VariantReport check_variant(const fs::path& dir, const CheckOptions& options, std::string variant) {
  VariantReport report;
  report.dir = dir;
  report.variant = variant.empty() ? dir.filename().string() : std::move(variant);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    report.error = "`" + dir.string() + "` is not a directory";
    return report;
  }
  std::vector<fs::path> objects;
  try {
    objects = shared_objects(dir);
  } catch (const Error& e) {
    report.error = e.what();
    return report;
  }
  for (const fs::path& object : objects)
    report.files.push_back(check_file(object, options, relative_slash_path(object, dir)));
  return report;
}

std::vector<VariantReport> check_path(const fs::path& path, const CheckOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("`" + path.string() + "` does not exist");
  if (!fs::is_directory(path, ec)) {
    VariantReport report;
    report.dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    report.variant = fs::absolute(path, ec).parent_path().filename().string();
    report.files.push_back(check_file(path, options));
    return {std::move(report)};
  }
  if (fs::is_regular_file(path / "metadata.json", ec)) return {check_variant(path, options)};
  std::vector<VariantReport> reports;
  for (const fs::path& dir : metadata::discover_variants(fs::canonical(path)).variants)
    reports.push_back(check_variant(dir, options));
  return reports;
}

std::string render_text(const FileReport& file, const CheckOptions& options) {
  std::string out = "🐍 Checking " + file.path.string();
  if (file.format.empty()) {
    out += "\n";
  } else {
    out += " (" + file.format + ", " + file.arch + ") for ";
    out += file.format == "ELF" ? options.manylinux : "macOS " + version_text(options.macos);
    out += " and Python ABI " + version_text(options.python_abi) + "\n";
  }
  if (!file.error.empty()) out += "⛔ Could not check this file: " + file.error + "\n";

  auto group = [&](ViolationKind kind, const std::string& header, auto&& line) {
    std::string body;
    for (const Violation& v : file.violations)
      if (v.kind == kind) body += line(v);
    if (!body.empty()) out += "⛔ " + header + "\n" + body;
  };
  group(ViolationKind::Manylinux, "Symbols incompatible with " + options.manylinux + ":", symbol_line);
  group(ViolationKind::PythonAbiNewer, "Symbols newer than Python ABI " + version_text(options.python_abi) + ":",
        [](const Violation& v) { return "    " + v.symbol + " (" + v.detail + ")\n"; });
  group(ViolationKind::PythonAbi3, "Symbols outside the Python stable ABI (abi3):", symbol_line);
  for (const Violation& v : file.violations)
    if (v.kind == ViolationKind::MacOs) out += "⛔ Shared object " + v.detail + "\n";
  if (file.ok()) out += "✅ No compatibility issues found\n";
  return out;
}

std::string render_text(const VariantReport& report, const CheckOptions& options) {
  if (!report.error.empty()) return "⛔ Could not check variant " + report.variant + ": " + report.error + "\n";
  if (report.files.empty())
    return "🐍 " + report.dir.string() + ": no shared objects (.so, .pyd) to check\n✅ No compatibility issues found\n";
  std::string out;
  for (const FileReport& file : report.files) out += render_text(file, options);
  return out;
}

std::string summarize_problems(const VariantReport& report, const CheckOptions& options) {
  if (!report.error.empty()) return "could not be checked: " + report.error;
  size_t counts[4] = {0, 0, 0, 0};
  size_t unreadable = 0;
  for (const FileReport& f : report.files) {
    if (!f.error.empty()) ++unreadable;
    for (const Violation& v : f.violations) ++counts[static_cast<size_t>(v.kind)];
  }
  std::vector<std::string> parts;
  auto add = [&](size_t n, const std::string& what) {
    if (n) parts.push_back(std::to_string(n) + " " + what);
  };
  add(counts[static_cast<size_t>(ViolationKind::Manylinux)], "symbol(s) beyond " + options.manylinux);
  add(counts[static_cast<size_t>(ViolationKind::PythonAbiNewer)],
      "symbol(s) newer than Python ABI " + version_text(options.python_abi));
  add(counts[static_cast<size_t>(ViolationKind::PythonAbi3)], "symbol(s) outside the Python stable ABI");
  add(counts[static_cast<size_t>(ViolationKind::MacOs)], "file(s) beyond macOS " + version_text(options.macos));
  add(unreadable, "file(s) that could not be checked");
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

nlohmann::json abi_checked_fields(const VariantReport& report, const CheckOptions& options) {
  nlohmann::json files = nlohmann::json::array();
  for (const FileReport& f : report.files) {
    nlohmann::json violations = nlohmann::json::array();
    for (const Violation& v : f.violations)
      violations.push_back({{"kind", to_string(v.kind)}, {"symbol", v.symbol}, {"detail", v.detail}});
    nlohmann::json entry = {{"file", f.name},
                            {"ok", f.ok()},
                            {"format", f.format},
                            {"arch", f.arch},
                            {"violations", std::move(violations)}};
    if (!f.error.empty()) entry["error"] = f.error;
    files.push_back(std::move(entry));
  }
  nlohmann::json fields = {{"variant", report.variant},   {"dir", report.dir.string()},
                           {"ok", report.ok()},           {"portable", report.ok()},
                           {"policy", options.manylinux}, {"python_abi", version_text(options.python_abi)},
                           {"files", std::move(files)}};
  if (!report.error.empty()) fields["error"] = report.error;
  return fields;
}

}  // namespace kb::abi
