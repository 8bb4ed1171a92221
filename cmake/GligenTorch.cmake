# What the LibTorch found by find_package(Torch) offers, for the build and for `system-info`:
#   GLIGEN_TORCH_SOURCE        "debian package", "pip wheel" or "custom (<folder>)"
#   GLIGEN_TORCH_CUDA          ON when LibTorch was built with CUDA; GLIGEN_TORCH_CUDA_VERSION
#   GLIGEN_TORCH_NCCL          ON when its c10d has NCCL and nccl.h is found (GLIGEN_NCCL_INCLUDE_DIR);
#                              else GLIGEN_TORCH_NCCL_ABSENT_REASON says why.
# Selecting a LibTorch: Debian's by default; another with -DCMAKE_PREFIX_PATH=<its cmake folder>
# (`packaging/dev.sh build --torch pip` does it for the PyPI wheel).

get_filename_component(_torch_dir "${Torch_DIR}" REALPATH)
if(_torch_dir MATCHES "/(site|dist)-packages/torch/")
  set(GLIGEN_TORCH_SOURCE "pip wheel")
  string(REGEX REPLACE "/torch/.*$" "" _site_packages "${_torch_dir}")
elseif(_torch_dir MATCHES "^/usr/lib/" AND EXISTS /etc/debian_version)
  set(GLIGEN_TORCH_SOURCE "debian package")
  set(_site_packages "")
else()
  set(GLIGEN_TORCH_SOURCE "custom (${_torch_dir})")
  set(_site_packages "")
endif()

# The wheel's libtorch_cuda finds NVIDIA's libraries of the same wheels (nvidia/*/lib) through its
# RPATH at run time; the linker, checking its undefined symbols, would take the system's copies first
# (e.g. an older libnccl from /usr/local/cuda in ld.so.conf, which lacks symbols the wheel's NCCL has).
if(_site_packages)
  file(GLOB _nvidia_lib_dirs LIST_DIRECTORIES true "${_site_packages}/nvidia/*/lib")
  foreach(_dir IN LISTS _nvidia_lib_dirs)
    if(IS_DIRECTORY "${_dir}")
      add_link_options("LINKER:-rpath-link,${_dir}")
    endif()
  endforeach()
endif()

# find_library() in TorchConfig.cmake searches the system folders before LibTorch's own lib/: with
# Debian's libtorch installed, another LibTorch's build would link Debian's libraries. Refuse that.
get_filename_component(_torch_root "${TORCH_INSTALL_PREFIX}" REALPATH)
foreach(_lib IN ITEMS TORCH_LIBRARY c10_LIBRARY torch_cpu_LIBRARY)
  if(${_lib})
    get_filename_component(_lib_path "${${_lib}}" REALPATH)
    string(FIND "${_lib_path}" "${_torch_root}/" _at)
    if(NOT _at EQUAL 0)
      message(FATAL_ERROR "${_lib} is ${_lib_path}, outside the LibTorch at ${_torch_root}. Put LibTorch's own "
                          "folder first: -DCMAKE_PREFIX_PATH=\"<its share/cmake>;${_torch_root}\" "
                          "(packaging/dev.sh build --torch pip does), in a fresh build folder.")
    endif()
  endif()
endforeach()

# A CUDA LibTorch has libtorch_cuda (target torch_cuda, or a library in TORCH_LIBRARIES).
set(GLIGEN_TORCH_CUDA OFF)
set(GLIGEN_TORCH_CUDA_VERSION "")
set(_torch_cuda_lib "")
if(TARGET torch_cuda)
  set(GLIGEN_TORCH_CUDA ON)
  get_target_property(_torch_cuda_lib torch_cuda IMPORTED_LOCATION)
  if(NOT _torch_cuda_lib)
    get_target_property(_torch_cuda_lib torch_cuda IMPORTED_LOCATION_RELEASE)
  endif()
  if(CUDAToolkit_VERSION)
    set(GLIGEN_TORCH_CUDA_VERSION "${CUDAToolkit_VERSION}")
  elseif(CUDA_VERSION)
    set(GLIGEN_TORCH_CUDA_VERSION "${CUDA_VERSION}")
  endif()
endif()

# NCCL: LibTorch's c10d has it when libtorch_cuda defines ProcessGroupNCCL; its header includes nccl.h,
# which the pip wheel ships in nvidia/nccl/include and the CUDA toolkit may hold.
set(GLIGEN_TORCH_NCCL OFF)
set(GLIGEN_NCCL_INCLUDE_DIR "" CACHE PATH "Folder holding nccl.h (found automatically when empty)")
if(NOT GLIGEN_TORCH_CUDA)
  set(GLIGEN_TORCH_NCCL_ABSENT_REASON "it was built without CUDA")
elseif(NOT _torch_cuda_lib OR NOT EXISTS "${_torch_cuda_lib}")
  set(GLIGEN_TORCH_NCCL_ABSENT_REASON "libtorch_cuda was not found")
else()
  if(NOT DEFINED CACHE{GLIGEN_TORCH_CUDA_HAS_NCCL} OR NOT "${GLIGEN_TORCH_CUDA_LIB_SCANNED}" STREQUAL "${_torch_cuda_lib}")
    find_program(GLIGEN_NM nm REQUIRED)
    execute_process(COMMAND "${GLIGEN_NM}" -D --defined-only "${_torch_cuda_lib}"
                    OUTPUT_VARIABLE _syms ERROR_QUIET RESULT_VARIABLE _nm_rc)
    set(_has OFF)
    if(_nm_rc EQUAL 0 AND _syms MATCHES "ProcessGroupNCCL")
      set(_has ON)
    endif()
    set(GLIGEN_TORCH_CUDA_HAS_NCCL ${_has} CACHE INTERNAL "libtorch_cuda defines c10d::ProcessGroupNCCL")
    set(GLIGEN_TORCH_CUDA_LIB_SCANNED "${_torch_cuda_lib}" CACHE INTERNAL "")
    unset(_syms)
  endif()
  if(NOT GLIGEN_TORCH_CUDA_HAS_NCCL)
    set(GLIGEN_TORCH_NCCL_ABSENT_REASON "its c10d was built without NCCL")
  else()
    if(NOT GLIGEN_NCCL_INCLUDE_DIR)
      find_path(_nccl_inc nccl.h
        HINTS "${_site_packages}/nvidia/nccl/include" ${CUDAToolkit_INCLUDE_DIRS} "$ENV{NCCL_ROOT}/include"
              /usr/local/cuda/include
        NO_CACHE)
      if(_nccl_inc)
        set(GLIGEN_NCCL_INCLUDE_DIR "${_nccl_inc}" CACHE PATH "Folder holding nccl.h" FORCE)
      endif()
    endif()
    if(GLIGEN_NCCL_INCLUDE_DIR)
      set(GLIGEN_TORCH_NCCL ON)
    else()
      set(GLIGEN_TORCH_NCCL_ABSENT_REASON "nccl.h was not found: set GLIGEN_NCCL_INCLUDE_DIR")
      message(WARNING "LibTorch has NCCL but nccl.h was not found; multi-GPU training is not built. "
                      "Set -DGLIGEN_NCCL_INCLUDE_DIR=<folder with nccl.h>.")
    endif()
  endif()
endif()

message(STATUS "LibTorch ${Torch_VERSION} (${GLIGEN_TORCH_SOURCE}): CUDA ${GLIGEN_TORCH_CUDA} "
               "${GLIGEN_TORCH_CUDA_VERSION}, NCCL ${GLIGEN_TORCH_NCCL} ${GLIGEN_NCCL_INCLUDE_DIR}")
