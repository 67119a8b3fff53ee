# Resolves SINKBENCH_CUDA (AUTO/ON/OFF) into SINKBENCH_HAVE_CUDA and enables the CUDA language.
# CI machines have nvcc but no GPU: device code must compile there, so the architecture list is
# explicit (never "native", which needs a GPU at configure time).
include(CheckLanguage)
set(SINKBENCH_HAVE_CUDA OFF)
if(NOT SINKBENCH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(SINKBENCH_HAVE_CUDA ON)
  elseif(SINKBENCH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SINKBENCH_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER)")
  endif()
endif()

if(SINKBENCH_HAVE_CUDA)
  set(CMAKE_CUDA_ARCHITECTURES ${SINKBENCH_CUDA_ARCHS})
  enable_language(CUDA)
  # CMake 3.25 knows no C++20 dialect for nvcc; device code is C++17.
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "sinkbench: CUDA on (${CMAKE_CUDA_COMPILER_VERSION}, archs ${SINKBENCH_CUDA_ARCHS})")
else()
  message(STATUS "sinkbench: CUDA off")
endif()
