// One timed load in a fresh process, for bench/load.py's C++ section:
//   kb-bench-load dlopen SHARED_OBJECT       dlopen alone (the baseline)
//   kb-bench-load get-kernel REPO VERSION    kb::runtime::get_kernel, hub cache warm
// Prints {"seconds": S}. libtorch loads before main and is not timed.
#include <dlfcn.h>

#include <chrono>
#include <iostream>
#include <string>

#include "kb/runtime.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: kb-bench-load dlopen SO | get-kernel REPO VERSION\n";
    return 2;
  }
  std::string mode = argv[1];
  auto start = std::chrono::steady_clock::now();
  try {
    if (mode == "dlopen") {
      if (!::dlopen(argv[2], RTLD_LAZY | RTLD_LOCAL)) throw std::runtime_error(dlerror());
    } else if (mode == "get-kernel" && argc == 4) {
      kb::runtime::get_kernel(argv[2], {.version = std::stoi(argv[3])});
    } else {
      std::cerr << "usage: kb-bench-load dlopen SO | get-kernel REPO VERSION\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::cout << "{\"seconds\": " << elapsed.count() << "}\n";
  return 0;
}
