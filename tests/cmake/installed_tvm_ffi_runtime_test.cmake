# The installed kb_runtime_tvm_ffi package and tvm-ffi's own CMake package are
# all a tvm-ffi program needs: kb is installed into a scratch prefix,
# examples/tvm-ffi-app is configured against that prefix alone
# (find_package(kb_runtime_tvm_ffi), no source tree) and built, and the
# program loads a kernel and calls it.
#   cmake -DBUILD_DIR=<kb build> -DSOURCE_DIR=<kb sources> -DTVM_FFI_PYTHON=<python with tvm_ffi>
#         -DKERNEL=<kernel dir> -P installed_tvm_ffi_runtime_test.cmake
set(work ${BUILD_DIR}/installed-tvm-ffi-runtime-test)
set(prefix ${work}/prefix)
file(REMOVE_RECURSE ${work})

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}${err}")
  endif()
  set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

run_step("asking tvm-ffi for its CMake package" ${TVM_FFI_PYTHON} -m tvm_ffi.config --cmakedir)
string(STRIP "${step_output}" tvm_ffi_dir)
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# The app's own sources are copied out, so nothing of kb's tree is on its
# include path but what was installed.
file(COPY ${SOURCE_DIR}/examples/tvm-ffi-app/ DESTINATION ${work}/src)
run_step("configuring examples/tvm-ffi-app against the installed package"
  ${CMAKE_COMMAND} -S ${work}/src -B ${work}/app -G Ninja -DCMAKE_PREFIX_PATH=${prefix}
  -Dtvm_ffi_DIR=${tvm_ffi_dir} -DPython_EXECUTABLE=${TVM_FFI_PYTHON})
run_step("building examples/tvm-ffi-app" ${CMAKE_COMMAND} --build ${work}/app)
run_step("running the installed-package build of examples/tvm-ffi-app" ${work}/app/kb-tvm-ffi-app-example ${KERNEL})
if(NOT step_output MATCHES "relu and numel are right")
  message(FATAL_ERROR "unexpected output:\n${step_output}")
endif()
message("${step_output}")
file(REMOVE_RECURSE ${work})
