# Every third-party dependency is found here, once (docs/building.md).
#
# - LibTorch: any PyTorch >= 1.13, through CMAKE_PREFIX_PATH (torch.utils.cmake_prefix_path) or Debian's
#   libtorch-dev. Its C++ ABI flag (TORCH_CXX_FLAGS) is applied to every source of the project.
# - Compiled libraries (OpenCV core/imgproc/imgcodecs, libjpeg-turbo, libpng, zlib, tinyxml2, HDF5, yaml-cpp): from
#   the system, a conda environment or spack, wherever CMAKE_PREFIX_PATH and the default paths lead.
# - Header-only libraries (spdlog, fmt, nlohmann_json, CLI11) and googletest: from the system, or all of them from the
#   folder MUST_THIRD_PARTY when it is given (include/{spdlog,fmt,nlohmann,CLI}, googletest/ sources, optionally
#   gloo-include/); scripts/third_party_folder.sh makes one from Debian's packages. Nothing is downloaded.
#
# A dependency not found stops CMake with one line naming it and the Debian and conda-forge packages that have it.

# Stops CMake: `what` was not found; `debian` and `conda` name the packages that provide it.
function(must_missing what debian conda)
  message(FATAL_ERROR "must: ${what} not found: install Debian's ${debian} or conda-forge's ${conda}, or add its "
                      "prefix to CMAKE_PREFIX_PATH")
endfunction()

# find_package(NAME [ARGS...]) that stops, naming `what` and its packages, when NAME is not found.
macro(must_find_package name what debian conda)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    must_missing("${what}" "${debian}" "${conda}")
  endif()
endmacro()

# A C library found by its header and its file (no CMake config needed): <prefix>_INCLUDE, the header's folder
# (also looked for under hdf5/serial, Debian's place for HDF5), and <prefix>, the library (`names`: a list); else a
# stop naming `what` and its packages.
macro(must_find_header_and_library prefix header names what debian conda)
  find_path(${prefix}_INCLUDE ${header} PATH_SUFFIXES hdf5/serial)
  find_library(${prefix} NAMES ${names})
  if(NOT ${prefix}_INCLUDE OR NOT ${prefix})
    must_missing("${what}" "${debian}" "${conda}")
  endif()
endmacro()

if(MUST_USE_CCACHE)
  find_program(MUST_CCACHE ccache)
  if(MUST_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${MUST_CCACHE})
    # Precompiled headers change mtimes ccache would otherwise look at.
    set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
  endif()
endif()

find_package(Threads REQUIRED)
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR "must: LibTorch not found: install Debian's libtorch-dev, or point CMAKE_PREFIX_PATH at a "
                      "PyTorch's (python -c 'import torch; print(torch.utils.cmake_prefix_path)')")
endif()
# PyTorch's C++ ABI on every source, googletest's too: a mismatch would only show at link time. The compiler's
# default is the C++11 ABI; a PyTorch built with the old one (torch._C._GLIBCXX_USE_CXX11_ABI False) needs every
# C++ library the tools link (OpenCV, yaml-cpp, tinyxml2) built the same way.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  string(APPEND CMAKE_CXX_FLAGS " -D_GLIBCXX_USE_CXX11_ABI=0")
  if(NOT MUST_LIBTORCH_ONLY)
    message(WARNING "must: this PyTorch uses the pre-C++11 ABI (_GLIBCXX_USE_CXX11_ABI=0): OpenCV, yaml-cpp and "
                    "tinyxml2 must be built with it too, or the tools do not link (conda-forge's and Debian's use the "
                    "C++11 ABI; so do conda-forge's pytorch and PyTorch's cxx11-abi builds)")
  endif()
endif()

# spdlog, fmt, nlohmann_json, CLI11: the targets the modules link, from MUST_THIRD_PARTY or the system.
if(MUST_THIRD_PARTY)
  foreach(header spdlog/spdlog.h fmt/format.h nlohmann/json.hpp CLI/CLI.hpp)
    if(NOT EXISTS "${MUST_THIRD_PARTY}/include/${header}")
      message(FATAL_ERROR "must: MUST_THIRD_PARTY=${MUST_THIRD_PARTY} has no include/${header} (scripts/third_party_folder.sh "
                          "makes the folder)")
    endif()
  endforeach()
  add_library(must_header_only INTERFACE)
  target_include_directories(must_header_only SYSTEM INTERFACE "${MUST_THIRD_PARTY}/include")
  # spdlog and fmt as headers alone: no compiled library of theirs is linked.
  target_compile_definitions(must_header_only INTERFACE FMT_HEADER_ONLY SPDLOG_HEADER_ONLY)
  foreach(name spdlog::spdlog nlohmann_json::nlohmann_json CLI11::CLI11)
    string(REPLACE "::" "_" alias_target "must_${name}")
    add_library(${alias_target} INTERFACE)
    target_link_libraries(${alias_target} INTERFACE must_header_only)
    add_library(${name} ALIAS ${alias_target})
  endforeach()
  message(STATUS "must: spdlog, fmt, nlohmann_json, CLI11 and googletest from ${MUST_THIRD_PARTY}")
else()
  must_find_package(spdlog "spdlog" "libspdlog-dev" "spdlog")
  must_find_package(CLI11 "CLI11" "libcli11-dev" "cli11")
  must_find_package(nlohmann_json "nlohmann_json (3.x)" "nlohmann-json3-dev" "nlohmann_json" 3)
endif()

# c10d's Gloo process group includes gloo's headers: PyTorch's own, which match its build, when it ships them;
# Debian's libgloo-dev, or MUST_THIRD_PARTY/gloo-include, otherwise.
set(MUST_TORCH_HAS_GLOO FALSE)
foreach(dir ${TORCH_INCLUDE_DIRS})
  if(EXISTS "${dir}/gloo/config.h")
    set(MUST_TORCH_HAS_GLOO TRUE)
  endif()
endforeach()
add_library(must_gloo_headers INTERFACE)
if(NOT MUST_TORCH_HAS_GLOO)
  find_path(MUST_GLOO_INCLUDE_DIR gloo/config.h HINTS "${MUST_THIRD_PARTY}/gloo-include")
  if(NOT MUST_GLOO_INCLUDE_DIR)
    must_missing("gloo's headers (this PyTorch ships none)" "libgloo-dev" "gloo")
  endif()
  target_include_directories(must_gloo_headers SYSTEM INTERFACE "${MUST_GLOO_INCLUDE_DIR}")
endif()

if(NOT MUST_LIBTORCH_ONLY)
  # yaml-cpp's CMake config names its target yaml-cpp (0.7) or yaml-cpp::yaml-cpp (0.8).
  must_find_package(yaml-cpp "yaml-cpp" "libyaml-cpp-dev" "yaml-cpp")
  add_library(must_yaml_cpp INTERFACE)
  if(TARGET yaml-cpp::yaml-cpp)
    target_link_libraries(must_yaml_cpp INTERFACE yaml-cpp::yaml-cpp)
  else()
    target_link_libraries(must_yaml_cpp INTERFACE yaml-cpp)
  endif()

  # OpenCV's core, imgproc and imgcodecs: its CMake config where there is one (conda-forge, spack, a source build);
  # Debian splits OpenCV into per-module -dev packages that ship none, so those three are found by hand there.
  add_library(must_opencv INTERFACE)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  if(OpenCV_FOUND)
    target_link_libraries(must_opencv INTERFACE ${OpenCV_LIBS})
    target_include_directories(must_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
  else()
    find_path(MUST_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
    foreach(module core imgproc imgcodecs)
      find_library(MUST_OPENCV_${module} opencv_${module})
      if(NOT MUST_OPENCV_INCLUDE_DIR OR NOT MUST_OPENCV_${module})
        must_missing("OpenCV's ${module}" "libopencv-${module}-dev" "libopencv")
      endif()
      target_link_libraries(must_opencv INTERFACE ${MUST_OPENCV_${module}})
    endforeach()
    target_include_directories(must_opencv SYSTEM INTERFACE ${MUST_OPENCV_INCLUDE_DIR})
  endif()

  # The dataset readers': PNG (palette indices), JPEG with DCT scaling, VOC's XML, NYU's HDF5 .mat (the serial C
  # library; FindHDF5 needs the C language enabled, so it is looked up directly).
  must_find_package(ZLIB "zlib" "zlib1g-dev" "zlib")
  must_find_package(PNG "libpng" "libpng-dev" "libpng")
  must_find_header_and_library(MUST_TURBOJPEG turbojpeg.h turbojpeg "libjpeg-turbo's TurboJPEG" "libturbojpeg0-dev"
                               "libjpeg-turbo")
  must_find_header_and_library(MUST_TINYXML2 tinyxml2.h tinyxml2 "tinyxml2" "libtinyxml2-dev" "tinyxml2")
  must_find_header_and_library(MUST_HDF5 hdf5.h "hdf5_serial;hdf5" "HDF5 (C library)" "libhdf5-dev" "hdf5")
endif()

# LibTorch as one interface target. Its headers are marked SYSTEM so our warnings stay about our code.
add_library(must_torch INTERFACE)
target_link_libraries(must_torch INTERFACE ${TORCH_LIBRARIES} must_gloo_headers)
target_include_directories(must_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(must_torch INTERFACE ${_torch_flags})

if(MUST_BUILD_TESTS)
  if(MUST_THIRD_PARTY)
    if(NOT EXISTS "${MUST_THIRD_PARTY}/googletest/CMakeLists.txt")
      message(FATAL_ERROR "must: MUST_THIRD_PARTY=${MUST_THIRD_PARTY} has no googletest/ sources "
                          "(scripts/third_party_folder.sh makes the folder), or configure with -DMUST_BUILD_TESTS=OFF")
    endif()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory("${MUST_THIRD_PARTY}/googletest" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
  else()
    must_find_package(GTest "googletest" "libgtest-dev" "gtest")
  endif()
  include(GoogleTest)
endif()
