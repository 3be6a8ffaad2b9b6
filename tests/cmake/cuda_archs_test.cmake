# cmake -P tests/cmake/cuda_archs_test.cmake
# Checks the CUDA architecture selection of the generated build (kb-kernel.cmake).
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/../../libkb/project/data/kb-kernel.cmake)

set(failures 0)
function(expect_archs requested cuda_version expected)
  kb_cuda_default_archs(defaults ${cuda_version})
  string(REPLACE "+PTX" "" supported "${defaults}")
  kb_cuda_intersect_archs(got "${requested}" "${supported}")
  if(NOT "${got}" STREQUAL "${expected}")
    message(SEND_ERROR "requested [${requested}] with CUDA ${cuda_version}: got [${got}], expected [${expected}]")
  endif()
endfunction()

# Capabilities older than the toolkit supports are dropped.
expect_archs("5.0;7.5;8.0;9.0" 12.6 "7.5;8.0;9.0")
expect_archs("5.0;7.5;8.0;9.0" 13.0 "7.5;8.0;9.0")
# One requested arch serves the newer minors of its major.
expect_archs("8.0" 13.0 "8.0")
expect_archs("8.0;9.0;10.0;12.0" 13.0 "8.0;9.0;10.0;12.0")
# A +PTX arch may serve newer majors too.
expect_archs("8.0+PTX" 13.0 "8.0+PTX")
# Arch-specific targets are kept when their base is supported.
expect_archs("9.0a;8.0" 13.0 "8.0;9.0a")
expect_archs("9.0a" 12.6 "9.0a")
expect_archs("10.0f" 12.6 "")
# Nothing matches: the caller turns this into a configure error.
expect_archs("99999.0" 13.0 "")

kb_cuda_default_archs(d13 13.0)
if(NOT d13 STREQUAL "7.5;8.0;8.6;8.7;8.9;9.0;10.0;11.0;12.0;12.1+PTX")
  message(SEND_ERROR "CUDA 13 defaults: ${d13}")
endif()
kb_cuda_default_archs(d128 12.8)
if(NOT d128 STREQUAL "7.0;7.2;7.5;8.0;8.6;8.7;8.9;9.0;10.0;10.1;12.0+PTX")
  message(SEND_ERROR "CUDA 12.8 defaults: ${d128}")
endif()

kb_cuda_gencode_flags(flags "8.0;12.1+PTX")
if(NOT flags STREQUAL "-gencode=arch=compute_80,code=sm_80;-gencode=arch=compute_121,code=sm_121;-gencode=arch=compute_121,code=compute_121")
  message(SEND_ERROR "gencode flags: ${flags}")
endif()

# The compiled archs are recorded in metadata.json as loaders read them.
kb_metadata_with_archs(md [=[{"name": "k", "backend": {"type": "cuda"}}]=] "9.0a;8.0;12.0+PTX;8.0;10.0")
string(JSON recorded GET "${md}" backend archs)
string(JSON type GET "${md}" backend type)
string(REGEX REPLACE "[ \n]" "" recorded "${recorded}")
if(NOT recorded STREQUAL [=[["10.0","12.0+PTX","8.0","9.0a"]]=] OR NOT type STREQUAL "cuda")
  message(SEND_ERROR "recorded archs: ${recorded} (type ${type})")
endif()
kb_metadata_with_archs(md [=[{"backend": {"type": "rocm"}}]=] "gfx942;gfx90a")
string(JSON recorded GET "${md}" backend archs)
string(REGEX REPLACE "[ \n]" "" recorded "${recorded}")
if(NOT recorded STREQUAL [=[["gfx90a","gfx942"]]=])
  message(SEND_ERROR "recorded ROCm archs: ${recorded}")
endif()
kb_metadata_with_archs(md [=[{"backend": {"type": "cpu"}}]=] "")
if(NOT md STREQUAL [=[{"backend": {"type": "cpu"}}]=])
  message(SEND_ERROR "a CPU build got archs: ${md}")
endif()
