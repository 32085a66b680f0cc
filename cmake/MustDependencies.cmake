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
  find_package(spdlog QUIET)
  if(NOT spdlog_FOUND)
    must_missing("spdlog" "libspdlog-dev" "spdlog")
  endif()
  find_package(CLI11 QUIET)
  if(NOT CLI11_FOUND)
    must_missing("CLI11" "libcli11-dev" "cli11")
  endif()
  find_package(nlohmann_json 3 QUIET)
  if(NOT nlohmann_json_FOUND)
    must_missing("nlohmann_json (3.x)" "nlohmann-json3-dev" "nlohmann_json")
  endif()
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
  find_package(yaml-cpp QUIET)
  if(NOT yaml-cpp_FOUND)
    must_missing("yaml-cpp" "libyaml-cpp-dev" "yaml-cpp")
  endif()
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
  find_package(ZLIB QUIET)
  if(NOT ZLIB_FOUND)
    must_missing("zlib" "zlib1g-dev" "zlib")
  endif()
  find_package(PNG QUIET)
  if(NOT PNG_FOUND)
    must_missing("libpng" "libpng-dev" "libpng")
  endif()
  find_path(MUST_TURBOJPEG_INCLUDE turbojpeg.h)
  find_library(MUST_TURBOJPEG turbojpeg)
  if(NOT MUST_TURBOJPEG_INCLUDE OR NOT MUST_TURBOJPEG)
    must_missing("libjpeg-turbo's TurboJPEG" "libturbojpeg0-dev" "libjpeg-turbo")
  endif()
  find_path(MUST_TINYXML2_INCLUDE tinyxml2.h)
  find_library(MUST_TINYXML2 tinyxml2)
  if(NOT MUST_TINYXML2_INCLUDE OR NOT MUST_TINYXML2)
    must_missing("tinyxml2" "libtinyxml2-dev" "tinyxml2")
  endif()
  find_path(MUST_HDF5_INCLUDE hdf5.h PATH_SUFFIXES hdf5/serial)
  find_library(MUST_HDF5 NAMES hdf5_serial hdf5)
  if(NOT MUST_HDF5_INCLUDE OR NOT MUST_HDF5)
    must_missing("HDF5 (C library)" "libhdf5-dev" "hdf5")
  endif()
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
    find_package(GTest QUIET)
    if(NOT GTest_FOUND)
      must_missing("googletest" "libgtest-dev" "gtest")
    endif()
  endif()
  include(GoogleTest)
endif()
