#include "libkb/abi/symbols.h"

#include <LIEF/ELF.hpp>
#include <LIEF/MachO.hpp>
#include <LIEF/logging.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <fstream>
#include <mutex>
#include <set>

#include "libkb/util/error.h"

namespace kb::abi {

namespace {

enum class Magic { Elf, MachO, Pe, Unknown };

Magic sniff(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot open file");
  std::array<unsigned char, 4> b{};
  in.read(reinterpret_cast<char*>(b.data()), b.size());
  if (in.gcount() < 4) return Magic::Unknown;
  if (b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') return Magic::Elf;
  if (b[0] == 'M' && b[1] == 'Z') return Magic::Pe;
  uint32_t be = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  switch (be) {
    case 0xfeedface: case 0xfeedfacf:  // big-endian thin
    case 0xcefaedfe: case 0xcffaedfe:  // little-endian thin
    case 0xcafebabe:                   // universal (fat)
      return Magic::MachO;
    default:
      return Magic::Unknown;
  }
}

// LIEF 0.9 logs parser diagnostics to stderr by default; the checker reports
// problems itself.
void quiet_lief() {
  static std::once_flag once;
  std::call_once(once, [] { LIEF::Logger::disable(); });
}

std::string elf_arch(const LIEF::ELF::Header& header) {
  const auto machine = static_cast<unsigned>(header.machine_type());
  const bool little = header.identity_data() == LIEF::ELF::ELF_DATA::ELFDATA2LSB;
  switch (machine) {
    case 3: return "i686";
    case 21: return little ? "ppc64le" : "ppc64";
    case 22: return "s390x";
    case 40: return "armv7l";
    case 62: return "x86_64";
    case 183: return "aarch64";
    case 243: return "riscv64";
    case 258: return "loongarch64";
    default: return "e_machine " + std::to_string(machine);
  }
}

constexpr uint16_t kShnUndef = 0;

// LIEF reads what it can of a damaged file and returns fewer symbols rather
// than failing; a truncated library must not pass for a clean one.
void require_complete_elf(const LIEF::ELF::Binary& binary, const std::filesystem::path& file) {
  using LIEF::ELF::ELF_SECTION_TYPES;
  const uint64_t size = std::filesystem::file_size(file);
  auto corrupt = [&](const std::string& why) {
    throw Error(file.string() + ": truncated or corrupt ELF file: " + why);
  };
  const LIEF::ELF::Header& h = binary.header();
  if (h.header_size() == 0 || size < h.header_size()) corrupt("incomplete ELF header");
  if (h.numberof_sections() > 0 &&
      h.section_headers_offset() + uint64_t(h.numberof_sections()) * h.section_header_size() > size)
    corrupt("section headers extend past the end of the file");
  for (const LIEF::ELF::Section& s : binary.sections()) {
    const ELF_SECTION_TYPES t = s.type();
    const bool symbol_data = t == ELF_SECTION_TYPES::SHT_SYMTAB || t == ELF_SECTION_TYPES::SHT_DYNSYM ||
                             t == ELF_SECTION_TYPES::SHT_STRTAB || t == ELF_SECTION_TYPES::SHT_GNU_versym ||
                             t == ELF_SECTION_TYPES::SHT_GNU_verneed;
    if (symbol_data && s.offset() + s.size() > size)
      corrupt("section " + s.name() + " extends past the end of the file");
  }
}

ObjectInfo read_elf(const std::filesystem::path& file) {
  std::unique_ptr<LIEF::ELF::Binary> binary = LIEF::ELF::Parser::parse(file.string());
  if (!binary) throw Error(file.string() + ": cannot parse ELF file");
  require_complete_elf(*binary, file);
  ObjectInfo info;
  info.format = ObjectFormat::Elf;
  info.arch = elf_arch(binary->header());
  std::set<std::string> names;
  // GNU ld writes undefined references into .strtab already versioned
  // ("memcpy@GLIBC_2.14"), so .symtab names are taken as they are.
  for (const LIEF::ELF::Symbol& s : binary->static_symbols())
    if (s.shndx() == kShnUndef && !s.name().empty()) names.insert(s.name());
  // .dynsym survives `strip`; its versions come from .gnu.version/.gnu.version_r.
  for (const LIEF::ELF::Symbol& s : binary->dynamic_symbols()) {
    if (s.shndx() != kShnUndef || s.name().empty()) continue;
    std::string name = s.name();
    if (s.has_version() && s.symbol_version().has_auxiliary_version())
      name += "@" + s.symbol_version().symbol_version_auxiliary().name();
    names.insert(std::move(name));
  }
  info.undefined.assign(names.begin(), names.end());
  constexpr unsigned kStbGlobal = 1, kStbWeak = 2, kStbGnuUnique = 10;
  constexpr unsigned kStvDefault = 0, kStvProtected = 3;
  std::set<std::string> exported;
  for (const LIEF::ELF::Symbol& s : binary->dynamic_symbols()) {
    if (s.shndx() == kShnUndef || s.name().empty()) continue;
    const auto binding = static_cast<unsigned>(s.binding());
    const auto visibility = static_cast<unsigned>(s.visibility());
    if ((binding == kStbGlobal || binding == kStbWeak || binding == kStbGnuUnique) &&
        (visibility == kStvDefault || visibility == kStvProtected))
      exported.insert(s.name());
  }
  info.exported.assign(exported.begin(), exported.end());
  for (const LIEF::ELF::SymbolVersionRequirement& requirement : binary->symbols_version_requirement())
    for (const LIEF::ELF::SymbolVersionAuxRequirement& aux : requirement.auxiliary_symbols())
      info.version_files[aux.name()] = requirement.name();
  return info;
}

std::string macho_arch(const LIEF::MachO::Header& header) {
  const auto cpu = static_cast<uint32_t>(header.cpu_type());
  switch (cpu) {
    case 0x01000007: return "x86_64";
    case 0x0100000c: return "aarch64";
    case 7: return "i386";
    case 12: return "arm";
    default: return "cpu type " + std::to_string(cpu);
  }
}

constexpr uint32_t kLcBuildVersion = 0x32;
constexpr uint8_t kNStab = 0xe0;
constexpr uint8_t kNType = 0x0e;
constexpr uint8_t kNUndf = 0x00;
constexpr uint8_t kNSect = 0x0e;
constexpr uint8_t kNExt = 0x01;
constexpr uint8_t kNPext = 0x10;  // private external: not exported from the image

// minos of LC_BUILD_VERSION (struct build_version_command: cmd, cmdsize,
// platform, minos, ...), encoded xxxx.yy.zz in nibbles.
std::optional<Version> macos_min_version(const LIEF::MachO::Binary& binary) {
  for (const LIEF::MachO::LoadCommand& command : binary.commands()) {
    if (static_cast<uint32_t>(command.command()) != kLcBuildVersion) continue;
    const std::vector<uint8_t>& raw = command.data();
    if (raw.size() < 16) return std::nullopt;
    uint32_t minos = uint32_t(raw[12]) | (uint32_t(raw[13]) << 8) | (uint32_t(raw[14]) << 16) |
                     (uint32_t(raw[15]) << 24);
    return Version({minos >> 16, (minos >> 8) & 0xff, minos & 0xff});
  }
  return std::nullopt;
}

ObjectInfo read_macho(const std::filesystem::path& file) {
  std::unique_ptr<LIEF::MachO::FatBinary> fat = LIEF::MachO::Parser::parse(file.string());
  if (!fat || fat->size() == 0) throw Error(file.string() + ": cannot parse Mach-O file");
  ObjectInfo info;
  info.format = ObjectFormat::MachO;
  std::set<std::string> names, exported;
  bool minos_missing = false;
  // A universal binary is checked as the union of its slices: every slice
  // must load on the target, so the strictest facts count.
  for (const LIEF::MachO::Binary& binary : *fat) {
    if (!info.arch.empty()) info.arch += "+";
    info.arch += macho_arch(binary.header());
    for (const LIEF::MachO::Symbol& s : binary.symbols()) {
      if (s.origin() != LIEF::MachO::SYMBOL_ORIGINS::SYM_ORIGIN_LC_SYMTAB) continue;
      if ((s.type() & kNStab) != 0) continue;
      const bool undefined = (s.type() & kNType) == kNUndf;
      if (!undefined && ((s.type() & kNType) != kNSect || (s.type() & kNExt) == 0 || (s.type() & kNPext) != 0))
        continue;
      std::string name = s.name();
      if (!name.empty() && name[0] == '_') name.erase(0, 1);
      if (!name.empty()) (undefined ? names : exported).insert(std::move(name));
    }
    std::optional<Version> minos = macos_min_version(binary);
    if (!minos) minos_missing = true;
    else if (!info.macos_min || *minos > *info.macos_min) info.macos_min = minos;
  }
  if (minos_missing) info.macos_min.reset();
  info.undefined.assign(names.begin(), names.end());
  info.exported.assign(exported.begin(), exported.end());
  return info;
}

}  // namespace

DynamicDependencies read_dynamic_dependencies(const std::filesystem::path& library) {
  std::ifstream in(library, std::ios::binary);
  if (!in) throw Error(library.string() + ": cannot open file");
  auto fail = [&](const std::string& why) -> DynamicDependencies {
    throw Error(library.string() + ": cannot read its dynamic section: " + why);
  };
  auto read_at = [&](uint64_t offset, void* into, size_t size) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(static_cast<char*>(into), static_cast<std::streamsize>(size));
    return static_cast<size_t>(in.gcount()) == size;
  };
  auto u16 = [](const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); };
  auto u64 = [](const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  };
  unsigned char header[64];
  if (!read_at(0, header, sizeof header) || header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' ||
      header[3] != 'F')
    return fail("not an ELF file");
  if (header[4] != 2 || header[5] != 1) return fail("only 64-bit little-endian ELF is supported");
  const uint64_t phoff = u64(header + 32);
  const uint16_t phentsize = u16(header + 54), phnum = u16(header + 56);
  if (phentsize < 56 || phnum == 0 || phnum > 4096) return fail("no program headers");
  struct Segment {
    uint32_t type;
    uint64_t offset, vaddr, filesz;
  };
  std::vector<Segment> segments;
  for (uint16_t i = 0; i < phnum; ++i) {
    unsigned char ph[56];
    if (!read_at(phoff + uint64_t(i) * phentsize, ph, sizeof ph)) return fail("truncated program headers");
    segments.push_back({uint32_t(ph[0] | (ph[1] << 8) | (ph[2] << 16) | (uint32_t(ph[3]) << 24)), u64(ph + 8),
                        u64(ph + 16), u64(ph + 32)});
  }
  constexpr uint32_t kPtLoad = 1, kPtDynamic = 2;
  auto dynamic = std::find_if(segments.begin(), segments.end(), [](const Segment& s) { return s.type == kPtDynamic; });
  if (dynamic == segments.end()) return fail("no dynamic segment (a static executable?)");
  constexpr uint64_t kDtNull = 0, kDtNeeded = 1, kDtStrtab = 5, kDtSoname = 14;
  const uint64_t entries = std::min<uint64_t>(dynamic->filesz / 16, 1u << 16);
  std::vector<uint64_t> needed_offsets;
  std::optional<uint64_t> soname_offset, strtab;
  for (uint64_t i = 0; i < entries; ++i) {
    unsigned char entry[16];
    if (!read_at(dynamic->offset + i * 16, entry, sizeof entry)) return fail("truncated dynamic segment");
    const uint64_t tag = u64(entry), value = u64(entry + 8);
    if (tag == kDtNull) break;
    if (tag == kDtNeeded) needed_offsets.push_back(value);
    if (tag == kDtSoname) soname_offset = value;
    if (tag == kDtStrtab) strtab = value;
  }
  if (!strtab) return fail("no string table");
  // DT_STRTAB is an address; the loadable segment holding it gives its file offset.
  std::optional<uint64_t> strtab_offset;
  for (const Segment& s : segments)
    if (s.type == kPtLoad && *strtab >= s.vaddr && *strtab < s.vaddr + s.filesz)
      strtab_offset = s.offset + (*strtab - s.vaddr);
  if (!strtab_offset) return fail("string table outside the loaded segments");
  auto string_at = [&](uint64_t offset) {
    std::string out;
    char buffer[256];
    for (int chunk = 0; chunk < 16; ++chunk) {  // names longer than 4 KiB are not library names
      in.clear();
      in.seekg(static_cast<std::streamoff>(*strtab_offset + offset + out.size()));
      in.read(buffer, sizeof buffer);
      const std::streamsize got = in.gcount();
      if (got <= 0) break;
      const char* end = static_cast<const char*>(std::memchr(buffer, 0, static_cast<size_t>(got)));
      if (end) return out + std::string(buffer, static_cast<size_t>(end - buffer));
      out.append(buffer, static_cast<size_t>(got));
    }
    throw Error(library.string() + ": cannot read its dynamic section: unterminated library name");
  };
  DynamicDependencies out;
  for (uint64_t offset : needed_offsets) out.needed.push_back(string_at(offset));
  if (soname_offset) out.soname = string_at(*soname_offset);
  return out;
}

std::map<std::string, std::vector<SymbolDefinition>> read_symbol_definitions(const std::filesystem::path& library) {
  if (sniff(library) != Magic::Elf) throw Error(library.string() + ": not an ELF shared library");
  quiet_lief();
  std::unique_ptr<LIEF::ELF::Binary> binary;
  try {
    binary = LIEF::ELF::Parser::parse(library.string());
  } catch (const std::exception& e) {
    throw Error(library.string() + ": cannot parse ELF file: " + e.what());
  }
  if (!binary) throw Error(library.string() + ": cannot parse ELF file");
  require_complete_elf(*binary, library);
  // Version indices are looked up in the definitions themselves: LIEF 0.9
  // attaches the neighbouring definition to a defined symbol's version.
  std::map<uint16_t, std::string> names;
  for (const LIEF::ELF::SymbolVersionDefinition& definition : binary->symbols_version_definition()) {
    auto aux = definition.symbols_aux();
    if (aux.size() > 0) names[definition.ndx()] = aux[0].name();
  }
  constexpr uint16_t kHidden = 0x8000;
  std::map<std::string, std::vector<SymbolDefinition>> out;
  for (const LIEF::ELF::Symbol& s : binary->dynamic_symbols()) {
    if (s.shndx() == kShnUndef || s.name().empty() || !s.has_version()) continue;
    const uint16_t value = s.symbol_version().value();
    auto it = names.find(static_cast<uint16_t>(value & ~kHidden));
    if (it == names.end() || (value & ~kHidden) <= 1) continue;  // 0/1: local or the base version
    out[s.name()].push_back({it->second, (value & kHidden) == 0, s.type() == LIEF::ELF::ELF_SYMBOL_TYPES::STT_FUNC ||
                                                                      s.type() == LIEF::ELF::ELF_SYMBOL_TYPES::STT_GNU_IFUNC});
  }
  return out;
}

std::string demangle(std::string_view symbol) {
  std::string name(symbol.substr(0, symbol.find('@')));
  if (name.rfind("_Z", 0) != 0) return {};
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> text(::abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status),
                                                   &std::free);
  return status == 0 && text ? std::string(text.get()) : std::string();
}

std::string to_string(ObjectFormat format) {
  return format == ObjectFormat::Elf ? "ELF" : "Mach-O";
}

ObjectInfo read_object(const std::filesystem::path& file) {
  const Magic magic = sniff(file);
  if (magic == Magic::Pe) throw Error(file.string() + ": unsupported file format: PE/COFF (only ELF and Mach-O are checked)");
  if (magic == Magic::Unknown) throw Error(file.string() + ": unsupported file format: not an ELF or Mach-O object");
  quiet_lief();
  try {
    return magic == Magic::Elf ? read_elf(file) : read_macho(file);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(file.string() + ": cannot parse " + (magic == Magic::Elf ? "ELF" : "Mach-O") +
                " file: " + e.what());
  }
}

}  // namespace kb::abi
