// Test support: comparing a sink's rows with ground truth keyed by their first two columns
// (window_start, a group key), as the end-to-end tests of several sources do.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "process.hpp"

namespace cxflow::test {

// Every row must have an entry in `expected` (a map keyed by {row[0], row[1]}) and every entry a
// row; `check(row, entry)` asserts the other columns. Returns the sum of column 2 (the count).
template <class Map, class Check>
std::int64_t check_keyed_rows(const Rows& rows, const Map& expected, Check check, const std::string& context) {
  EXPECT_EQ(rows.size(), expected.size()) << context;
  std::int64_t total = 0;
  for (const auto& r : rows) {
    const auto it = expected.find({r[0], r[1]});
    if (it == expected.end()) {
      ADD_FAILURE() << "unexpected row " << r[0] << " " << r[1];
      continue;
    }
    check(r, it->second);
    total += std::stoll(r[2]);
  }
  return total;
}

}  // namespace cxflow::test
