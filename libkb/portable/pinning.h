#pragma once
// Binding a shared object's references to glibc symbol versions a policy
// allows. When a library built on a new glibc asks for `exp@GLIBC_2.29` or
// `pthread_once@GLIBC_2.34`, the same symbol usually still exists at an older
// version (`exp@GLIBC_2.2.5`); the link can be redone with every reference to
// it redirected (ld --wrap) to a hidden trampoline that jumps to the old
// version. This file decides which references can be pinned that way and
// writes the trampolines; libkb/portable/link.h runs the links.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/abi/policy.h"
#include "libkb/abi/symbols.h"
#include "libkb/util/version.h"

namespace kb::portable {

using Definitions = std::map<std::string, std::vector<abi::SymbolDefinition>>;

struct Pin {
  std::string symbol;      // "exp"
  std::string from;        // the version the link chose: "GLIBC_2.29"
  std::string to;          // the allowed version to bind instead: "GLIBC_2.2.5"
  friend bool operator==(const Pin&, const Pin&) = default;
};

struct Unpinnable {
  std::string reference;  // "pidfd_open@GLIBC_2.36"
  std::string reason;     // why no allowed version can serve it
  friend bool operator==(const Unpinnable&, const Unpinnable&) = default;
};

// "GLIBC_2.34" -> {"GLIBC", 2.34}; nullopt for a version without '_' or a
// symbolic one ("GLIBC_PRIVATE", "CXXABI_TM_1").
struct SymbolVersion {
  std::string dep;
  Version number;
};
std::optional<SymbolVersion> parse_symbol_version(std::string_view text);

// The oldest numeric version among `definitions` of one symbol of `dep`
// (any dependency when empty), e.g. "GLIBCXX_3.4"; "" when there is none.
std::string oldest_version(const std::vector<abi::SymbolDefinition>& definitions, std::string_view dep = "");

struct PinPlan {
  std::vector<Pin> pins;
  std::vector<Unpinnable> unpinnable;
};

// For every reference in `undefined` ("name@DEP_VERSION") that `policy` does
// not allow: the newest version the defining library offers for the same
// name that the policy allows. `definitions_for` returns the definitions of
// the library a required version comes from (nullptr when unknown). Only
// functions can be pinned (a trampoline cannot stand in for data).
PinPlan plan_pins(const std::vector<std::string>& undefined, const abi::ManylinuxPolicy& policy,
                  const std::function<const Definitions*(const std::string& version)>& definitions_for);

// Assembly (GNU as) defining a hidden `__wrap_<symbol>` trampoline per pin
// that jumps to `<symbol>@<to>`. Link it with `-Wl,--wrap=<symbol>` for each
// pin. Throws kb::Error for an architecture without a trampoline form.
std::string trampolines_assembly(const std::vector<Pin>& pins, const std::string& arch);

}  // namespace kb::portable
