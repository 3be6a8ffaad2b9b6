#pragma once
// The functions a tvm-ffi kernel library exports. TVM_FFI_DLL_EXPORT_TYPED_FUNC
// gives each one a global function symbol `__tvm_ffi_<name>` that follows
// tvm-ffi's C calling convention (TVMFFISafeCallType); a loader lists them to
// tell a caller what it can call.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kb::runtime {

// "__tvm_ffi_": the prefix of an exported function's symbol.
inline constexpr std::string_view kTvmFfiExportPrefix = "__tvm_ffi_";

// The function name `symbol` exports ("__tvm_ffi_relu" -> "relu"); nullopt
// for other symbols and for tvm-ffi's own ("__tvm_ffi__metadata_relu").
std::optional<std::string_view> tvm_ffi_function_name(std::string_view symbol);

// The names (prefix removed, sorted) of the functions `library` exports: its
// defined global or weak function symbols `__tvm_ffi_<name>` in the dynamic
// symbol table (names starting with "__tvm_ffi__" are tvm-ffi's own, not
// functions). Throws kb::Error naming the file when it cannot be read or is
// not a 64-bit little-endian ELF object, or when its tables lie outside it.
std::vector<std::string> tvm_ffi_exported_functions(const std::filesystem::path& library);

}  // namespace kb::runtime
