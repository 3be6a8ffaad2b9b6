#include "libkb/abi/policy.h"

#include <algorithm>

#include "libkb/abi/symbols.h"
#include "libkb/runtime/tvm_ffi_exports.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::abi {

namespace {

constexpr std::string_view kDataDir = "abi/data/";
constexpr std::string_view kManylinuxPrefix = "abi/data/manylinux_";

// The two whitespace-separated fields of each non-comment line, with line numbers.
struct Row {
  size_t line;
  std::string first, second;
};

std::vector<Row> parse_rows(std::string_view text, const std::string& source, std::string_view format) {
  std::vector<Row> rows;
  size_t number = 0;
  for (const std::string& raw : split(text, '\n')) {
    ++number;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    for (std::string& f : split(replace_all(line, "\t", " "), ' '))
      if (!f.empty()) fields.push_back(std::move(f));
    if (fields.size() != 2)
      throw Error(source + ":" + std::to_string(number) + ": expected `" + std::string(format) + "`, got `" +
                  line + "`");
    rows.push_back({number, std::move(fields[0]), std::move(fields[1])});
  }
  return rows;
}

std::optional<Version> try_version(std::string_view text) {
  try {
    return Version::parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// "manylinux_2_28" -> 2.28, for ordering policy names.
Version policy_order(const std::string& name) {
  std::optional<Version> v = try_version(replace_all(name.substr(name.find('_') + 1), "_", "."));
  return v ? *v : Version();
}

std::string display(const Version& v) { return v.parts().size() <= 2 ? v.major_minor() : v.str(); }

// "NAME ADDED" tables: the stable ABI symbols with the version that added them.
std::map<std::string, Version, std::less<>> parse_added(std::string_view text, const std::string& source) {
  std::map<std::string, Version, std::less<>> added;
  for (Row& row : parse_rows(text, source, "NAME ADDED")) {
    std::optional<Version> v = try_version(row.second);
    if (!v)
      throw Error(source + ":" + std::to_string(row.line) + ": `" + row.second + "` is not a version");
    added[row.first] = *v;
  }
  return added;
}

std::string_view without_version(const std::string& symbol) {
  return std::string_view(symbol).substr(0, symbol.find('@'));
}

// The C++ entity a demangled name is about: "typeinfo for c10::Error" and
// "non-virtual thunk to at::Foo::bar()" belong to c10::Error and at::Foo.
std::string_view cpp_entity(std::string_view demangled) {
  static constexpr std::string_view kSpecial[] = {"vtable for ",
                                                  "typeinfo for ",
                                                  "typeinfo name for ",
                                                  "VTT for ",
                                                  "construction vtable for ",
                                                  "guard variable for ",
                                                  "non-virtual thunk to ",
                                                  "virtual thunk to ",
                                                  "covariant return thunk to ",
                                                  "TLS init function for ",
                                                  "TLS wrapper function for ",
                                                  "transaction clone for "};
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view prefix : kSpecial) {
      if (demangled.starts_with(prefix)) {
        demangled.remove_prefix(prefix.size());
        stripped = true;
      }
    }
  }
  return demangled;
}

// The leading namespaces of an Itanium nested name, "c10::detail::" for
// _ZN3c106detail...: a template function's demangled text starts with its
// return type ("float* at::TensorBase::data_ptr<float>() const"), its mangled
// name with its scope. At most two levels, enough to tell torch::stable apart.
std::string mangled_scope(std::string_view name) {
  if (!name.starts_with("_Z")) return {};
  name.remove_prefix(2);
  for (std::string_view special : {"TV", "TI", "TS", "TT", "GV", "TH", "TW"}) {
    if (name.starts_with(special)) {
      name.remove_prefix(special.size());
      break;
    }
  }
  if (!name.starts_with("N")) return {};
  name.remove_prefix(1);
  while (!name.empty() && std::string_view("rVKRO").find(name[0]) != std::string_view::npos) name.remove_prefix(1);
  std::string scope;
  for (int level = 0; level < 2 && !name.empty() && name[0] >= '0' && name[0] <= '9'; ++level) {
    size_t length = 0, digits = 0;
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9')
      length = length * 10 + static_cast<size_t>(name[digits++] - '0');
    if (length == 0 || digits + length > name.size()) break;
    scope += std::string(name.substr(digits, length)) + "::";
    name.remove_prefix(digits + length);
  }
  return scope;
}

// A C++ symbol: its demangled text, the entity it is about and its scope.
struct CxxName {
  std::string readable;
  std::string entity;
  std::string scope;
  bool in(std::string_view ns) const { return entity.starts_with(ns) || scope.starts_with(ns); }
};

std::optional<CxxName> cxx_name(const std::string& symbol) {
  std::string readable = demangle(symbol);
  if (readable.empty()) return std::nullopt;
  std::string entity(cpp_entity(readable));
  return CxxName{std::move(readable), std::move(entity), mangled_scope(without_version(symbol))};
}

bool is_torch(const CxxName& name) { return name.in("c10::") || name.in("at::") || name.in("torch::"); }

// libtorch's C++ API (not torch::stable::, which is header-only).
bool is_libtorch_cxx(const CxxName& name) { return !name.in("torch::stable::") && is_torch(name); }

}  // namespace

std::string to_string(ViolationKind kind) {
  switch (kind) {
    case ViolationKind::Manylinux: return "manylinux";
    case ViolationKind::PythonAbiNewer: return "python-abi-newer";
    case ViolationKind::PythonAbi3: return "python-abi3";
    case ViolationKind::MacOs: return "macos";
    case ViolationKind::TorchStableAbiNewer: return "torch-stable-abi-newer";
    case ViolationKind::TorchCxxAbi: return "torch-cxx-abi";
    case ViolationKind::TvmFfi: return "tvm-ffi";
  }
  return "unknown";
}

// --- manylinux -------------------------------------------------------------

std::vector<std::string> ManylinuxPolicy::known_names() {
  std::vector<std::string> names;
  for (std::string_view path : embedded_files_under(kManylinuxPrefix)) {
    std::string file(path.substr(kDataDir.size()));
    std::string name = file.substr(0, file.rfind('-'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return policy_order(a) < policy_order(b);
  });
  return names;
}

void ManylinuxPolicy::require_known(const std::string& name) {
  std::vector<std::string> known = known_names();
  if (std::find(known.begin(), known.end(), name) != known.end()) return;
  std::string message = "Unknown manylinux policy `" + name + "`";
  if (std::string close = closest_match(name, known); !close.empty())
    message += " (did you mean `" + close + "`?)";
  throw Error(message + "; known policies: " + join(known, ", "));
}

ManylinuxPolicy ManylinuxPolicy::load(const std::string& name, const std::string& arch) {
  require_known(name);
  const std::string path = std::string(kDataDir) + name + "-" + arch + ".txt";
  const auto& table = embedded_table();
  auto it = table.find(path);
  if (it == table.end()) {
    std::vector<std::string> covered;
    for (std::string_view p : embedded_files_under(std::string(kDataDir) + name + "-")) {
      std::string file(p.substr(kDataDir.size() + name.size() + 1));
      covered.push_back(file.substr(0, file.size() - 4));  // drop ".txt"
    }
    throw Error(name + " has no symbol versions for architecture " + arch + " (it covers " +
                join(covered, ", ") + ")");
  }
  return parse(it->second, name, arch, "libkb/" + path);
}

ManylinuxPolicy ManylinuxPolicy::parse(std::string_view text, std::string name, std::string arch,
                                       const std::string& source) {
  ManylinuxPolicy policy;
  policy.name_ = std::move(name);
  policy.arch_ = std::move(arch);
  for (Row& row : parse_rows(text, source, "DEPENDENCY VERSION")) {
    if (row.first == "LIBRARY") {
      policy.libraries_.insert(row.second);
      continue;
    }
    Allowed& allowed = policy.deps_[row.first];
    if (std::optional<Version> v = try_version(row.second))
      allowed.numeric.insert(*v);
    else
      allowed.symbolic.insert(row.second);
  }
  if (policy.deps_.empty()) throw Error(source + ": no symbol versions listed");
  return policy;
}

bool ManylinuxPolicy::allows_library(std::string_view soname) const {
  // The dynamic loader itself is on every system and never listed.
  if (soname.starts_with("ld-linux")) return true;
  return libraries_.count(soname) != 0;
}

bool ManylinuxPolicy::allows(std::string_view dep, std::string_view version) const {
  auto it = deps_.find(dep);
  if (it == deps_.end()) return true;
  if (it->second.symbolic.count(version)) return true;
  std::optional<Version> v = try_version(version);
  if (!v)
    throw Error(std::string(dep) + " version `" + std::string(version) + "` is neither numeric nor listed in " +
                name_);
  return it->second.numeric.count(*v) != 0;
}

std::vector<Violation> check_manylinux(const std::vector<std::string>& undefined,
                                       const ManylinuxPolicy& policy) {
  std::vector<Violation> out;
  for (const std::string& symbol : undefined) {
    size_t at = symbol.find('@');
    if (at == std::string::npos) continue;
    std::string_view tag = std::string_view(symbol).substr(at + 1);
    if (!tag.empty() && tag[0] == '@') tag.remove_prefix(1);  // "name@@VER"
    size_t underscore = tag.find('_');
    if (underscore == std::string_view::npos) continue;  // e.g. libcudart.so.12
    std::string_view dep = tag.substr(0, underscore);
    std::string_view version = tag.substr(underscore + 1);
    if (!policy.governs(dep)) continue;
    bool allowed;
    try {
      allowed = policy.allows(dep, version);
    } catch (const Error& e) {
      throw Error("symbol `" + symbol + "`: " + e.what());
    }
    if (!allowed)
      out.push_back({ViolationKind::Manylinux, symbol,
                     std::string(dep) + " " + std::string(version) + " is not allowed by " + policy.name() +
                         " (" + policy.arch() + ")"});
  }
  return out;
}

// --- Stable ABI tables, the Python stable ABI --------------------------------

StableAbiTable::StableAbiTable(std::string_view text, const std::string& source) : added_(parse_added(text, source)) {}

std::optional<Version> StableAbiTable::added(std::string_view name) const {
  auto it = added_.find(name);
  if (it == added_.end()) return std::nullopt;
  return it->second;
}

const PythonStableAbi& PythonStableAbi::builtin() {
  static const PythonStableAbi table =
      parse(embedded_file("abi/data/python-stable-abi.txt"), "libkb/abi/data/python-stable-abi.txt");
  return table;
}

std::vector<Violation> check_python_abi(const std::vector<std::string>& undefined,
                                        const PythonStableAbi& table, const Version& abi) {
  std::vector<Violation> out;
  for (const std::string& symbol : undefined) {
    std::string_view name = std::string_view(symbol).substr(0, symbol.find('@'));
    if (std::optional<Version> added = table.added(name)) {
      if (*added > abi)
        out.push_back({ViolationKind::PythonAbiNewer, symbol,
                       "added to the stable ABI in Python " + display(*added)});
    } else if (starts_with(name, "Py") || starts_with(name, "_Py")) {
      out.push_back({ViolationKind::PythonAbi3, symbol, "not part of the Python stable ABI (abi3)"});
    }
  }
  return out;
}

// --- Torch stable ABI -------------------------------------------------------

const TorchStableAbi& TorchStableAbi::builtin() {
  static const TorchStableAbi table =
      parse(embedded_file("abi/data/torch-stable-abi.txt"), "libkb/abi/data/torch-stable-abi.txt");
  return table;
}

std::vector<Violation> check_torch_stable_abi(const std::vector<std::string>& undefined, const TorchStableAbi& table,
                                              const Version& abi) {
  std::vector<Violation> out;
  for (const std::string& symbol : undefined) {
    const std::string_view name = without_version(symbol);
    if (std::optional<Version> added = table.added(name)) {
      if (*added > abi)
        out.push_back({ViolationKind::TorchStableAbiNewer, std::string(name),
                       "added to the Torch stable ABI in " + display(*added)});
      continue;
    }
    std::optional<CxxName> cxx = cxx_name(symbol);
    if (cxx && is_libtorch_cxx(*cxx))
      out.push_back(
          {ViolationKind::TorchCxxAbi, symbol, "libtorch C++ API, not the Torch stable ABI: " + cxx->readable});
  }
  return out;
}

// --- tvm-ffi -------------------------------------------------------------------

std::vector<Violation> check_tvm_ffi(const std::vector<std::string>& undefined,
                                     const std::vector<std::string>& exported, const std::vector<std::string>& needed) {
  std::vector<Violation> out;
  for (const std::string& symbol : undefined) {
    const std::string_view name = without_version(symbol);
    std::optional<CxxName> cxx = cxx_name(symbol);
    if (!cxx) {
      if (name.starts_with("aoti_torch_") || name.starts_with("torch_"))
        out.push_back({ViolationKind::TvmFfi, symbol, "needs torch: " + std::string(name)});
      continue;
    }
    if (cxx->in("tvm::ffi::"))
      out.push_back(
          {ViolationKind::TvmFfi, symbol,
           "uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases (use its TVMFFI* C API): " + cxx->readable});
    else if (is_torch(*cxx))
      out.push_back({ViolationKind::TvmFfi, symbol, "needs torch: " + cxx->readable});
  }
  for (const std::string& library : needed)
    if (library.starts_with("libtorch") || library.starts_with("libc10"))
      out.push_back({ViolationKind::TvmFfi, library, "needs torch: " + library});
  const bool exports_function = std::any_of(exported.begin(), exported.end(), [](const std::string& e) {
    return runtime::tvm_ffi_function_name(e).has_value();
  });
  if (!exports_function)
    out.push_back({ViolationKind::TvmFfi, "", "exports no tvm-ffi function (TVM_FFI_DLL_EXPORT_TYPED_FUNC)"});
  return out;
}

// --- macOS -------------------------------------------------------------------

std::vector<Violation> check_macos(const std::optional<Version>& minos, const Version& max) {
  if (!minos)
    return {{ViolationKind::MacOs, "", "records no minimum macOS version (LC_BUILD_VERSION is missing)"}};
  if (*minos > max)
    return {{ViolationKind::MacOs, "",
             "requires macOS " + display(*minos) + ", newer than " + display(max)}};
  return {};
}

}  // namespace kb::abi
