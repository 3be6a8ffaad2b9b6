# The installed kb_runtime package is all a libtorch program needs: kb is
# installed into a scratch prefix, examples/cpp-app is configured against that
# prefix alone (find_package(kb_runtime), no source tree) and built, and the
# program loads a kernel.
#   cmake -DBUILD_DIR=<kb build> -DSOURCE_DIR=<kb sources> -DTorch_DIR=<dir>
#         -DKERNEL=<kernel dir> -P installed_runtime_test.cmake
set(prefix ${BUILD_DIR}/installed-runtime-test/prefix)
set(app_build ${BUILD_DIR}/installed-runtime-test/app)
file(REMOVE_RECURSE ${BUILD_DIR}/installed-runtime-test)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}${err}")
  endif()
  set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# The app's own sources are copied out, so nothing of kb's tree is on its
# include path but what was installed.
file(COPY ${SOURCE_DIR}/examples/cpp-app/ DESTINATION ${BUILD_DIR}/installed-runtime-test/src)
run_step("configuring examples/cpp-app against the installed package"
  ${CMAKE_COMMAND} -S ${BUILD_DIR}/installed-runtime-test/src -B ${app_build} -G Ninja
  -DCMAKE_PREFIX_PATH=${prefix} -DTorch_DIR=${Torch_DIR})
run_step("building examples/cpp-app" ${CMAKE_COMMAND} --build ${app_build})
run_step("running the installed-package build of examples/cpp-app" ${app_build}/kb-cpp-app-example ${KERNEL})
if(NOT step_output MATCHES "relu matches torch::relu")
  message(FATAL_ERROR "unexpected output:\n${step_output}")
endif()
message("${step_output}")
file(REMOVE_RECURSE ${BUILD_DIR}/installed-runtime-test)
