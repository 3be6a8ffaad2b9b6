#pragma once
// Variant resolution: which build variants of a kernel can load in an
// environment, why the others cannot, and which one is preferred.
//
// The rules and the reason texts are those of the existing `kernels` runtime
// (acceptance, then a stable sort by preference), so both tools pick the same
// directory and explain rejections the same way. One difference: candidates
// are sorted by name before resolution, so ties resolve the same way in every
// process (the existing runtime lists variants through a set).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libkb/util/version.h"
#include "libkb/variant/variant.h"

namespace kb::resolve {

// What the running process offers a kernel. Filled from Python (torch's
// facts) or from C++ (the libtorch in the process).
struct Environment {
  std::string cpu;  // variant spelling: "x86_64", "aarch64"
  std::string os;   // "linux", "darwin", "windows"
  // The compute backend in use: detected, or selected by an override (see
  // select_backend). Its version comes from detection either way.
  variant::Compute backend;
  std::optional<Version> torch;    // major.minor; nullopt without torch
  std::optional<bool> cxx11_abi;   // Linux only; nullopt elsewhere or without torch
  std::optional<Version> tvm_ffi;  // major.minor of tvm_ffi when installed
  std::optional<Version> macos;    // macOS version (darwin only)
  // major.minor of the Python that loads the kernel; nullopt where no Python
  // loads it (a libtorch program), which takes no Python ABI into account.
  std::optional<Version> python;
  // The Python is a free-threaded build (GIL disabled): it loads only abi3t
  // extensions, never abi3 (legacy names are abi3).
  bool free_threaded = false;
  // MLX is installed: mlx-<backend> noarch variants need it.
  bool mlx = false;
  // torch was built for CUDA or ROCm but sees no device (a CUDA build of
  // torch on a machine without a GPU): CPU variants are accepted too, ranked
  // after every variant of the backend itself. Never set under an override.
  bool cpu_fallback = false;
  // A program that loads kernels through tvm-ffi's C ABI, without torch and
  // without Python: only tvm-ffi variants hold what it can load.
  bool tvm_ffi_only = false;

  // "torch 2.14, cxx11, cu130, x86_64-linux" (for messages); "tvm-ffi 0.1,
  // cpu, x86_64-linux" for a tvm-ffi program.
  std::string describe() const;
};

// What torch reports about itself (the strings of torch.__version__,
// torch.version.cuda, ...), as read from Python or from libtorch.
struct TorchFacts {
  std::string version;              // "2.14.1+cu130", "1.13.0a0"
  bool cxx11_abi = false;           // torch.compiled_with_cxx11_abi()
  std::optional<std::string> cuda;  // torch.version.cuda: "13.0"
  std::optional<std::string> hip;   // torch.version.hip: "6.3.42131-fa1d09cbd"
  std::optional<std::string> xpu;   // torch.version.xpu: "20250300"
  bool mps = false;                 // torch.backends.mps.is_available()
  bool tpu = false;                 // torch.backends has "tpu"
  bool neuron = false;              // torch has "neuron"
  std::optional<Version> cann;      // CANN version when torch_npu is the privateuse1 backend
  // torch.cuda.is_available() for CUDA and ROCm builds; nullopt when not
  // asked (taken as available).
  std::optional<bool> device_available;
};

// The backend torch was built for, first match wins: tpu, neuron, cuda, rocm,
// metal (MPS available), xpu, cann, else cpu. Throws kb::Error for a version
// string that cannot be read.
variant::Compute detect_backend(const std::optional<TorchFacts>& torch);

// An environment from platform facts (platform.machine(), platform.system())
// and torch's; without torch there is no torch version and no ABI. A CUDA or
// ROCm torch without a device gets `cpu_fallback` unless a backend is named.
Environment make_environment(std::string_view machine, std::string_view system, const std::optional<TorchFacts>& torch,
                             const std::optional<std::string>& backend_override = std::nullopt);

// An environment without torch whose CUDA runtime library (libcudart)
// reports version `cuda_runtime`: the CUDA backend of that version. A runtime
// that sees no device (`device_available` false: no GPU, no driver,
// CUDA_VISIBLE_DEVICES="") resolves for the CPU, unless a backend is named.
Environment make_cuda_runtime_environment(std::string_view machine, std::string_view system,
                                          const Version& cuda_runtime, std::optional<bool> device_available,
                                          const std::optional<std::string>& backend_override = std::nullopt);

// `env` for the backend `name` names (select_backend); naming one turns the
// CPU fallback off. nullopt/empty returns `env` unchanged.
Environment with_backend(Environment env, const std::optional<std::string>& name);

// The backend an override names, given the detected one: "cpu" or the
// detected backend's name (versions stay those detected). nullopt/empty
// keeps the detected backend. Otherwise kb::Error:
// "Invalid backend 'xpu', system supported backends: cpu, cuda".
variant::Compute select_backend(const variant::Compute& detected, const std::optional<std::string>& name);

// The backend name noarch and `sdk-<name>` variants are matched against:
// the backend's name ("cuda", "cann").
std::string noarch_backend_name(const variant::Compute& backend);

struct Decision {
  variant::Variant variant;
  bool accepted = false;
  std::string reason;  // rejected: the first check that failed; accepted: why, when not a plain match
};

struct Resolution {
  // One decision per candidate, accepted first, preferred first: stable-ABI,
  // torch, tvm-ffi arch variants, compiled SDKs, noarch (universal last),
  // `sdk-<backend>`, `sdk`; within a kind the newest backend minor, then abi3
  // before abi3t and the newest Python.
  std::vector<Decision> trace;
  std::vector<std::string> warnings;

  // The preferred variant, or nullptr when none is accepted.
  const Decision* best() const;
  std::vector<variant::Variant> accepted() const;
};

// Decides every candidate: nullopt reason means accepted.
std::optional<std::string> rejection_reason(const variant::Variant& candidate, const Environment& env);
Resolution resolve(std::vector<variant::Variant> candidates, const Environment& env);

// The trace as the existing runtime prints it, one line per decision:
//   "torch113-cxx11-cpu-x86_64-linux compatible, preferred ✅"
//   "torch-cpu compatible ✅"
//   "torch214-cxx11-cu130-x86_64-linux: backend (cu130) does not match selected backend (cpu)"
//   "torch214-cxx11-cpu-x86_64-linux compatible (CPU fallback: ...) ✅"
std::string render_trace(const std::vector<Decision>& trace);

// Variants found as sub-directories of `dir` (sorted by name). Names that are
// not variants are skipped, their reasons appended to `skipped` if given
// (hidden directories, like build/.kb-abi, silently). A
// missing or unreadable directory yields no variants.
std::vector<variant::Variant> list_variant_dirs(const std::filesystem::path& dir,
                                                std::vector<std::string>* skipped = nullptr);

// Where a local kernel lives, for a path that is a kernel repository root
// (holding build/), a build/ directory, or a single variant directory
// (spec: get_local_kernel). `trace` is the resolution that chose it (empty for
// an explicit variant directory).
// The directories whose sub-directories are a local kernel's variants, in
// the order loaders try them: `path` and `path/build`, or only `path/build`
// when it exists (a kernel root's own folders such as torch-ext/ are not
// variants, even when their names parse as one).
std::vector<std::filesystem::path> variant_bases(const std::filesystem::path& path);

struct LocalChoice {
  std::filesystem::path variant_dir;
  std::optional<variant::Variant> variant;  // nullopt for an explicit variant directory
  Resolution resolution;
};
// Throws kb::Error "Could not find kernel in PATH" when the path does not
// exist, and "Cannot find a build variant for this system in PATH (...):\n\n<trace>"
// when variants exist but none is accepted.
LocalChoice choose_local_variant(const std::filesystem::path& path, const Environment& env);

}  // namespace kb::resolve
