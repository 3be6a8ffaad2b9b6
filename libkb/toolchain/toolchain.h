#pragma once
// Toolchain discovery: Python interpreters with torch (or with tvm-ffi, for
// tvm-ffi kernels), and nvcc.
//
// Facts about an interpreter are read once by running an embedded probe
// (toolchain/data/probe.py) and cached in
// ${XDG_CACHE_HOME:-~/.cache}/kb/toolchains.json, so later discoveries do not
// pay for `import torch`. A cache entry is reused only while the files it was
// derived from are unchanged (interpreter binary, pyvenv.cfg, the sys.path
// directories, torch/version.py: mtime and size) and PYTHONPATH is the same.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/util/version.h"
#include "libkb/variant/variant.h"

namespace kb::toolchain {

namespace fs = std::filesystem;

// What `import torch` in one interpreter reports.
struct TorchFacts {
  std::string version_raw;  // torch.__version__: "1.13.0a0", "2.14.1+cu130"
  Version version;          // leading_version(version_raw): 1.13, 2.14.1
  bool cxx11_abi = false;   // torch.compiled_with_cxx11_abi()
  std::optional<std::string> cuda;  // torch.version.cuda: "13.0"
  std::optional<std::string> hip;   // torch.version.hip: "6.3.42131-fa1d09cbd"
  std::optional<std::string> xpu;   // torch.version.xpu: "20250300"
  bool mps_available = false;
  fs::path package_dir;        // .../site-packages/torch
  fs::path cmake_prefix_path;  // torch.utils.cmake_prefix_path, as reported (may not exist)
  // Directory holding TorchConfig.cmake that exists (Debian: /usr/lib/x86_64-linux-gnu/cmake/Torch);
  // empty when none was found. Pass it as Torch_DIR.
  fs::path cmake_dir;
};

// What `import tvm_ffi` in one interpreter reports (PyPI apache-tvm-ffi).
struct TvmFfiFacts {
  std::string version_raw;  // tvm_ffi.__version__: "0.1.15.post2"
  Version version;          // leading_version(version_raw): 0.1.15
  fs::path package_dir;     // .../site-packages/tvm_ffi
  fs::path include_dir;     // tvm/ffi/*.h
  fs::path dlpack_include_dir;
  fs::path cmake_dir;       // tvm_ffi-config.cmake: pass it as tvm_ffi_DIR
  fs::path library;         // libtvm_ffi.so, which every tvm-ffi kernel needs at run time
};

// What an interpreter must provide to be a toolchain.
enum class Requirement {
  Torch,   // torch extensions (arch and stable-ABI variants)
  TvmFfi,  // tvm-ffi kernels: tvm_ffi importable; torch not needed
};

// One Python interpreter that can import torch (or tvm_ffi, when discovered
// for tvm-ffi kernels).
struct PythonToolchain {
  fs::path python;     // sys.executable: the path to run (a venv's bin/python stays unresolved)
  fs::path candidate;  // the path discovery found it under
  std::string source;  // "--python", "KB_PYTHON", "PATH", "default", "cuda-venv"
  std::string python_version;  // "3.11.2"
  fs::path prefix;             // sys.prefix
  std::string machine;         // platform.machine(): "x86_64"
  std::string system;          // platform.system(): "Linux"
  fs::path include_dir;        // sysconfig include dir (Python.h)
  std::string soabi;           // "cpython-311-x86_64-linux-gnu"
  std::string ext_suffix;      // ".cpython-311-x86_64-linux-gnu.so"
  bool gil_disabled = false;
  TorchFacts torch;        // valid when has_torch
  bool has_torch = true;
  std::optional<TvmFfiFacts> tvm_ffi;  // set when tvm_ffi imports
  bool from_cache = false;  // facts came from the cache, Python was not run

  // Backend torch was built for, in the order of the generated CMake's GPU
  // language detection: cuda (torch.version.cuda), rocm (hip), metal (MPS
  // available), xpu (torch.version.xpu), else cpu.
  config::Backend native_backend() const;
  // Variant-name CPU / OS ("x86_64", "linux"); cpu() throws kb::Error for
  // CPUs variant names cannot express.
  std::string cpu() const;
  std::string os() const;
  // "python3 (/usr/bin/python3, Python 3.11.2, torch 1.13.0a0, cpu)"; an
  // interpreter without torch names its tvm-ffi instead.
  std::string describe() const;
};

// A candidate that was not usable, with the reason for messages.
struct RejectedPython {
  fs::path candidate;
  std::string source;
  std::string reason;  // "cannot import torch: ModuleNotFoundError: No module named 'torch'"
};

struct DiscoveryOptions {
  std::vector<fs::path> pythons;  // --python values, tried first, in order
  bool use_env = true;       // KB_PYTHON (colon-separated)
  bool use_path = true;      // every python3 / python on PATH
  bool use_defaults = true;  // /usr/bin/python3 and the CUDA torch venv's bin/python
                             // (Requirement::TvmFfi: also the tvm-ffi venv's)
  Requirement require = Requirement::Torch;
  bool use_cache = true;     // false: always run the probe (the cache is still refreshed)
  std::optional<fs::path> cache_file;  // default: default_cache_file()
};

struct Discovery {
  std::vector<PythonToolchain> toolchains;  // usable ones, in candidate order, de-duplicated
  std::vector<RejectedPython> rejected;
  int probes_run = 0;  // interpreters actually started (0 when everything came from the cache)

  // First toolchain whose native backend is `backend`; for cpu, any toolchain
  // when none is cpu-native (a GPU build of torch can build CPU kernels).
  const PythonToolchain* find_for_backend(config::Backend backend) const;
  // One "\n  <candidate> (<source>): <reason>" line per rejected candidate,
  // to append to an error message.
  std::string explain_rejections() const;
};

// Candidate order: options.pythons, KB_PYTHON entries, python3/python on PATH,
// /usr/bin/python3, cuda_torch_venv()/bin/python (when it exists). Candidates
// are de-duplicated by identity before probing (symlinks resolved; a venv's
// interpreter stays distinct from its base) and by (executable, prefix) after.
Discovery discover_pythons(const DiscoveryOptions& options = {});

// The options of a tool's interpreter choice: naming interpreters selects
// them. `pythons` (--python) win over KB_PYTHON, which wins over discovery
// (PATH, /usr/bin/python3, the CUDA torch venv).
DiscoveryOptions selection_options(const std::vector<fs::path>& pythons,
                                   Requirement require = Requirement::Torch);
// True when KB_PYTHON names at least one interpreter.
bool kb_python_selects();

// Probes one interpreter (using the cache as discover_pythons does). Throws
// kb::Error naming the interpreter when it cannot run or cannot import torch.
PythonToolchain probe_python(const fs::path& python, const DiscoveryOptions& options = {});

// ${XDG_CACHE_HOME:-$HOME/.cache}/kb/toolchains.json
fs::path default_cache_file();
// ${KB_CUDA_VENV:-$HOME/.cache/kb/cuda-torch-venv} (made by scripts/setup-cuda-torch.sh)
fs::path cuda_torch_venv();

// ${KB_TVM_FFI_VENV:-$HOME/.cache/kb/tvm-ffi-venv} (made by scripts/setup-tvm-ffi-venv.sh)
fs::path tvm_ffi_venv();

// nvcc and its CUDA release.
struct Nvcc {
  fs::path path;     // as found (not resolved)
  Version version;   // "release 13.0" -> 13.0
  bool from_cache = false;
};

struct NvccOptions {
  bool use_cache = true;
  std::optional<fs::path> cache_file;
};

// First executable of $CUDA_HOME/bin/nvcc, $CUDA_PATH/bin/nvcc, nvcc on PATH,
// /usr/local/cuda/bin/nvcc; nullopt when there is none. Throws kb::Error when
// the nvcc found does not report a release.
std::optional<Nvcc> discover_nvcc(const NvccOptions& options = {});
// Parses `nvcc --version` output ("... release 13.0, V13.0.88"); nullopt if absent.
std::optional<Version> parse_nvcc_release(std::string_view output);

// Versions the variant name of a build depends on besides torch.
struct VariantInputs {
  // CUDA toolkit the build compiles with (nvcc). Torch arch builds use it when
  // given (the generated CMake names variants from the toolkit it configures
  // with) and torch.version.cuda otherwise; tvm-ffi cuda builds require it.
  std::optional<Version> cuda_toolkit;
  std::optional<Version> xpu_toolkit;  // icpx version (first N.N); else from torch.version.xpu
  std::optional<Version> tvm_ffi;      // tvm_ffi.__version__, required for tvm-ffi kernels
};

// Variant a build of `config` for `backend` with `python` produces:
//   tvm-ffi kernel           -> tvm-ffi<MM>-<compute>-<cpu>-<os>
//   [kernel.*] for backend + stable-abi -> torch-stable-abi<MM>-<compute>-<cpu>-<os>
//   [kernel.*] for backend   -> torch<MM>[-cxx11|-cxx98]-<compute>-<cpu>-<os>
//                               (ABI tag on Linux only, from torch.compiled_with_cxx11_abi())
//   otherwise                -> torch-<backend>
// Throws kb::Error when an arch build is impossible with this interpreter (e.g.
// a cuda build with a CPU-only torch) or a needed version is unknown.
variant::Variant variant_for_build(const config::BuildConfig& config, config::Backend backend,
                                   const PythonToolchain& python, const VariantInputs& inputs = {});

// The compute token of an arch build for `backend` (cu130, rocm71, cpu, ...).
variant::Compute compute_for_build(config::Backend backend, const PythonToolchain& python,
                                   const VariantInputs& inputs = {});

}  // namespace kb::toolchain
