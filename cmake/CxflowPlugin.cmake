# cxflow_add_plugin(NAME SOURCES src... [LIBRARIES libs...])
#
# Builds a cxflow plugin: a MODULE library named exactly after the plugin (NAME.so, no "lib"
# prefix), hidden visibility, linked against cxflow::api, landing in one plugin folder of the
# build tree (CXFLOW_PLUGIN_OUTPUT_DIR, default <build>/plugins) and installed into
# CXFLOW_PLUGIN_SUBDIR (default lib/cxflow/plugins) under the install prefix.
#
# Works in the cxflow tree and, through find_package(cxflow), for plugins built out of tree.
if(NOT DEFINED CXFLOW_PLUGIN_SUBDIR)
  set(CXFLOW_PLUGIN_SUBDIR lib/cxflow/plugins)
endif()
if(NOT DEFINED CXFLOW_PLUGIN_OUTPUT_DIR)
  set(CXFLOW_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
endif()

function(cxflow_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE cxflow::api ${ARG_LIBRARIES})
  target_compile_features(${name} PRIVATE cxx_std_20)
  if(TARGET cxflow_warnings)
    target_link_libraries(${name} PRIVATE cxflow_warnings)
  endif()
  if(DEFINED CXFLOW_SDK_LIBDIR)
    # Out of tree: find libcxflow-api.so where the SDK is installed.
    set(rpath ${CXFLOW_SDK_LIBDIR})
    set(build_rpath ${CXFLOW_SDK_LIBDIR})
    # Compile-time refusal of a plugin built with other settings than the host (cxflowConfig.cmake).
    if(DEFINED CXFLOW_SDK_BUILD_CHECK AND EXISTS ${CXFLOW_SDK_BUILD_CHECK})
      target_compile_options(${name} PRIVATE -include ${CXFLOW_SDK_BUILD_CHECK})
    endif()
  else()
    # In tree: plugins live in <prefix>/lib/cxflow/plugins, the API library in <prefix>/lib.
    set(rpath "$ORIGIN/../..")
    set(build_rpath "${CMAKE_BINARY_DIR}/${CMAKE_INSTALL_LIBDIR}")
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${CXFLOW_PLUGIN_OUTPUT_DIR}
    INSTALL_RPATH "${rpath}"
    BUILD_RPATH "${build_rpath}")
  install(TARGETS ${name} LIBRARY DESTINATION ${CXFLOW_PLUGIN_SUBDIR})
  set_property(GLOBAL APPEND PROPERTY CXFLOW_PLUGINS ${name})
endfunction()
