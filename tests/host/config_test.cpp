#include <gtest/gtest.h>

#include "cxflow/config.hpp"

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(cxflow::parse_duration("60s")->ms, 60'000);
  EXPECT_EQ(cxflow::parse_duration("500ms")->ms, 500);
  EXPECT_EQ(cxflow::parse_duration("4h")->ms, 4 * 3'600'000);
  EXPECT_FALSE(cxflow::parse_duration("sixty"));
}
