#pragma once
// kb-link: links a kernel's shared object so that it loads on every Linux
// that a manylinux policy covers, using the ordinary compiler and glibc of the
// build machine (no sysroot, no container):
//   1. libstdc++ is linked statically and hidden (-static-libstdc++
//      -Wl,--exclude-libs,ALL), so the object needs no new GLIBCXX/CXXABI
//      symbol version; libgcc stays shared (its unwinder is shared with
//      torch). The replaceable allocation functions (operator new/delete)
//      are the exception: memory crosses between the kernel and torch, so
//      both must use the process's one operator new/delete, bound at their
//      first versions (GLIBCXX_3.4, CXXABI_1.3.9/1.3.11) in libstdc++.so.6;
//   2. a small hidden shim (libkb/portable/data/shim.c, compiled once per
//      toolchain into the kb cache) defines the few glibc symbols that have
//      no version old enough (__libc_single_threaded, arc4random*, the stat
//      family) in terms of old interfaces;
//   3. the result is read back; every remaining reference to a too-new
//      version of a function is pinned to the newest version the policy
//      allows (pinning.h) and the object linked once more;
//   4. the object's needed libraries must be on the policy's list or be
//      libraries the torch it is built for loads anyway.
// Whatever cannot be fixed fails the link, naming the symbol or library, the
// input files that need it, and the way out (`kb build --target native`).
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace kb::portable {

struct LinkRequest {
  std::string policy = "manylinux_2_28";
  // Shared libraries the kernel's framework brings (libtorch.so, libc10.so,
  // libcudart.so): they, and the libraries they need, may be needed too.
  std::vector<std::filesystem::path> provided;
  // The link command as CMake would run it: driver (c++, g++, clang++) first.
  std::vector<std::string> command;
  // Where the compiled shim is kept; empty: <user cache>/kb/portable.
  std::filesystem::path cache_dir;
};

// Runs the link; returns the exit code for the build system (the linker's own
// on its failure, 1 when the result cannot be made portable, after removing
// it so the build system does not take it as done). Diagnostics go to `err`.
int link_portable(const LinkRequest& request, std::ostream& err);

// What every portable link of one toolchain adds: the shim object and the
// trampolines that send operator new/delete to the process's libstdc++.
struct PortableRuntime {
  std::filesystem::path shim;
  std::filesystem::path allocators;
  std::vector<std::string> allocator_symbols;  // the --wrap'ed names
};

// Compiled on first use, atomically, into `cache_dir`/<key>/, where <key>
// covers the shim source and the compiler; never re-made when present.
PortableRuntime portable_runtime(const std::string& driver, const std::filesystem::path& cache_dir);

// The flags a portable link adds to the driver's command line.
std::vector<std::string> portable_flags(const PortableRuntime& runtime);

}  // namespace kb::portable
