#include "libkb/abi/symbols.h"

#include <LIEF/ELF.hpp>
#include <LIEF/MachO.hpp>
#include <LIEF/logging.hpp>

#include <array>
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
  std::set<std::string> names;
  bool minos_missing = false;
  // A universal binary is checked as the union of its slices: every slice
  // must load on the target, so the strictest facts count.
  for (const LIEF::MachO::Binary& binary : *fat) {
    if (!info.arch.empty()) info.arch += "+";
    info.arch += macho_arch(binary.header());
    for (const LIEF::MachO::Symbol& s : binary.symbols()) {
      if (s.origin() != LIEF::MachO::SYMBOL_ORIGINS::SYM_ORIGIN_LC_SYMTAB) continue;
      if ((s.type() & kNStab) != 0 || (s.type() & kNType) != kNUndf) continue;
      std::string name = s.name();
      if (!name.empty() && name[0] == '_') name.erase(0, 1);
      if (!name.empty()) names.insert(std::move(name));
    }
    std::optional<Version> minos = macos_min_version(binary);
    if (!minos) minos_missing = true;
    else if (!info.macos_min || *minos > *info.macos_min) info.macos_min = minos;
  }
  if (minos_missing) info.macos_min.reset();
  info.undefined.assign(names.begin(), names.end());
  return info;
}

}  // namespace

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
