# cxflow_add_plugin(NAME SOURCES src...)
# A plugin is a MODULE library named exactly after the plugin (NAME.so, no "lib" prefix),
# with hidden visibility, landing in the one plugin folder of the build tree and installed
# next to the others.
function(cxflow_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE cxflow::api cxflow_warnings ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${CXFLOW_PLUGIN_OUTPUT_DIR}
    INSTALL_RPATH "$ORIGIN/../.."
    BUILD_RPATH "${CMAKE_BINARY_DIR}/${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS ${name} LIBRARY DESTINATION ${CXFLOW_PLUGIN_SUBDIR})
  set_property(GLOBAL APPEND PROPERTY CXFLOW_PLUGINS ${name})
endfunction()
