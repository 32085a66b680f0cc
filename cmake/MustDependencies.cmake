# Every third-party dependency is found here, once. All come from Debian packages (scripts/setup.sh).

if(MUST_USE_CCACHE)
  find_program(MUST_CCACHE ccache)
  if(MUST_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${MUST_CCACHE})
    # Precompiled headers change mtimes ccache would otherwise look at.
    set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
  endif()
endif()

find_package(Threads REQUIRED)
find_package(Torch REQUIRED)

if(MUST_LIBTORCH_ONLY)
  # A machine with PyTorch and nothing else: the header-only libraries and googletest's sources come from
  # MUST_THIRD_PARTY (copied from this machine's Debian packages by scripts/gpu_check.sh --prepare).
  if(NOT EXISTS "${MUST_THIRD_PARTY}/include/spdlog/spdlog.h")
    message(FATAL_ERROR "MUST_LIBTORCH_ONLY needs ${MUST_THIRD_PARTY}: run scripts/gpu_check.sh --prepare on a machine "
                        "with the project's Debian packages and carry the folder")
  endif()
  add_library(must_header_only INTERFACE)
  target_include_directories(must_header_only SYSTEM INTERFACE "${MUST_THIRD_PARTY}/include")
  # Debian's spdlog uses fmt as an external library; both header-only here.
  target_compile_definitions(must_header_only INTERFACE FMT_HEADER_ONLY SPDLOG_HEADER_ONLY)
  # c10d's Gloo process group includes gloo's headers; PyTorch's own, which match its build, win when it has them.
  set(MUST_TORCH_HAS_GLOO FALSE)
  foreach(dir ${TORCH_INCLUDE_DIRS})
    if(EXISTS "${dir}/gloo/config.h")
      set(MUST_TORCH_HAS_GLOO TRUE)
    endif()
  endforeach()
  if(NOT MUST_TORCH_HAS_GLOO)
    target_include_directories(must_header_only SYSTEM INTERFACE "${MUST_THIRD_PARTY}/gloo-include")
  endif()
  foreach(name spdlog::spdlog nlohmann_json::nlohmann_json CLI11::CLI11)
    string(REPLACE "::" "_" alias_target "must_${name}")
    add_library(${alias_target} INTERFACE)
    target_link_libraries(${alias_target} INTERFACE must_header_only)
    add_library(${name} ALIAS ${alias_target})
  endforeach()
  # Every source, googletest's too, with PyTorch's flags: pip wheels may use the pre-C++11 string ABI, and a
  # mismatch would only show at link time.
  string(APPEND CMAKE_CXX_FLAGS " ${TORCH_CXX_FLAGS}")
  if(MUST_BUILD_TESTS)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory("${MUST_THIRD_PARTY}/googletest" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
    include(GoogleTest)
  endif()
else()
  find_package(yaml-cpp REQUIRED)
  find_package(spdlog REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
endif()

if(NOT MUST_LIBTORCH_ONLY)
# Debian splits OpenCV into per-module -dev packages that ship no CMake config; find the three we use by hand.
find_path(MUST_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
add_library(must_opencv INTERFACE)
foreach(module core imgproc imgcodecs)
  find_library(MUST_OPENCV_${module} opencv_${module} REQUIRED)
  target_link_libraries(must_opencv INTERFACE ${MUST_OPENCV_${module}})
endforeach()
target_include_directories(must_opencv SYSTEM INTERFACE ${MUST_OPENCV_INCLUDE_DIR})
endif()

# LibTorch as one interface target. Its headers are marked SYSTEM so our warnings stay about our code.
add_library(must_torch INTERFACE)
target_link_libraries(must_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(must_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(must_torch INTERFACE ${_torch_flags})

if(MUST_BUILD_TESTS AND NOT MUST_LIBTORCH_ONLY)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
