# Helpers that give every target of ours the same warnings, include paths and (for torch users) the shared
# precompiled header.

add_library(must_warnings INTERFACE)
target_compile_options(must_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                               -Wno-unused-parameter)

# One translation unit including <torch/torch.h> costs ~30 s on the 2-core machine, ~13 s with a precompiled
# header. The header is compiled once, in this object library, and reused by every target that includes torch.
add_library(must_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cpp)
# Same warning flags as the targets that reuse it: GCC rejects a PCH built with other -W flags.
target_link_libraries(must_torch_pch PUBLIC must_torch must_warnings)
target_precompile_headers(must_torch_pch PRIVATE <torch/torch.h>)

# must_add_module(NAME SOURCES ... DEPENDS ... [TORCH])
# A library target `must_<NAME>` with the public headers in include/must/<NAME>/.
function(must_add_module name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(must_${name} ${ARG_SOURCES})
  add_library(must::${name} ALIAS must_${name})
  target_include_directories(must_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(must_${name} PUBLIC ${ARG_DEPENDS} PRIVATE must_warnings)
  if(ARG_TORCH)
    target_link_libraries(must_${name} PUBLIC must_torch)
    target_precompile_headers(must_${name} REUSE_FROM must_torch_pch)
  endif()
endfunction()

# must_cpu_kernel_sources(TARGET SOURCE ...): sources of TARGET that hold hand-written CPU kernels
# (include/must/core/cpu_kernel.h). They build with OpenMP, since at::parallel_for is an OpenMP loop in Debian's
# LibTorch and runs serially without -fopenmp, and without trapping math, which float maxima and clamps need to
# vectorise (no FP exception is ever observed). Sums are not reassociated: kernels reduce into explicit partial
# sums. -Wno-psabi: the kernels pass GCC vector types between inlined internal helpers, never across an ABI.
# They skip the shared precompiled header, whose flags differ.
find_package(OpenMP REQUIRED)
function(must_cpu_kernel_sources target)
  set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES
                              COMPILE_OPTIONS "-fno-trapping-math;-Wno-psabi;${OpenMP_CXX_FLAGS}"
                              SKIP_PRECOMPILE_HEADERS ON)
  target_link_libraries(${target} PRIVATE ${OpenMP_CXX_LIBRARIES})  # not the imported target: its -fopenmp would reach every source
endfunction()

# must_add_tool(NAME SOURCE DEPENDS ...): an executable in build/bin.
function(must_add_tool name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN} must_warnings)
endfunction()

# must_add_unit_test(MODULE SOURCES ... DEPENDS ... [TORCH] [ENVIRONMENT VAR=VALUE ...]): one GoogleTest
# executable per module; ENVIRONMENT applies to its tests under ctest.
function(must_add_unit_test module)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPENDS;ENVIRONMENT" ${ARGN})
  set(target must_test_${module})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPENDS} must_test_support GTest::gtest GTest::gtest_main
                                          must_warnings)
  if(ARG_TORCH)
    target_precompile_headers(${target} REUSE_FROM must_torch_pch)
  endif()
  if(ARG_ENVIRONMENT)
    gtest_discover_tests(${target} TEST_PREFIX "${module}." DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
  else()
    gtest_discover_tests(${target} TEST_PREFIX "${module}." DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
