# libFuzzer targets (fuzz/<module>_<name>_fuzz.cpp) for the parsers that read what strangers send: safetensors,
# K-Fashion labels and captions, vocabularies and the tokenizer, images, generation requests. They are built with
# clang (-fsanitize=fuzzer,address,undefined) by custom commands, since one CMake project cannot mix compilers;
# only torch-free sources (core, text, io, generate/generate_params) go in. Skipped when no clang with the fuzzer
# runtime is found. `make test` runs a fixed 50,000 inputs of each (ctest label `fuzz`); `make fuzz` runs them longer.
find_program(COUTURE_FUZZ_CXX NAMES clang++-14 clang++)
if(NOT COUTURE_FUZZ_CXX)
  message(STATUS "fuzz targets: skipped (no clang++; install clang and libclang-rt-14-dev)")
  return()
endif()
if(NOT DEFINED COUTURE_FUZZ_WORKS)
  set(probe ${CMAKE_BINARY_DIR}/fuzz-probe.cpp)
  file(WRITE ${probe} "extern \"C\" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n")
  execute_process(COMMAND ${COUTURE_FUZZ_CXX} -fsanitize=fuzzer,address,undefined ${probe} -o ${probe}.bin
                  RESULT_VARIABLE probe_status OUTPUT_QUIET ERROR_QUIET)
  file(REMOVE ${probe} ${probe}.bin)
  if(probe_status EQUAL 0)
    set(COUTURE_FUZZ_WORKS ON CACHE INTERNAL "clang links libFuzzer with ASan and UBSan")
  else()
    set(COUTURE_FUZZ_WORKS OFF CACHE INTERNAL "clang links libFuzzer with ASan and UBSan")
  endif()
endif()
if(NOT COUTURE_FUZZ_WORKS)
  message(STATUS "fuzz targets: skipped (${COUTURE_FUZZ_CXX} cannot link -fsanitize=fuzzer; "
                 "install libclang-rt-14-dev)")
  return()
endif()

# The parsers under test and what they use; linked as one archive, so each target takes only what it needs.
set(fuzz_library_sources
    core/atomic_file.cpp core/base64.cpp core/log.cpp io/mmap.cpp io/safetensors.cpp io/image.cpp io/stb_impl.cpp
    text/unicode.cpp text/bert_pretokenizer.cpp text/token_table.cpp text/vocab.cpp text/wordpiece.cpp
    text/kfashion_labels.cpp text/caption.cpp generate/generate_params.cpp)
set(fuzz_dir ${CMAKE_BINARY_DIR}/fuzz)
# Ninja makes an output's folder itself; Makefiles (CMake's default generator) do not.
file(MAKE_DIRECTORY ${fuzz_dir}/obj)
set(fuzz_flags -std=c++20 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    -I${CMAKE_SOURCE_DIR} -I${CMAKE_SOURCE_DIR}/src -I${STB_INCLUDE} -I${UTF8PROC_INCLUDE})
set(fuzz_launcher "")
if(CCACHE)
  set(fuzz_launcher ${CCACHE})
endif()

function(couture_fuzz_object source sanitize out_var)
  string(REPLACE "/" "_" stem ${source})
  if(source STREQUAL "src/io/stb_impl.cpp")  # CMakeLists.txt says why
    list(APPEND sanitize ${COUTURE_STB_SANITIZE_RELAXED})
  endif()
  set(object ${fuzz_dir}/obj/${stem}.o)
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${fuzz_launcher} ${COUTURE_FUZZ_CXX} ${fuzz_flags} ${sanitize} -MD -MF ${object}.d
            -c ${CMAKE_SOURCE_DIR}/${source} -o ${object}
    DEPENDS ${CMAKE_SOURCE_DIR}/${source}
    DEPFILE ${object}.d
    COMMENT "Building fuzz object ${source}"
    VERBATIM)
  set(${out_var} ${object} PARENT_SCOPE)
endfunction()

set(fuzz_objects "")
foreach(source IN LISTS fuzz_library_sources)
  couture_fuzz_object(src/${source} -fsanitize=fuzzer-no-link,address,undefined object)
  list(APPEND fuzz_objects ${object})
endforeach()
set(fuzz_archive ${fuzz_dir}/libcouture_fuzz.a)
add_custom_command(
  OUTPUT ${fuzz_archive}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${fuzz_archive}
  COMMAND ${CMAKE_AR} qc ${fuzz_archive} ${fuzz_objects}
  COMMAND ${CMAKE_RANLIB} ${fuzz_archive}
  DEPENDS ${fuzz_objects}
  COMMENT "Archiving fuzz library"
  VERBATIM)

file(GLOB fuzz_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
set(fuzz_binaries "")
foreach(fuzz_source IN LISTS fuzz_sources)
  get_filename_component(name ${fuzz_source} NAME_WE)
  file(RELATIVE_PATH relative ${CMAKE_SOURCE_DIR} ${fuzz_source})
  couture_fuzz_object(${relative} -fsanitize=fuzzer,address,undefined object)
  set(binary ${fuzz_dir}/${name})
  add_custom_command(
    OUTPUT ${binary}
    COMMAND ${COUTURE_FUZZ_CXX} -fsanitize=fuzzer,address,undefined ${object} ${fuzz_archive}
            ${UTF8PROC_LIB} ${ZLIB_LIBRARIES} -o ${binary}
    DEPENDS ${object} ${fuzz_archive}
    COMMENT "Linking fuzz target ${name}"
    VERBATIM)
  list(APPEND fuzz_binaries ${binary})
  # The test is a fixed walk: seed 1, 50,000 inputs, starting from the committed seeds alone in a fresh folder, so
  # a commit passes or fails the same way on every machine. Open-ended searching is `make fuzz` and `make stress`,
  # whose finds go to the build folder; a crash found there joins fuzz/corpus/<target>/ with its fix.
  set(work ${fuzz_dir}/work/${name})
  set(dict "")
  if(EXISTS ${CMAKE_SOURCE_DIR}/fuzz/${name}.dict)
    set(dict "-dict='${CMAKE_SOURCE_DIR}/fuzz/${name}.dict'")
  endif()
  add_test(NAME ${name}
           COMMAND sh -c "rm -rf '${work}/test' && mkdir -p '${work}/test/corpus' && exec '${binary}' -seed=1 \
-runs=50000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${dict} -artifact_prefix='${work}/test/' \
'${work}/test/corpus' '${CMAKE_SOURCE_DIR}/fuzz/corpus/${name}'")
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
add_custom_target(fuzzers ALL DEPENDS ${fuzz_binaries})
