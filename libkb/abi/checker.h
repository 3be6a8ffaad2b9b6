#pragma once
// Checking built kernels: every shared object of a variant against the
// manylinux policy (ELF), the macOS minimum (Mach-O) and the Python stable
// ABI, with a structured report that renders as text for people and as the
// "abi-checked" event for tools. Variants built for the Torch stable ABI
// (torch-stable-abi<MM>-...) are also checked against that ABI version, and
// tvm-ffi variants (tvm-ffi<MM>-...) against tvm-ffi's rules.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/abi/policy.h"
#include "libkb/util/version.h"

namespace kb::abi {

struct CheckOptions {
  std::string manylinux = "manylinux_2_28";
  Version python_abi = Version({3, 9});
  Version macos = Version({15});
  // Torch stable ABI version to check against; when unset, a variant named
  // torch-stable-abi<MM>-... is checked against its own version.
  std::optional<Version> torch_stable_abi;
  // Apply the tvm-ffi rules to every object, not only to tvm-ffi variants.
  bool tvm_ffi = false;
};

// `options` with the checks the variant's name calls for: the Torch stable
// ABI version of a torch-stable-abi variant (unless options set one) and the
// tvm-ffi rules for a tvm-ffi variant. Other names change nothing.
CheckOptions options_for_variant(const CheckOptions& options, std::string_view variant);

struct FileReport {
  std::filesystem::path path;  // the file as checked
  std::string name;            // for display: relative to the variant directory
  std::string format;          // "ELF" / "Mach-O"; empty when the file could not be read
  std::string arch;
  std::vector<Violation> violations;
  std::string error;  // non-empty: the file could not be checked (counts as a failure)
  // The Torch stable ABI version and tvm-ffi rules the file was checked against.
  std::optional<Version> torch_stable_abi;
  bool tvm_ffi = false;
  bool ok() const { return error.empty() && violations.empty(); }
};

struct VariantReport {
  std::string variant;        // variant name (the directory name by default)
  std::filesystem::path dir;  // the variant directory
  std::vector<FileReport> files;
  std::string error;  // non-empty: the directory itself could not be checked
  // What the variant was checked against besides `options` (options_for_variant).
  std::optional<Version> torch_stable_abi;
  bool tvm_ffi = false;
  bool ok() const;
  // Violations plus files that could not be checked.
  size_t problem_count() const;
};

// Checks one object file; never throws for problems with the file itself
// (they land in FileReport::error). `name` defaults to the file name.
FileReport check_file(const std::filesystem::path& file, const CheckOptions& options, std::string name = {});

// A policy version as reports print it: "3.9", "15.0", "2.17.1".
std::string version_text(const Version& v);

// The regular *.so / *.pyd files under `dir`, recursively, in path order
// (symlinks are not followed, so no file is listed twice); kb::Error when
// the directory cannot be walked.
std::vector<std::filesystem::path> shared_objects(const std::filesystem::path& dir);

// Checks every file shared_objects(dir) lists, with options_for_variant(options, variant).
VariantReport check_variant(const std::filesystem::path& dir, const CheckOptions& options, std::string variant = {});

// What a command-line argument names: a single object file; a variant
// directory (it holds metadata.json); or a kernel directory whose variants
// are discovered (result/, build/, itself). Throws kb::Error when no variants
// are found or the path does not exist.
std::vector<VariantReport> check_path(const std::filesystem::path& path, const CheckOptions& options);

// Human-readable reports (UTF-8, one line per finding, ending in '\n').
std::string render_text(const FileReport& file, const CheckOptions& options);
std::string render_text(const VariantReport& report, const CheckOptions& options);

// The problems of a report in one line, e.g. "2 symbol(s) beyond
// manylinux_2_28, 1 symbol(s) outside the Python stable ABI, 1 symbol(s)
// outside the Torch stable ABI 2.11"; "" when ok.
std::string summarize_problems(const VariantReport& report, const CheckOptions& options);

// The fields of the "abi-checked" event (everything but "event" and "tool"):
// variant, dir, ok, portable, policy, python_abi, torch_stable_abi?, tvm_ffi?,
// files[{file, ok, format, arch, violations[{kind, symbol, detail}], error?}],
// error?.
nlohmann::json abi_checked_fields(const VariantReport& report, const CheckOptions& options);

}  // namespace kb::abi
