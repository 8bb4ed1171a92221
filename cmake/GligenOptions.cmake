# One INTERFACE target carrying the project's warnings and options; every target links it PRIVATE.
add_library(gligen_options INTERFACE)
# Qt's `slots`/`signals`/`emit` macros clash with LibTorch (IValue::slots()): use Q_SLOTS etc.
target_compile_definitions(gligen_options INTERFACE QT_NO_KEYWORDS)
target_compile_options(gligen_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wno-unused-parameter>)
if(GLIGEN_WARNINGS_AS_ERRORS)
  target_compile_options(gligen_options INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-Werror>)
endif()
if(GLIGEN_SANITIZE)
  target_compile_options(gligen_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(gligen_options INTERFACE -fsanitize=address,undefined)
endif()

# gligen_add_library(<name> <subdir>): a core module built from every .cpp in core/<subdir>.
# Each module is its own static library so that a module can be built and tested alone.
function(gligen_add_core_module name subdir)
  file(GLOB _srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${subdir}/*.cpp")
  file(GLOB _hdrs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${subdir}/*.h")
  if(NOT _srcs)
    # A module folder with no sources yet still gives a (empty) library, so dependents link.
    set(_empty "${CMAKE_CURRENT_BINARY_DIR}/${name}_empty.cpp")
    file(WRITE "${_empty}" "// ${name} has no sources yet\n")
    set(_srcs "${_empty}")
  endif()
  add_library(${name} STATIC ${_srcs} ${_hdrs})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE gligen_options)
endfunction()

# gligen_add_pch_executable(<exe> <pch-target> <sources...>): an executable whose sources are
# compiled in an OBJECT library so they reuse <pch-target>'s precompiled header (an executable
# would be compiled with -fPIE and could not share a -fPIC header). Link dependencies to
# <exe>_objects. Object files are all linked, so static self-registration works.
function(gligen_add_pch_executable exe pch)
  add_library(${exe}_objects OBJECT ${ARGN})
  target_link_libraries(${exe}_objects PRIVATE gligen_options)
  target_precompile_headers(${exe}_objects REUSE_FROM ${pch})
  add_executable(${exe})
  target_link_libraries(${exe} PRIVATE ${exe}_objects gligen_options)
endfunction()
