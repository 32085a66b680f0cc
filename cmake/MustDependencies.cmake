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
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Torch REQUIRED)

# Debian splits OpenCV into per-module -dev packages that ship no CMake config; find the three we use by hand.
find_path(MUST_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
add_library(must_opencv INTERFACE)
foreach(module core imgproc imgcodecs)
  find_library(MUST_OPENCV_${module} opencv_${module} REQUIRED)
  target_link_libraries(must_opencv INTERFACE ${MUST_OPENCV_${module}})
endforeach()
target_include_directories(must_opencv SYSTEM INTERFACE ${MUST_OPENCV_INCLUDE_DIR})

# LibTorch as one interface target. Its headers are marked SYSTEM so our warnings stay about our code.
add_library(must_torch INTERFACE)
target_link_libraries(must_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(must_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(must_torch INTERFACE ${_torch_flags})

if(MUST_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
