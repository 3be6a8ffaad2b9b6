# kb_runtime_tvm_ffi: load tvm-ffi kernels into a C++ program, without torch
# or Python. Included by the top-level CMakeLists.txt; built when tvm-ffi is
# found through the Python of an environment that has PyPI's apache-tvm-ffi
# (`make tvm-ffi` creates ~/.cache/kb/tvm-ffi-venv), which carries its
# headers and libtvm_ffi.so.
set(KB_TVM_FFI_PYTHON "$ENV{HOME}/.cache/kb/tvm-ffi-venv/bin/python" CACHE FILEPATH
  "Python whose tvm_ffi package provides the tvm-ffi headers and library for kb_runtime_tvm_ffi")

set(KB_TVM_FFI_FOUND OFF)
if(EXISTS "${KB_TVM_FFI_PYTHON}")
  # A changed or recreated environment configures again.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${KB_TVM_FFI_PYTHON}")
  execute_process(
    COMMAND "${KB_TVM_FFI_PYTHON}" -c "import tvm_ffi; print(tvm_ffi.__version__)"
    OUTPUT_VARIABLE kb_tvm_ffi_version OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(
    COMMAND "${KB_TVM_FFI_PYTHON}" -m tvm_ffi.config --includedir --dlpack-includedir --libfiles
    OUTPUT_VARIABLE kb_tvm_ffi_facts OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE kb_tvm_ffi_rc ERROR_QUIET)
  if(kb_tvm_ffi_version)
    set(kb_tvm_ffi_facts "${kb_tvm_ffi_version}\n${kb_tvm_ffi_facts}")
  endif()
  if(kb_tvm_ffi_rc EQUAL 0)
    string(REPLACE "\n" ";" kb_tvm_ffi_facts "${kb_tvm_ffi_facts}")
    list(LENGTH kb_tvm_ffi_facts kb_tvm_ffi_count)
    if(kb_tvm_ffi_count EQUAL 4)
      list(GET kb_tvm_ffi_facts 0 KB_TVM_FFI_VERSION)
      list(GET kb_tvm_ffi_facts 1 kb_tvm_ffi_include)
      list(GET kb_tvm_ffi_facts 2 kb_tvm_ffi_dlpack_include)
      list(GET kb_tvm_ffi_facts 3 KB_TVM_FFI_LIBRARY)
      if(EXISTS "${KB_TVM_FFI_LIBRARY}" AND EXISTS "${kb_tvm_ffi_include}/tvm/ffi/c_api.h")
        set(KB_TVM_FFI_FOUND ON)
      endif()
    endif()
  endif()
endif()

if(NOT KB_TVM_FFI_FOUND)
  message(STATUS "tvm-ffi not found through KB_TVM_FFI_PYTHON=${KB_TVM_FFI_PYTHON}: kb_runtime_tvm_ffi and its "
                 "tests are skipped (`make tvm-ffi` creates the environment; then configure again)")
  return()
endif()
message(STATUS "tvm-ffi ${KB_TVM_FFI_VERSION} found: ${KB_TVM_FFI_LIBRARY}")

# The target tvm-ffi's own CMake package defines, so the installed package
# can find it the same way (find_package(tvm_ffi)).
if(NOT TARGET tvm_ffi::shared)
  add_library(tvm_ffi::shared SHARED IMPORTED)
  set_target_properties(tvm_ffi::shared PROPERTIES IMPORTED_LOCATION "${KB_TVM_FFI_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${kb_tvm_ffi_include};${kb_tvm_ffi_dlpack_include}")
endif()

# A shared library that links libkb privately and tvm-ffi publicly: a program
# gets one .so beside libtvm_ffi, and none of libkb's build-time dependencies.
add_library(kb_runtime_tvm_ffi SHARED ${CMAKE_CURRENT_LIST_DIR}/src/tvm_ffi.cpp)
add_library(kb::runtime_tvm_ffi ALIAS kb_runtime_tvm_ffi)
target_compile_options(kb_runtime_tvm_ffi PRIVATE ${KB_WARNINGS})
target_compile_features(kb_runtime_tvm_ffi PUBLIC cxx_std_20)
target_include_directories(kb_runtime_tvm_ffi PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(kb_runtime_tvm_ffi PUBLIC tvm_ffi::shared nlohmann_json::nlohmann_json
  PRIVATE libkb ${CMAKE_DL_LIBS})
# Installed, it keeps a run path to the libtvm_ffi it was built against (a
# Python environment's, seldom on the loader's path): a program that does
# not itself need libtvm_ffi still starts, and one that loads its own copy
# (same soname) shares it.
set_target_properties(kb_runtime_tvm_ffi PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  EXPORT_NAME runtime_tvm_ffi INSTALL_RPATH_USE_LINK_PATH ON)

include(${CMAKE_SOURCE_DIR}/cmake/kb_header_closure.cmake)
kb_libkb_header_closure(${CMAKE_CURRENT_LIST_DIR}/include/kb/tvm_ffi.h KB_RUNTIME_TVM_FFI_LIBKB_HEADERS)
foreach(header ${KB_RUNTIME_TVM_FFI_LIBKB_HEADERS})
  get_filename_component(subdir ${header} DIRECTORY)
  install(FILES ${CMAKE_SOURCE_DIR}/libkb/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/libkb/${subdir})
endforeach()
install(FILES ${CMAKE_CURRENT_LIST_DIR}/include/kb/tvm_ffi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kb)
install(TARGETS kb_runtime_tvm_ffi EXPORT kb_runtime_tvm_ffiTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT kb_runtime_tvm_ffiTargets NAMESPACE kb:: FILE kb_runtime_tvm_ffiTargets.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kb_runtime_tvm_ffi)
include(CMakePackageConfigHelpers)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cmake/kb_runtime_tvm_ffiConfig.cmake.in
  ${CMAKE_BINARY_DIR}/runtime-tvm-ffi/kb_runtime_tvm_ffiConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kb_runtime_tvm_ffi)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/runtime-tvm-ffi/kb_runtime_tvm_ffiConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/runtime-tvm-ffi/kb_runtime_tvm_ffiConfig.cmake
  ${CMAKE_BINARY_DIR}/runtime-tvm-ffi/kb_runtime_tvm_ffiConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kb_runtime_tvm_ffi)

add_subdirectory(${CMAKE_SOURCE_DIR}/examples/tvm-ffi-app ${CMAKE_BINARY_DIR}/examples/tvm-ffi-app)

if(KB_BUILD_TESTS)
  # The fixture kernel tests/fixtures/kernels/relu-tvm-ffi, built here into
  # <build>/fixtures/relu-tvm-ffi/build/<variant>/ as a kb build lays a
  # tvm-ffi variant out: <id>.so (hidden symbols but the exported functions,
  # NEEDED libtvm_ffi.so without a run path: the loading program provides
  # it), metadata.json, __init__.py, _ops.py.
  set(kb_fixture_src ${CMAKE_SOURCE_DIR}/tests/fixtures/kernels/relu-tvm-ffi)
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" kb_tvm_ffi_mm "${KB_TVM_FFI_VERSION}")
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" kb_cpu)
  if(kb_cpu STREQUAL "amd64")
    set(kb_cpu x86_64)
  elseif(kb_cpu STREQUAL "arm64")
    set(kb_cpu aarch64)
  endif()
  string(TOLOWER "${CMAKE_SYSTEM_NAME}" kb_os)
  set(KB_TVM_FFI_FIXTURE_KERNEL ${CMAKE_BINARY_DIR}/fixtures/relu-tvm-ffi)
  set(KB_TVM_FFI_FIXTURE_VARIANT tvm-ffi${CMAKE_MATCH_1}${CMAKE_MATCH_2}-cpu-${kb_cpu}-${kb_os})
  set(kb_fixture_dir ${KB_TVM_FFI_FIXTURE_KERNEL}/build/${KB_TVM_FFI_FIXTURE_VARIANT})
  set(kb_fixture_id _relu_tvm_ffi_cpu_fixture)
  add_library(kb_relu_tvm_ffi_fixture SHARED ${kb_fixture_src}/tvm-ffi-ext/tvm_ffi_binding.cpp
    ${kb_fixture_src}/relu_cpu/relu_cpu.cpp)
  target_include_directories(kb_relu_tvm_ffi_fixture PRIVATE ${kb_fixture_src}/tvm-ffi-ext)
  target_link_libraries(kb_relu_tvm_ffi_fixture PRIVATE tvm_ffi::shared)
  set_target_properties(kb_relu_tvm_ffi_fixture PROPERTIES PREFIX "" OUTPUT_NAME ${kb_fixture_id} SUFFIX ".so"
    CXX_STANDARD 17 CXX_VISIBILITY_PRESET hidden SKIP_BUILD_RPATH ON NO_SONAME ON
    LIBRARY_OUTPUT_DIRECTORY ${kb_fixture_dir})
  file(MAKE_DIRECTORY ${kb_fixture_dir})
  file(CONFIGURE OUTPUT ${kb_fixture_dir}/metadata.json CONTENT
    "{\n  \"name\": \"relu-tvm-ffi\",\n  \"id\": \"${kb_fixture_id}\",\n  \"version\": 1,\n\
  \"license\": \"Apache-2.0\",\n  \"python-depends\": [],\n  \"kernel-depends\": [],\n\
  \"backend\": {\n    \"type\": \"cpu\"\n  }\n}\n")
  configure_file(${kb_fixture_src}/tvm-ffi-ext/relu_tvm_ffi/__init__.py ${kb_fixture_dir}/__init__.py COPYONLY)
  file(CONFIGURE OUTPUT ${kb_fixture_dir}/_ops.py CONTENT
    "from pathlib import Path\n\nimport tvm_ffi\n\nops = tvm_ffi.load_module(str(Path(__file__).parent / \"${kb_fixture_id}.so\"))\n")

  add_executable(kb_runtime_tvm_ffi_tests ${CMAKE_CURRENT_LIST_DIR}/tests/tvm-ffi/tvm_ffi_test.cpp)
  target_compile_options(kb_runtime_tvm_ffi_tests PRIVATE ${KB_WARNINGS})
  # The libkb helpers the tests use (temporary directories, the loopback hub)
  # come from kb_runtime_tvm_ffi, as for kb_runtime_tests: one copy of libkb.
  target_link_libraries(kb_runtime_tvm_ffi_tests PRIVATE kb_runtime_tvm_ffi GTest::gtest GTest::gtest_main)
  target_compile_definitions(kb_runtime_tvm_ffi_tests PRIVATE KB_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    KB_BINARY_DIR="${CMAKE_BINARY_DIR}" KB_TVM_FFI_FIXTURE_KERNEL="${KB_TVM_FFI_FIXTURE_KERNEL}"
    KB_TVM_FFI_FIXTURE_VARIANT="${KB_TVM_FFI_FIXTURE_VARIANT}")
  add_dependencies(kb_runtime_tvm_ffi_tests kb_relu_tvm_ffi_fixture)
  # Discovered when ctest runs: the program needs libtvm_ffi.so from the
  # environment (its run path), which may be gone since the build.
  gtest_discover_tests(kb_runtime_tvm_ffi_tests DISCOVERY_TIMEOUT 60 DISCOVERY_MODE PRE_TEST
    TEST_PREFIX "tvm-ffi/" PROPERTIES LABELS runtime)

  # The example program on the fixture, built here and against the installed package.
  add_test(NAME example/tvm-ffi-app COMMAND kb-tvm-ffi-app-example ${KB_TVM_FFI_FIXTURE_KERNEL})
  set_tests_properties(example/tvm-ffi-app PROPERTIES LABELS "example;runtime"
    PASS_REGULAR_EXPRESSION "relu and numel are right")
  add_test(NAME runtime/tvm-ffi-installed-package
    COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSOURCE_DIR=${CMAKE_SOURCE_DIR}
            -DTVM_FFI_PYTHON=${KB_TVM_FFI_PYTHON} -DKERNEL=${KB_TVM_FFI_FIXTURE_KERNEL}
            -P ${CMAKE_SOURCE_DIR}/tests/cmake/installed_tvm_ffi_runtime_test.cmake)
  set_tests_properties(runtime/tvm-ffi-installed-package PROPERTIES LABELS runtime TIMEOUT 900)
endif()
