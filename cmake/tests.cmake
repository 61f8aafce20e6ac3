# Tests: tests/<level>/<module>_<name>_test.cpp, one executable each, linked to couture_<module>
# (and so to every module left of it). <level> is the ctest label: unit, golden, smoke, e2e.
find_package(GTest REQUIRED)
set(COUTURE_SHARED_TESTDATA ${CMAKE_SOURCE_DIR}/../shared/testdata)
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
    target_include_directories(${name} PRIVATE tests)
    target_compile_options(${name} PRIVATE ${COUTURE_WARNINGS})
    if(module IN_LIST COUTURE_TORCH_MODULES)
      target_precompile_headers(${name} REUSE_FROM couture_pch)
    endif()
    target_compile_definitions(${name} PRIVATE
      COUTURE_SHARED_TESTDATA="${COUTURE_SHARED_TESTDATA}"
      COUTURE_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      COUTURE_BINARY="$<TARGET_FILE:couture>")
    add_dependencies(${name} couture)
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    # ctest runs tests side by side: spinning OpenMP threads (libgomp's default) would wait for each other's cores.
    set_tests_properties(${name} PROPERTIES LABELS ${level} TIMEOUT 900 ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
  endforeach()
endforeach()
