# cmake -DCXFLOW=path/to/cxflow -DOUT=.../host_build_check.hpp -P write_build_check.cmake
# Writes the header the installed SDK force-includes into every plugin built against it: the
# build key of the cxflow it was installed with, and a compile-time check of the plugin's own.
execute_process(COMMAND ${CXFLOW} --version OUTPUT_VARIABLE version RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CXFLOW} --version failed (${rc})")
endif()
string(REGEX MATCH "build key ([^\n]*)" _ "${version}")
set(key "${CMAKE_MATCH_1}")
if(key STREQUAL "")
  message(FATAL_ERROR "no build key in the output of ${CXFLOW} --version:\n${version}")
endif()
file(WRITE ${OUT}.tmp "// Generated when cxflow was built; installed with its SDK and force-included by
// cxflow_add_plugin into every plugin built against that SDK. A plugin compiled with another
// compiler, standard library ABI, Boost, _GLIBCXX_DEBUG or sanitizer setting than the host would be
// refused when the host loads it; this check refuses it at compile time instead, and the error
// names both build keys: the plugin's first, the host's second.
#pragma once
#include <cstddef>

#include \"cxflow/version.hpp\"

#define CXFLOW_HOST_BUILD_KEY \"${key}\"

namespace cxflow::sdk_check {
template <std::size_t N>
struct Key {
  char text[N];
  constexpr Key(const char (&s)[N]) {
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};
template <Key A, Key B>
constexpr bool same_key() {
  if (sizeof(A.text) != sizeof(B.text)) return false;
  for (std::size_t i = 0; i < sizeof(A.text); ++i)
    if (A.text[i] != B.text[i]) return false;
  return true;
}
template <Key Plugin, Key Host, bool = same_key<Plugin, Host>()>
struct plugin_build_key_matches_host {
  static constexpr bool ok = true;
};
// Left incomplete: using it is the compile error, and the compiler prints both keys.
template <Key Plugin, Key Host>
struct plugin_build_key_matches_host<Plugin, Host, false>;
static_assert(plugin_build_key_matches_host<CXFLOW_BUILD_KEY, CXFLOW_HOST_BUILD_KEY>::ok,
              \"this plugin is compiled with other settings than the cxflow host it is built for \"
              \"(compiler, standard library ABI, Boost, _GLIBCXX_DEBUG or sanitizers): the plugin's build \"
              \"key is the first argument above, the host's the second; build with the host's settings\");
}  // namespace cxflow::sdk_check
")
file(RENAME ${OUT}.tmp ${OUT})
