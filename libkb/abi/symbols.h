#pragma once
// Reading the facts the ABI policies need out of a shared object: which
// symbols it leaves for the loader to resolve (with their symbol versions),
// its architecture and, for Mach-O, its minimum macOS version. Everything
// else in libkb/abi works on these plain values, so the policies can be
// tested without binaries.
#include <filesystem>
#include <optional>
#include <string>
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
  // Mach-O only: minos of the first LC_BUILD_VERSION command, if any.
  std::optional<Version> macos_min;
};

std::string to_string(ObjectFormat format);

// Throws kb::Error naming the file when it cannot be read, is not an ELF or
// Mach-O object ("unsupported file format: PE/COFF", ...), or fails to parse.
ObjectInfo read_object(const std::filesystem::path& file);

}  // namespace kb::abi
