# tvm-ffi kernel: no torch. The tvm-ffi of Python3_EXECUTABLE (its CMake
# package, tvm_ffi_DIR, which kb-compile passes) provides the headers and
# libtvm_ffi.so; a CUDA build takes its version from the CUDA compiler.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
# tvm_ffi's CMake package asks FindPython for the interpreter it runs.
set(Python_EXECUTABLE "${Python3_EXECUTABLE}" CACHE FILEPATH "Python with tvm_ffi")
if(NOT tvm_ffi_DIR)
  execute_process(COMMAND "${Python3_EXECUTABLE}" -m tvm_ffi.config --cmakedir
    OUTPUT_VARIABLE tvm_ffi_DIR OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${Python3_EXECUTABLE} cannot import tvm_ffi (PyPI package apache-tvm-ffi)")
  endif()
endif()
find_package(tvm_ffi CONFIG REQUIRED)
if(NOT KB_TVM_FFI_VERSION)
  execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import tvm_ffi; print(tvm_ffi.__version__)"
    OUTPUT_VARIABLE KB_TVM_FFI_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
message(STATUS "tvm-ffi ${KB_TVM_FFI_VERSION} (${tvm_ffi_LIB_FILES})")

set(KB_CXX_STANDARD 17)
set(KB_BACKEND_DEFINES "")
set(KB_BACKEND_LIBRARIES "")
if(KB_BACKEND STREQUAL "cpu")
  list(APPEND KB_BACKEND_DEFINES CPU_KERNEL)
elseif(KB_BACKEND STREQUAL "cuda")
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  list(APPEND KB_BACKEND_DEFINES CUDA_KERNEL USE_CUDA=1)
  # No torch loads libcudart for it: the CUDA runtime is linked in statically
  # (redistributable), so the kernel needs only the driver (libcuda) at run time.
  list(APPEND KB_BACKEND_LIBRARIES CUDA::cudart_static)
  kb_cuda_default_archs(KB_CUDA_DEFAULT_ARCHS ${CMAKE_CUDA_COMPILER_VERSION})
  string(REPLACE "+PTX" "" KB_CUDA_SUPPORTED_ARCHS "${KB_CUDA_DEFAULT_ARCHS}")
  # No torch to ask for the device's capability: every supported one.
  set(KB_CUDA_KERNEL_DEFAULT_ARCHS ${KB_CUDA_DEFAULT_ARCHS})
  if(NVCC_THREADS)
    string(APPEND CMAKE_CUDA_FLAGS " --threads=${NVCC_THREADS}")
  endif()
else()
  message(FATAL_ERROR "kb builds tvm-ffi kernels for cpu and cuda, not ${KB_BACKEND}")
endif()
