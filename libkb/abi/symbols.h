#pragma once
// Reading the facts the ABI policies need out of a shared object: which
// symbols it leaves for the loader to resolve (with their symbol versions),
// its architecture and, for Mach-O, its minimum macOS version. Everything
// else in libkb/abi works on these plain values, so the policies can be
// tested without binaries.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/util/version.h"

namespace kb::abi {

enum class ObjectFormat { Elf, MachO };

struct ObjectInfo {
  ObjectFormat format = ObjectFormat::Elf;
  // "x86_64", "aarch64", "i686", "ppc64le", ... (ELF e_machine; Mach-O CPU
  // type, where arm64 is spelled "aarch64" too).
  std::string arch;
  // Undefined symbols, sorted and unique. ELF: "name@VERSION" when the
  // reference carries a symbol version, otherwise "name"; collected from both
  // .symtab and .dynsym so stripping a library hides nothing. Mach-O: the
  // nlist name with its leading '_' removed.
  std::vector<std::string> undefined;
  // Functions and data the object lets others bind to, sorted and unique: ELF
  // .dynsym entries that are defined, global or weak, and visible (default or
  // protected), without their version; Mach-O: defined external nlist names
  // with the leading '_' removed.
  std::vector<std::string> exported;
  // Mach-O only: minos of the first LC_BUILD_VERSION command, if any.
  std::optional<Version> macos_min;
  // ELF only: the library each required symbol version comes from
  // ("GLIBC_2.34" -> "libc.so.6").
  std::map<std::string, std::string> version_files;
};

// DT_SONAME and DT_NEEDED of a 64-bit little-endian ELF shared library, read
// from its dynamic segment alone (cheap even for a 1 GB libtorch_cuda.so).
struct DynamicDependencies {
  std::string soname;
  std::vector<std::string> needed;
};
// Throws kb::Error naming the file when it is not such a library or is damaged.
DynamicDependencies read_dynamic_dependencies(const std::filesystem::path& library);

// One version under which a shared library defines a symbol; `is_default`
// for name@@VERSION (what a new link binds to), not for the older name@VERSION
// kept for programs linked against earlier releases.
struct SymbolDefinition {
  std::string version;
  bool is_default = false;
  bool is_function = false;
  friend bool operator==(const SymbolDefinition&, const SymbolDefinition&) = default;
};

// The versioned dynamic symbols a shared library defines (libc.so.6 lists
// pthread_once@GLIBC_2.2.5 and pthread_once@@GLIBC_2.34), by name. Throws
// kb::Error naming the file when it is not a readable ELF shared object.
std::map<std::string, std::vector<SymbolDefinition>> read_symbol_definitions(const std::filesystem::path& library);

std::string to_string(ObjectFormat format);

// The readable form of an Itanium-mangled C++ name ("_ZN3c104impl3fooEv" ->
// "c10::impl::foo()"); a symbol version suffix ("@GLIBCXX_3.4") is dropped
// first. "" for C names and for text that does not demangle.
std::string demangle(std::string_view symbol);

// Throws kb::Error naming the file when it cannot be read, is not an ELF or
// Mach-O object ("unsupported file format: PE/COFF", ...), or fails to parse.
ObjectInfo read_object(const std::filesystem::path& file);

}  // namespace kb::abi
