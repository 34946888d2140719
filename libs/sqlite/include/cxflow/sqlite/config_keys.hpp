// The storage keys every plugin that writes SQLite declares (a shared config family): busy
// timeout, the locked-commit retry policy, and URI paths. One declaration, so sink-sqlite and
// sink-alerts' store have the same names, defaults, ranges and meaning, and `describe` says so.
//
// Header-only and the one part of cxflow-sqlite that knows plugin-api: include it from plugin.cpp.
#pragma once

#include <cxflow/config.hpp>

#include <string>

#include "cxflow/sqlite/sqlite.hpp"

namespace cxflow::sqlite {

// `C` has members busy_timeout and lock_retry_backoff (Duration), lock_retries (int), uri (bool)
// and path (std::string). `on_give_up` ends the lock_retries description: what happens when the
// retries are spent.
template <class C>
void declare_storage_keys(Schema<C>& s, const std::string& on_give_up) {
  s.key("busy_timeout", &C::busy_timeout,
        "How long SQLite waits for another connection's write lock before an attempt counts as locked")
      .def("5s")
      .range(0, 600'000);
  s.key("lock_retries", &C::lock_retries,
        "How often a commit that found the database locked (after busy_timeout) is retried, with doubling backoff, " +
            on_give_up)
      .def("5")
      .range(0, 100);
  s.key("lock_retry_backoff", &C::lock_retry_backoff,
        "Wait before the first retry of a locked commit; doubles for each further retry (at most 30s)")
      .def("200ms")
      .range(1, 60'000);
  s.key("uri", &C::uri,
        "Let SQLite read `path` as a URI (file:x.db?mode=ro&cache=shared, :memory:). Off by default: such a path is "
        "refused, since mode=memory or :memory: would write nothing to disk")
      .def("false");
  s.check("path", [](const C& c) { return path_problem(c.path, c.uri, "uri"); });
}

}  // namespace cxflow::sqlite
