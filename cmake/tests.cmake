# Tests: tests/<level>/<module>_<name>_test.cpp, one executable each, linked to couture_<module>
# (and so to every module left of it). <level> is the ctest label: unit, golden, smoke, e2e.
find_package(GTest REQUIRED)
# The tests' HTTP client (the server is the project's own, src/serve/http_server): Debian's shared cpp-httplib is
# built with these three definitions, and every file that includes httplib.h must see the same ones, or the
# library's classes differ from ours.
find_path(HTTPLIB_INCLUDE httplib.h REQUIRED)
find_library(HTTPLIB_LIB cpp-httplib REQUIRED)
add_library(couture_test_httplib INTERFACE)
target_include_directories(couture_test_httplib INTERFACE ${HTTPLIB_INCLUDE})
target_compile_definitions(couture_test_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT CPPHTTPLIB_ZLIB_SUPPORT
                           CPPHTTPLIB_BROTLI_SUPPORT)
target_link_libraries(couture_test_httplib INTERFACE ${HTTPLIB_LIB})
set(COUTURE_SHARED_TESTDATA ${CMAKE_SOURCE_DIR}/../shared/testdata)
# ON: a golden test fails, instead of skipping, when its reference vectors are absent (tests/support/golden.h).
option(COUTURE_REQUIRE_GOLDEN "Golden tests fail when ../shared/testdata is absent" OFF)
# Tests run on OpenBLAS kernels named by the CPU's instruction set, as the couture binary does on CPUs Debian 12's
# OpenBLAS does not know (nn/threads.h): its Prescott fallback is 6x slower and sums a batch's rows in different
# orders, so one image twice in a batch scored differently there (generate_rerank_test). A setting in the
# environment wins.
set(COUTURE_TEST_ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
if(DEFINED ENV{OPENBLAS_CORETYPE})
  list(APPEND COUTURE_TEST_ENVIRONMENT OPENBLAS_CORETYPE=$ENV{OPENBLAS_CORETYPE})
elseif(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo cpuinfo)
  if(cpuinfo MATCHES " avx512bw")
    list(APPEND COUTURE_TEST_ENVIRONMENT OPENBLAS_CORETYPE=SkylakeX)
  elseif(cpuinfo MATCHES " avx2")
    list(APPEND COUTURE_TEST_ENVIRONMENT OPENBLAS_CORETYPE=Haswell)
  endif()
endif()
foreach(level unit golden smoke e2e)
  file(GLOB tests CONFIGURE_DEPENDS tests/${level}/*_test.cpp)
  foreach(test_source IN LISTS tests)
    get_filename_component(name ${test_source} NAME_WE)
    string(REGEX MATCH "^[a-z]+" module ${name})
    add_executable(${name} ${test_source})
    set(link couture_${module})
    if(NOT TARGET ${link})  # e2e tests of the binary (e.g. cli_inspect_test) see every module
      set(link ${COUTURE_TOP})
      set(module nn)
    endif()
    target_link_libraries(${name} PRIVATE ${link} GTest::gtest GTest::gtest_main)
    if(name MATCHES "^serve_")
      target_link_libraries(${name} PRIVATE couture_test_httplib)
    endif()
    target_include_directories(${name} PRIVATE tests)
    target_compile_options(${name} PRIVATE ${COUTURE_WARNINGS})
    if(module IN_LIST COUTURE_TORCH_MODULES)
      target_precompile_headers(${name} REUSE_FROM couture_pch)
    endif()
    target_compile_definitions(${name} PRIVATE
      COUTURE_SHARED_TESTDATA="${COUTURE_SHARED_TESTDATA}"
      COUTURE_REQUIRE_GOLDEN=$<BOOL:${COUTURE_REQUIRE_GOLDEN}>
      COUTURE_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      COUTURE_BINARY="$<TARGET_FILE:couture>")
    add_dependencies(${name} couture)
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    # ctest runs tests side by side: spinning OpenMP threads (libgomp's default) would wait for each other's cores.
    set_tests_properties(${name} PROPERTIES LABELS ${level} TIMEOUT 900 ENVIRONMENT "${COUTURE_TEST_ENVIRONMENT}")
  endforeach()
endforeach()

# The layer order of CMakeLists.txt's COUTURE_MODULE_DEPS_*, checked on every include under src/.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME layers COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/check-layers ${CMAKE_SOURCE_DIR})
set_tests_properties(layers PROPERTIES LABELS unit)

# ESLint over the studio's JavaScript (web/*.js) and the browser test's driver, with the flat config
# tests/e2e/browser/eslint.config.mjs, from the repository root (where its patterns start). Needs no network; skipped
# until scripts/setup has installed eslint there (npm ci).
set(web_lint_script [[
eslint=tests/e2e/browser/node_modules/eslint/bin/eslint.js
if command -v node >/dev/null && [ -f $eslint ]; then
  exec node $eslint -c tests/e2e/browser/eslint.config.mjs --max-warnings 0 web tests/e2e/browser
fi
echo "web_lint: skipped: no node, or no $eslint (run scripts/setup)"
exit 77
]])
add_test(NAME web_lint COMMAND sh -c "${web_lint_script}" WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(web_lint PROPERTIES LABELS unit SKIP_RETURN_CODE 77)
