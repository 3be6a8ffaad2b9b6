# cmake -P tests/cmake/kernel_paths_test.cmake
# Checks that the generated build reads build.toml's paths relative to the
# kernel directory (KB_KERNEL_DIR), which is not the generated project's.
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/../../libkb/project/data/kb-kernel.cmake)

function(expect_paths kernel_dir paths expected)
  set(KB_KERNEL_DIR "${kernel_dir}")
  kb_kernel_paths(got "${paths}")
  if(NOT "${got}" STREQUAL "${expected}")
    message(SEND_ERROR "[${paths}] in ${kernel_dir}: got [${got}], expected [${expected}]")
  endif()
endfunction()

expect_paths("/home/u/relu" "torch-ext/torch_binding.cpp;relu_cpu/relu.cpp"
  "/home/u/relu/torch-ext/torch_binding.cpp;/home/u/relu/relu_cpu/relu.cpp")
# Include directories and dotted paths are normalised, absolute ones kept.
expect_paths("/home/u/relu" "./include;relu_cpu/../common;/opt/cutlass/include"
  "/home/u/relu/include;/home/u/relu/common;/opt/cutlass/include")
expect_paths("/home/u/relu" "" "")
