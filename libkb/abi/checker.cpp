#include "libkb/abi/checker.h"

#include <algorithm>

#include "libkb/abi/symbols.h"
#include "libkb/metadata/discover.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/variant/variant.h"

namespace kb::abi {

namespace fs = std::filesystem;

namespace {

bool is_checked_extension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".so" || ext == ".pyd";
}

std::string symbol_line(const Violation& v) {
  std::string line = "    " + v.symbol;
  if (std::string readable = demangle(v.symbol); !readable.empty()) line += "  (" + readable + ")";
  return line + "\n";
}

// The Torch stable ABI version a report names: the variant's, else the option's.
std::optional<Version> torch_stable_abi_of(const VariantReport& report, const CheckOptions& options) {
  if (report.torch_stable_abi) return report.torch_stable_abi;
  for (const FileReport& f : report.files)
    if (f.torch_stable_abi) return f.torch_stable_abi;
  return options.torch_stable_abi;
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

CheckOptions options_for_variant(const CheckOptions& options, std::string_view variant) {
  CheckOptions out = options;
  std::optional<variant::Variant> parsed = variant::Variant::try_parse(variant);
  if (!parsed) return out;
  if (parsed->kind() == variant::Kind::TorchStableAbi && !out.torch_stable_abi)
    out.torch_stable_abi = parsed->framework_version();
  if (parsed->kind() == variant::Kind::TvmFfi) out.tvm_ffi = true;
  return out;
}

FileReport check_file(const fs::path& file, const CheckOptions& options, std::string name) {
  FileReport report;
  report.path = file;
  report.name = name.empty() ? file.filename().string() : std::move(name);
  report.torch_stable_abi = options.torch_stable_abi;
  report.tvm_ffi = options.tvm_ffi;
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
    if (options.torch_stable_abi)
      for (Violation& v : check_torch_stable_abi(info.undefined, TorchStableAbi::builtin(), *options.torch_stable_abi))
        report.violations.push_back(std::move(v));
    if (options.tvm_ffi) {
      std::vector<std::string> needed;
      if (info.format == ObjectFormat::Elf) needed = read_dynamic_dependencies(file).needed;
      for (Violation& v : check_tvm_ffi(info.undefined, info.exported, needed))
        report.violations.push_back(std::move(v));
    }
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

VariantReport check_variant(const fs::path& dir, const CheckOptions& general, std::string variant) {
  VariantReport report;
  report.dir = dir;
  report.variant = variant.empty() ? dir.filename().string() : std::move(variant);
  const CheckOptions options = options_for_variant(general, report.variant);
  report.torch_stable_abi = options.torch_stable_abi;
  report.tvm_ffi = options.tvm_ffi;
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
    // A file inside a variant directory is checked as that variant's.
    const CheckOptions file_options = options_for_variant(options, report.variant);
    report.torch_stable_abi = file_options.torch_stable_abi;
    report.tvm_ffi = file_options.tvm_ffi;
    report.files.push_back(check_file(path, file_options));
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
    if (file.torch_stable_abi)
      out +=
          "🔥 Checking for compatibility with Torch stable ABI version " + version_text(*file.torch_stable_abi) + "\n";
    if (file.tvm_ffi) out += "🧩 Checking the tvm-ffi ABI rules\n";
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
  // Newer shims and libtorch C++ symbols share one block.
  std::string torch_body;
  for (const Violation& v : file.violations) {
    if (v.kind == ViolationKind::TorchStableAbiNewer) torch_body += "    " + v.symbol + ": " + v.detail + "\n";
    if (v.kind == ViolationKind::TorchCxxAbi) torch_body += "    " + demangle(v.symbol) + "\n";
  }
  if (!torch_body.empty())
    out += "⛔ Non-stable Torch ABI symbols found (incompatible with Torch stable ABI " +
           (file.torch_stable_abi ? version_text(*file.torch_stable_abi) : std::string("?")) + "):\n" + torch_body;
  group(ViolationKind::TvmFfi, "tvm-ffi ABI violations:", [](const Violation& v) { return "    " + v.detail + "\n"; });
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
  size_t counts[7] = {};
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
  if (std::optional<Version> torch = torch_stable_abi_of(report, options))
    add(counts[static_cast<size_t>(ViolationKind::TorchStableAbiNewer)] +
            counts[static_cast<size_t>(ViolationKind::TorchCxxAbi)],
        "symbol(s) outside the Torch stable ABI " + version_text(*torch));
  add(counts[static_cast<size_t>(ViolationKind::TvmFfi)], "tvm-ffi ABI violation(s)");
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
  if (std::optional<Version> torch = torch_stable_abi_of(report, options))
    fields["torch_stable_abi"] = version_text(*torch);
  if (report.tvm_ffi || options.tvm_ffi) fields["tvm_ffi"] = true;
  if (!report.error.empty()) fields["error"] = report.error;
  return fields;
}

}  // namespace kb::abi
