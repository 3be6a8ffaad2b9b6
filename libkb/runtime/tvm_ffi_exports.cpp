#include "libkb/runtime/tvm_ffi_exports.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::runtime {

namespace fs = std::filesystem;

namespace {

// Reads byte ranges of one file, each checked against its size: a damaged
// library is an error, never a read past its end.
class FileReader {
 public:
  explicit FileReader(const fs::path& file) : file_(file), in_(file, std::ios::binary) {
    if (!in_) throw Error(file.string() + ": cannot open the kernel library");
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }

  std::string read(uint64_t offset, uint64_t length, std::string_view what) {
    if (offset > size_ || length > size_ - offset)
      throw Error(file_.string() + ": damaged ELF file: its " + std::string(what) + " lies outside the file");
    std::string out(length, '\0');
    in_.seekg(static_cast<std::streamoff>(offset));
    if (!in_.read(out.data(), static_cast<std::streamsize>(length)))
      throw Error(file_.string() + ": cannot read its " + std::string(what));
    return out;
  }

  uint64_t size() const { return size_; }

  template <typename T>
  T read_struct(uint64_t offset, std::string_view what) {
    std::string bytes = read(offset, sizeof(T), what);
    T out;
    std::memcpy(&out, bytes.data(), sizeof(T));
    return out;
  }

 private:
  fs::path file_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

}  // namespace

std::optional<std::string_view> tvm_ffi_function_name(std::string_view symbol) {
  if (!symbol.starts_with(kTvmFfiExportPrefix)) return std::nullopt;
  std::string_view name = symbol.substr(kTvmFfiExportPrefix.size());
  if (name.empty() || name.front() == '_') return std::nullopt;
  return name;
}

std::vector<std::string> tvm_ffi_exported_functions(const fs::path& library) {
  FileReader reader(library);
  std::string ident = reader.read(0, std::min<uint64_t>(reader.size(), EI_NIDENT), "ELF header");
  if (ident.size() < EI_NIDENT || std::memcmp(ident.data(), ELFMAG, SELFMAG) != 0)
    throw Error(library.string() + ": not an ELF shared object");
  if (ident[EI_CLASS] != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB)
    throw Error(library.string() + ": not a 64-bit little-endian ELF shared object");
  auto header = reader.read_struct<Elf64_Ehdr>(0, "ELF header");
  if (header.e_shentsize != sizeof(Elf64_Shdr))
    throw Error(library.string() + ": damaged ELF file: unexpected section header size");

  std::vector<Elf64_Shdr> sections(header.e_shnum);
  for (uint16_t i = 0; i < header.e_shnum; ++i)
    sections[i] = reader.read_struct<Elf64_Shdr>(header.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), "section table");

  std::vector<std::string> out;
  for (const Elf64_Shdr& symtab : sections) {
    if (symtab.sh_type != SHT_DYNSYM) continue;
    if (symtab.sh_link >= sections.size() || symtab.sh_entsize != sizeof(Elf64_Sym))
      throw Error(library.string() + ": damaged ELF file: unexpected dynamic symbol table");
    const Elf64_Shdr& strtab = sections[symtab.sh_link];
    std::string symbols = reader.read(symtab.sh_offset, symtab.sh_size, "dynamic symbol table");
    std::string names = reader.read(strtab.sh_offset, strtab.sh_size, "dynamic string table");
    for (size_t at = 0; at + sizeof(Elf64_Sym) <= symbols.size(); at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, symbols.data() + at, sizeof sym);
      const unsigned bind = ELF64_ST_BIND(sym.st_info), type = ELF64_ST_TYPE(sym.st_info);
      if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) || type != STT_FUNC) continue;
      if (sym.st_name >= names.size()) continue;
      if (auto name = tvm_ffi_function_name(names.c_str() + sym.st_name)) out.emplace_back(*name);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kb::runtime
