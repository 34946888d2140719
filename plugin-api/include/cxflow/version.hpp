// The ABI contract between the cxflow host and its plugins.
//
// Plugins exchange C++ types with the host, so two things must match before the host touches
// anything else in a plugin:
//   * CXFLOW_ABI_VERSION: bumped whenever a public header under cxflow/ changes in a way that
//     changes layout or behaviour. tests/host/abi_lock_test.cpp hashes these headers and fails
//     when they change while plugin-api/abi.lock still names the old hash for this version.
//   * CXFLOW_BUILD_KEY: what makes two C++ binaries incompatible even with identical headers
//     (compiler and version, standard-library ABI, Boost version, sanitizers, debug containers).
#pragma once

#include <cstdint>

#if __has_include(<boost/version.hpp>)
#include <boost/version.hpp>
#define CXFLOW_BOOST_VERSION BOOST_VERSION
#else
#define CXFLOW_BOOST_VERSION 0
#endif

#define CXFLOW_ABI_VERSION 9u

#define CXFLOW_STR_(x) #x
#define CXFLOW_STR(x) CXFLOW_STR_(x)

#if defined(__clang__)
#define CXFLOW_COMPILER_ "clang-" CXFLOW_STR(__clang_major__) "." CXFLOW_STR(__clang_minor__)
#elif defined(__GNUC__)
#define CXFLOW_COMPILER_ "gcc-" CXFLOW_STR(__GNUC__) "." CXFLOW_STR(__GNUC_MINOR__)
#else
#define CXFLOW_COMPILER_ "unknown-compiler"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define CXFLOW_STDLIB_ "libstdc++-cxx11abi" CXFLOW_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define CXFLOW_STDLIB_ "libc++" CXFLOW_STR(_LIBCPP_VERSION)
#else
#define CXFLOW_STDLIB_ "stdlib-unknown"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CXFLOW_ASAN_ " asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CXFLOW_ASAN_ " asan"
#endif
#endif
#ifndef CXFLOW_ASAN_
#define CXFLOW_ASAN_ ""
#endif

#if defined(_GLIBCXX_DEBUG)
#define CXFLOW_DEBUGCONT_ " glibcxx-debug"
#else
#define CXFLOW_DEBUGCONT_ ""
#endif

#ifndef CXFLOW_BUILD_KEY
#define CXFLOW_BUILD_KEY                                                                                        \
  CXFLOW_COMPILER_ " " CXFLOW_STDLIB_ " boost-" CXFLOW_STR(CXFLOW_BOOST_VERSION) " c++" CXFLOW_STR(__cplusplus) \
      CXFLOW_ASAN_ CXFLOW_DEBUGCONT_
#endif

namespace cxflow {
inline constexpr std::uint32_t kAbiVersion = CXFLOW_ABI_VERSION;
inline constexpr const char* kBuildKey = CXFLOW_BUILD_KEY;
}  // namespace cxflow
