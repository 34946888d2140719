execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=CXFLOW_PLUGIN_PATH ${CXFLOW} plugins describe --all --json
  RESULT_VARIABLE rc OUTPUT_VARIABLE now ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cxflow plugins describe --all --json failed (${rc}): ${err}")
endif()
file(READ ${DOC} checked_in)
if(NOT now STREQUAL checked_in)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/plugins.json.now "${now}")
  message(FATAL_ERROR "docs/plugins.json is stale: a plugin's keys, defaults or descriptions changed.\n"
    "Regenerate it: cxflow plugins describe --all --json > docs/plugins.json\n"
    "(current output written to ${CMAKE_CURRENT_BINARY_DIR}/plugins.json.now)")
endif()
