# Runs examples/cpp-app on a kernel and checks its exit status and output.
#   cmake -DAPP=<kb-cpp-app-example> -DKERNEL=<kernel dir> -P cpp_app_test.cmake
execute_process(COMMAND ${APP} ${KERNEL} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kb-cpp-app-example exited with ${rc}")
endif()
foreach(expected
    "variant: torch[0-9]+-cxx(11|98)-cpu-[a-z0-9_]+-linux"
    "namespace: _relu_cpu_[0-9a-z_]+"
    "input: -2 -1.5 -1 -0.5 0 0.5 1 1.5 2"
    "output: 0 0 0 0 0 0.5 1 1.5 2"
    "relu matches torch::relu")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "kb-cpp-app-example output does not match `${expected}`")
  endif()
endforeach()
