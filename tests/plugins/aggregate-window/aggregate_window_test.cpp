// aggregate-window through the harness (the real .so): metric semantics on small data, window
// boundaries and lateness, flush, bounds and the error of the approximate metrics, config errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cxflow/testing.hpp"

using cxflow::ConfigError;
using cxflow::Event;
using cxflow::Value;
using cxflow::testing::Harness;

namespace {

constexpr std::int64_t T0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z, a minute boundary
constexpr std::int64_t kMin = 60'000;

Harness make(const std::string& yaml, std::vector<std::string> extra = {}) {
  Harness h = Harness::load("aggregate-window", yaml, std::move(extra));
  h.start();
  return h;
}

const Value* raw(const Harness& h, const Event& e, const std::string& field) { return e.get(h.field(field)); }

bool is_int(const Harness& h, const Event& e, const std::string& field) {
  const Value* v = raw(h, e, field);
  return v != nullptr && std::holds_alternative<std::int64_t>(*v);
}

bool is_null_field(const Harness& h, const Event& e, const std::string& field) {
  const Value* v = raw(h, e, field);
  return v != nullptr && cxflow::is_null(*v);
}

std::string all_messages(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

std::vector<ConfigError> errors_for(const std::string& yaml) {
  return Harness::config_errors("aggregate-window", yaml);
}

}  // namespace

// ---- Metric semantics ------------------------------------------------------------------------

TEST(AggregateWindow, CountSumAvgMinMaxAreExact) {
  auto h = make("window: 60s\nmetrics:\n  n: count\n  total: sum(x)\n  mean: avg(x)\n  lo: min(x)\n  hi: max(x)\n");
  h.push({h.event(T0 + 1000).set("x", 4), h.event(T0 + 2000).set("x", Value(2.5)), h.event(T0 + 3000).set("x", -1),
          h.event(T0 + 4000)});
  EXPECT_TRUE(h.take().empty()) << "nothing before the watermark passes the window end";
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  const Event& e = out[0];
  EXPECT_EQ(e.time_ms, T0);
  EXPECT_EQ(h.text(e, "window_start"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(h.text(e, "window_end"), "2026-01-01T00:01:00.000Z");
  EXPECT_EQ(h.number(e, "n"), 4.0);
  EXPECT_TRUE(is_int(h, e, "n")) << "count is an integer";
  EXPECT_EQ(h.number(e, "total"), 5.5);
  EXPECT_DOUBLE_EQ(*h.number(e, "mean"), 5.5 / 3);
  EXPECT_EQ(h.number(e, "lo"), -1.0);
  EXPECT_EQ(h.number(e, "hi"), 4.0);
  EXPECT_EQ(h.counter("windows_emitted"), 1u);
  EXPECT_EQ(h.counter("non_numeric"), 0u) << "a missing field is not a non-numeric value";
}

TEST(AggregateWindow, OutputFieldsAreInConfigOrderAfterWindowAndGroupFields) {
  auto h = make("window: 60s\ngroup_by: [q]\nmetrics:\n  z_last: count\n  a_first: sum(x)\n");
  h.push({h.event(T0).set("q", "sales").set("x", 1)});
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  std::vector<std::string> names;
  for (const auto& f : out[0].fields) names.push_back(h.fields().name(f.id));
  EXPECT_EQ(names, (std::vector<std::string>{"window_start", "window_end", "q", "z_last", "a_first"}));
}

TEST(AggregateWindow, WhereFiltersEachMetricOnItsOwn) {
  auto h = make(
      "window: 60s\nmetrics:\n"
      "  contacts: count\n"
      "  abandoned: count where metrics.state == abandoned\n"
      "  aht: avg(metrics.handleTime) where metrics.state == ended\n"
      "  wait: avg(metrics.waitTime)\n");
  h.push(
      {h.event(T0 + 1).set("metrics.state", "ended").set("metrics.handleTime", 100).set("metrics.waitTime", 10),
       h.event(T0 + 2).set("metrics.state", "ended").set("metrics.handleTime", 200).set("metrics.waitTime", 30),
       h.event(T0 + 3).set("metrics.state", "abandoned").set("metrics.handleTime", 999).set("metrics.waitTime", 50)});
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "contacts"), 3.0);
  EXPECT_EQ(h.number(out[0], "abandoned"), 1.0);
  EXPECT_EQ(h.number(out[0], "aht"), 150.0) << "the abandoned event's handleTime must not count";
  EXPECT_EQ(h.number(out[0], "wait"), 30.0);
}

TEST(AggregateWindow, RatioIsMatchesOverEventsPassingWhere) {
  auto h = make(
      "window: 60s\nmetrics:\n"
      "  service_level: ratio(metrics.waitTime <= 20)\n"
      "  abandon_rate: ratio(metrics.state == abandoned)\n"
      "  sl_answered: ratio(metrics.waitTime <= 20) where metrics.state == ended\n"
      "  sl_vip: ratio(metrics.waitTime <= 20) where metadata.queue == vip\n");
  h.push({h.event(T0 + 1).set("metrics.state", "ended").set("metrics.waitTime", 5),
          h.event(T0 + 2).set("metrics.state", "ended").set("metrics.waitTime", 25),
          h.event(T0 + 3).set("metrics.state", "abandoned").set("metrics.waitTime", 15),
          h.event(T0 + 4).set("metrics.state", "ended")});  // no waitTime: counts in the denominator, never matches
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(*h.number(out[0], "service_level"), 2.0 / 4);
  EXPECT_DOUBLE_EQ(*h.number(out[0], "abandon_rate"), 1.0 / 4);
  EXPECT_DOUBLE_EQ(*h.number(out[0], "sl_answered"), 1.0 / 3);
  EXPECT_TRUE(is_null_field(h, out[0], "sl_vip")) << "an empty denominator gives null, not 0 and not NaN";
}

TEST(AggregateWindow, EmptyAggregatesAreNullButCountsAndSumsAreZero) {
  auto h = make(
      "window: 60s\nmetrics:\n  n: count where s == x\n  total: sum(v)\n  mean: avg(v)\n  lo: min(v)\n  hi: max(v)\n"
      "  p: p90(v)\n  d: count_distinct(v)\n");
  h.push({h.event(T0 + 5).set("s", "y")});
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "n"), 0.0);
  EXPECT_EQ(h.number(out[0], "total"), 0.0);
  EXPECT_EQ(h.number(out[0], "d"), 0.0);
  for (const char* f : {"mean", "lo", "hi", "p"}) EXPECT_TRUE(is_null_field(h, out[0], f)) << f;
}

TEST(AggregateWindow, NonNumericValuesAreSkippedAndCounted) {
  auto h = make("window: 60s\nmetrics:\n  mean: avg(v)\n  p: p50(v)\n");
  h.push({h.event(T0 + 1).set("v", 10), h.event(T0 + 2).set("v", "ten"), h.event(T0 + 3).set("v", Value(std::nan(""))),
          h.event(T0 + 4).set("v", Value()), h.event(T0 + 5).set("v", Value(20.0))});
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "mean"), 15.0);
  EXPECT_EQ(h.number(out[0], "p"), 10.0);
  // "ten" and NaN, once per accumulator (avg and p50 keep separate ones); null is "missing".
  EXPECT_EQ(h.counter("non_numeric"), 4u);
}

TEST(AggregateWindow, CountDistinctCountsDistinctTextValues) {
  auto h = make(
      "window: 60s\nmetrics:\n  agents: count_distinct(agentId)\n  answered_by: count_distinct(agentId) where s == "
      "ended\n");
  h.push({h.event(T0 + 1).set("agentId", "a1").set("s", "ended"), h.event(T0 + 2).set("agentId", "a2"),
          h.event(T0 + 3).set("agentId", "a1").set("s", "ended"), h.event(T0 + 4).set("agentId", 5),
          h.event(T0 + 5).set("agentId", "5"),  // same text as the number 5
          h.event(T0 + 6).set("agentId", Value(5.0)), h.event(T0 + 7)});
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "agents"), 3.0);
  EXPECT_TRUE(is_int(h, out[0], "agents"));
  EXPECT_EQ(h.number(out[0], "answered_by"), 1.0);
}

TEST(AggregateWindow, PercentilesAreNearestRankOnSmallData) {
  auto h =
      make("window: 60s\nmetrics:\n  p10: p10(w)\n  p50: p50(w)\n  p90: p90(w)\n  p99_9: p99.9(w)\n  p100: p100(w)\n");
  std::vector<Event> events;
  for (int v : {7, 3, 10, 1, 9, 2, 8, 4, 6, 5}) events.push_back(h.event(T0 + v).set("w", v));
  h.push(std::move(events));
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "p10"), 1.0);
  EXPECT_EQ(h.number(out[0], "p50"), 5.0);
  EXPECT_EQ(h.number(out[0], "p90"), 9.0);
  EXPECT_EQ(h.number(out[0], "p99_9"), 10.0);
  EXPECT_EQ(h.number(out[0], "p100"), 10.0);
}

// ---- Groups -------------------------------------------------------------------------------------

TEST(AggregateWindow, GroupByTwoFieldsEmitsOneEventPerGroupInOrderOfAppearance) {
  auto h = make("window: 60s\ngroup_by: [metadata.queue, metadata.skill]\nmetrics:\n  n: count\n  total: sum(v)\n");
  h.push({h.event(T0 + 1).set("metadata.queue", "sales").set("metadata.skill", "en").set("v", 1),
          h.event(T0 + 2).set("metadata.queue", "support").set("metadata.skill", "en").set("v", 2),
          h.event(T0 + 3).set("metadata.queue", "sales").set("metadata.skill", "fr").set("v", 4),
          h.event(T0 + 4).set("metadata.queue", "sales").set("metadata.skill", "en").set("v", 8),
          h.event(T0 + 5).set("metadata.queue", "sales").set("v", 16),  // no skill: its own (null) group
          h.event(T0 + 6).set("metadata.queue", "sales").set("metadata.skill", "").set("v", 32)});  // "" is not null
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 5u);
  struct Row {
    std::string queue, skill;
    double n, total;
  };
  const std::vector<Row> want{{"sales", "en", 2, 9},
                              {"support", "en", 1, 2},
                              {"sales", "fr", 1, 4},
                              {"sales", "", 1, 16},
                              {"sales", "", 1, 32}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(out[i].time_ms, T0);
    EXPECT_EQ(h.text(out[i], "metadata.queue"), want[i].queue) << i;
    EXPECT_EQ(h.text(out[i], "metadata.skill"), want[i].skill) << i;
    EXPECT_EQ(h.number(out[i], "n"), want[i].n) << i;
    EXPECT_EQ(h.number(out[i], "total"), want[i].total) << i;
  }
  EXPECT_TRUE(is_null_field(h, out[3], "metadata.skill")) << "a missing group field is output as null";
  EXPECT_FALSE(is_null_field(h, out[4], "metadata.skill"));
  EXPECT_EQ(h.counter("windows_emitted"), 1u) << "one window, however many groups";
}

TEST(AggregateWindow, GroupKeysCompareByTextAndKeepTheFirstValue) {
  auto h = make("window: 60s\ngroup_by: [skill]\nmetrics:\n  n: count\n");
  h.push(
      {h.event(T0 + 1).set("skill", 7), h.event(T0 + 2).set("skill", "7"), h.event(T0 + 3).set("skill", Value(7.0))});
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.number(out[0], "n"), 3.0);
  EXPECT_TRUE(is_int(h, out[0], "skill"));
}

TEST(AggregateWindow, ManyGroupsKeepTheirOwnState) {
  auto h = make("window: 60s\ngroup_by: [g]\nmetrics:\n  n: count\n  total: sum(v)\n");
  std::vector<Event> events;
  for (int round = 0; round < 3; ++round)
    for (int g = 0; g < 5000; ++g) events.push_back(h.event(T0 + round).set("g", "q" + std::to_string(g)).set("v", g));
  h.push(std::move(events));
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 5000u);
  for (int g = 0; g < 5000; ++g) {
    ASSERT_EQ(h.text(out[g], "g"), "q" + std::to_string(g));
    ASSERT_EQ(h.number(out[g], "n"), 3.0);
    ASSERT_EQ(h.number(out[g], "total"), 3.0 * g);
  }
}

TEST(AggregateWindow, MaxGroupsDropsEventsOfNewGroupsWithOneWarning) {
  auto h = make("window: 60s\ngroup_by: [q]\nmax_groups: 2\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + 1).set("q", "a"), h.event(T0 + 2).set("q", "b"), h.event(T0 + 3).set("q", "c"),
          h.event(T0 + 4).set("q", "a"), h.event(T0 + 5).set("q", "d")});
  h.push({h.event(T0 + 6).set("q", "c")});
  // The next window starts with room again.
  h.push({h.event(T0 + kMin + 1).set("q", "c")});
  h.watermark(T0 + 2 * kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(h.text(out[0], "q"), "a");
  EXPECT_EQ(h.number(out[0], "n"), 2.0);
  EXPECT_EQ(h.text(out[1], "q"), "b");
  EXPECT_EQ(h.text(out[2], "q"), "c");
  EXPECT_EQ(out[2].time_ms, T0 + kMin);
  EXPECT_EQ(h.counter("groups_overflow"), 3u);
  int warnings = 0;
  for (const auto& line : h.logs())
    if (line.find("groups_overflow") != std::string::npos && line.find("max_groups=2") != std::string::npos) ++warnings;
  EXPECT_EQ(warnings, 1) << "the warning is rate-limited (once a minute of clock time)";
  h.advance(61'000);
  h.push({h.event(T0 + 2 * kMin).set("q", "x"), h.event(T0 + 2 * kMin).set("q", "y"),
          h.event(T0 + 2 * kMin).set("q", "z")});
  warnings = 0;
  for (const auto& line : h.logs())
    if (line.find("groups_overflow") != std::string::npos) ++warnings;
  EXPECT_EQ(warnings, 2) << "a minute later it warns again";
}

// ---- Windows, watermarks, lateness --------------------------------------------------------------

TEST(AggregateWindow, EventAtExactlyWindowEndBelongsToTheNextWindow) {
  auto h = make("window: 60s\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + kMin - 1), h.event(T0 + kMin), h.event(T0)});
  h.watermark(T0 + kMin - 1);
  EXPECT_TRUE(h.take().empty()) << "the window closes when the watermark reaches its end, not before";
  h.watermark(T0 + kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0);
  EXPECT_EQ(h.number(out[0], "n"), 2.0);
  h.watermark(T0 + 2 * kMin);
  out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0 + kMin);
  EXPECT_EQ(h.number(out[0], "n"), 1.0);
}

TEST(AggregateWindow, WindowsAreAlignedToTheEpochIncludingBeforeIt) {
  auto h = make("window: 7s\nmetrics:\n  n: count\n");
  h.push({h.event(-1), h.event(0), h.event(6999), h.event(7000)});
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].time_ms, -7000);
  EXPECT_EQ(h.text(out[0], "window_end"), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(out[1].time_ms, 0);
  EXPECT_EQ(h.number(out[1], "n"), 2.0);
  EXPECT_EQ(out[2].time_ms, 7000);
}

TEST(AggregateWindow, OutOfOrderEventsWithinAndAcrossOpenWindowsMerge) {
  auto h = make("window: 60s\ngroup_by: [q]\nmetrics:\n  n: count\n  lo: min(v)\n");
  h.push({h.event(T0 + kMin + 5).set("q", "a").set("v", 1), h.event(T0 + 50'000).set("q", "a").set("v", 50),
          h.event(T0 + 10'000).set("q", "b").set("v", 10), h.event(T0 + 30'000).set("q", "a").set("v", 30),
          h.event(T0 + 2 * kMin + 1).set("q", "a").set("v", 2), h.event(T0 + 20).set("q", "a").set("v", 20)});
  h.watermark(T0 + 3 * kMin);  // closes three windows in one call
  auto out = h.take();
  ASSERT_EQ(out.size(), 4u);
  // Window order, then the groups of each window together.
  EXPECT_EQ(out[0].time_ms, T0);
  EXPECT_EQ(h.text(out[0], "q"), "a");
  EXPECT_EQ(h.number(out[0], "n"), 3.0);
  EXPECT_EQ(h.number(out[0], "lo"), 20.0);
  EXPECT_EQ(out[1].time_ms, T0);
  EXPECT_EQ(h.text(out[1], "q"), "b");
  EXPECT_EQ(out[2].time_ms, T0 + kMin);
  EXPECT_EQ(out[3].time_ms, T0 + 2 * kMin);
  EXPECT_EQ(h.counter("windows_emitted"), 3u);
  EXPECT_EQ(h.counter("late_events"), 0u);
}

TEST(AggregateWindow, LateEventIsCountedAndNeverMerged) {
  auto h = make("window: 60s\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + 1000)});
  h.watermark(T0 + kMin);
  ASSERT_EQ(h.take().size(), 1u);
  h.push({h.event(T0 + 2000), h.event(T0 + kMin - 1), h.event(T0 + kMin + 1)});
  EXPECT_EQ(h.counter("late_events"), 2u);
  h.watermark(T0 + 2 * kMin);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u) << "the closed window is not emitted again";
  EXPECT_EQ(out[0].time_ms, T0 + kMin);
  EXPECT_EQ(h.number(out[0], "n"), 1.0);
}

TEST(AggregateWindow, EventForAWindowThatNeverOpenedButIsPastTheWatermarkIsLate) {
  auto h = make("window: 60s\nallowed_lateness: 5s\nmetrics:\n  n: count\n");
  h.watermark(T0 + 10 * kMin);
  h.push({h.event(T0 + 9 * kMin - 1), h.event(T0 + 9 * kMin + 1)});
  EXPECT_EQ(h.counter("late_events"), 1u) << "window 8 ended at 9m, + 5s <= 10m";
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0 + 9 * kMin);
}

TEST(AggregateWindow, AllowedLatenessKeepsTheWindowOpenAndMergesStragglers) {
  auto h = make("window: 60s\nallowed_lateness: 10s\nmetrics:\n  n: count\n  total: sum(v)\n");
  h.push({h.event(T0 + 1000).set("v", 1), h.event(T0 + kMin + 1000).set("v", 100)});
  h.watermark(T0 + kMin + 5000);
  EXPECT_TRUE(h.take().empty()) << "window end + lateness not reached yet";
  h.push({h.event(T0 + 59'000).set("v", 2)});  // behind the watermark but within the lateness: merged
  EXPECT_EQ(h.counter("late_events"), 0u);
  h.watermark(T0 + kMin + 9999);
  EXPECT_TRUE(h.take().empty());
  h.watermark(T0 + kMin + 10'000);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0);
  EXPECT_EQ(h.number(out[0], "n"), 2.0);
  EXPECT_EQ(h.number(out[0], "total"), 3.0);
  h.push({h.event(T0 + 59'999).set("v", 4)});  // now the window is closed: late
  EXPECT_EQ(h.counter("late_events"), 1u);
  h.end_of_stream();
  out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0 + kMin);
  EXPECT_EQ(h.number(out[0], "total"), 100.0);
}

TEST(AggregateWindow, WatermarkGoingBackwardsChangesNothing) {
  auto h = make("window: 60s\nmetrics:\n  n: count\n");
  h.watermark(T0 + 2 * kMin);
  h.watermark(T0);
  h.push({h.event(T0 + kMin + 1)});
  EXPECT_EQ(h.counter("late_events"), 1u);
}

TEST(AggregateWindow, EndOfStreamFlushesOpenWindowsInOrder) {
  auto h = make("window: 60s\nallowed_lateness: 1h\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + 2 * kMin + 1), h.event(T0 + 1), h.event(T0 + kMin + 1), h.event(T0 + 2)});
  h.watermark(T0 + 3 * kMin);
  EXPECT_TRUE(h.take().empty());
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].time_ms, T0);
  EXPECT_EQ(h.number(out[0], "n"), 2.0);
  EXPECT_EQ(out[1].time_ms, T0 + kMin);
  EXPECT_EQ(out[2].time_ms, T0 + 2 * kMin);
  EXPECT_EQ(h.counter("windows_emitted"), 3u);
}

TEST(AggregateWindow, FlushOnEndFalseDiscardsOpenWindows) {
  auto h = make("window: 60s\nflush_on_end: false\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + 1), h.event(T0 + kMin + 1)});
  h.watermark(T0 + kMin);
  EXPECT_EQ(h.take().size(), 1u);
  h.end_of_stream();
  EXPECT_TRUE(h.take().empty());
  EXPECT_EQ(h.counter("windows_emitted"), 1u);
}

TEST(AggregateWindow, MaxOpenWindowsClosesTheOldestEarly) {
  auto h = make("window: 60s\nmax_open_windows: 2\nmetrics:\n  n: count\n");
  h.push({h.event(T0 + 1), h.event(T0 + kMin + 1), h.event(T0 + 2)});
  EXPECT_TRUE(h.take().empty());
  h.push({h.event(T0 + 2 * kMin + 1)});  // a third window: the oldest is emitted now
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, T0);
  EXPECT_EQ(h.number(out[0], "n"), 2.0);
  EXPECT_EQ(h.counter("windows_forced"), 1u);
  h.push({h.event(T0 + 3)});  // its window was emitted: late
  EXPECT_EQ(h.counter("late_events"), 1u);
  h.end_of_stream();
  out = h.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].time_ms, T0 + kMin);
  EXPECT_EQ(out[1].time_ms, T0 + 2 * kMin);
}

// ---- Approximate metrics: error bounds ---------------------------------------------------------

TEST(AggregateWindow, CountDistinctSwitchesToHyperLogLogWithinThreePercent) {
  auto h = make("window: 1h\ngroup_by: [q]\nmetrics:\n  contacts: count_distinct(interactionId)\n");
  const int n = 200'000;
  for (int start = 0; start < n; start += 10'000) {
    std::vector<Event> events;
    for (int i = start; i < start + 10'000; ++i) {
      events.push_back(h.event(T0 + i % 3'600'000).set("q", "sales").set("interactionId", "c-" + std::to_string(i)));
      if (i % 4 == 0)
        events.push_back(h.event(T0 + 7).set("q", "sales").set("interactionId", "c-" + std::to_string(i)));
    }
    // A small group in the same window stays exact.
    events.push_back(h.event(T0 + 1).set("q", "vip").set("interactionId", "v-" + std::to_string(start % 30'000)));
    h.push(std::move(events));
  }
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 2u);
  const double est = *h.number(out[0], "contacts");
  EXPECT_LT(std::fabs(est - n) / n, 0.03) << "estimate " << est;
  EXPECT_EQ(h.number(out[1], "contacts"), 3.0);
}

TEST(AggregateWindow, PercentileSketchIsWithinOnePercentOfExactNearestRank) {
  auto h = make("window: 1h\nmetrics:\n  p50: p50(w)\n  p90: p90(w)\n  p99: p99(w)\n  p99_9: p99.9(w)\n  hi: max(w)\n");
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> wait(2.5, 1.2);
  std::vector<double> values;
  std::vector<Event> events;
  for (int i = 0; i < 100'000; ++i) {
    const double v = i % 10 == 0 ? 0.0 : wait(rng);  // answered at once: wait 0
    values.push_back(v);
    events.push_back(h.event(T0 + i).set("w", Value(v)));
  }
  h.push(std::move(events));
  h.end_of_stream();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  std::sort(values.begin(), values.end());
  auto exact = [&](double q) {  // nearest rank: ceil(q/100 * n), 1-based
    const auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(values.size()) - 1e-9));
    return values[rank - 1];
  };
  for (auto [name, q] :
       std::vector<std::pair<std::string, double>>{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99_9", 99.9}}) {
    const double got = *h.number(out[0], name);
    EXPECT_LE(std::fabs(got - exact(q)) / exact(q), 0.01 * (1 + 1e-9))
        << name << " exact " << exact(q) << " got " << got;
  }
  EXPECT_EQ(h.number(out[0], "hi"), values.back()) << "max stays exact";
}

// ---- Config errors ---------------------------------------------------------------------------

TEST(AggregateWindowConfig, ExampleConfigures) {
  const auto& api = Harness::api("aggregate-window");
  EXPECT_TRUE(errors_for(api.example()).empty()) << all_messages(errors_for(api.example()));
  for (const auto& k : api.schema().keys) EXPECT_GT(k.description.size(), 20u) << k.name;
}

TEST(AggregateWindowConfig, WindowMustBePositive) {
  const auto errors = errors_for("window: 0s\nmetrics: {n: count}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "window");
  EXPECT_EQ(errors[0].pos.line, 1);
}

TEST(AggregateWindowConfig, WindowAndMetricsAreRequired) {
  const std::string msg = all_messages(errors_for("group_by: [q]\n"));
  EXPECT_NE(msg.find("'window'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'metrics'"), std::string::npos) << msg;
}

TEST(AggregateWindowConfig, MetricsMustBeANonEmptyMapOfStrings) {
  EXPECT_NE(all_messages(errors_for("window: 60s\nmetrics: [count]\n")).find("expected a map of metric name"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\nmetrics: {}\n")).find("at least one metric"), std::string::npos);
  const std::string nested = all_messages(errors_for("window: 60s\nmetrics:\n  n: {fn: count}\n"));
  EXPECT_NE(nested.find("metrics.n: expected an expression"), std::string::npos) << nested;
}

TEST(AggregateWindowConfig, BadExpressionNamesTheMetricAndThePosition) {
  const auto errors = errors_for("window: 60s\nmetrics:\n  n: count\n  aht: avg(metrics.handleTime) wher x == 1\n");
  ASSERT_EQ(errors.size(), 1u);
  const std::string msg = errors[0].message;
  EXPECT_NE(msg.find("metrics.aht"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected 'wher x == 1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected e.g."), std::string::npos) << "the message carries an example: " << msg;
  EXPECT_EQ(errors[0].pos.line, 4);
  EXPECT_EQ(errors[0].pos.column, 8 + 24) << "column of 'wher' in the line";
}

TEST(AggregateWindowConfig, MalformedCallsAreRejected) {
  struct Case {
    std::string expr, needle;
  };
  for (const Case& c : std::vector<Case>{{"avg(metrics.waitTime", "missing ')'"},
                                         {"avg()", "needs a field"},
                                         {"avg", "expected '(' after 'avg'"},
                                         {"sum(a b)", "expected one field name"},
                                         {"count(agentId)", "'count' takes no argument"},
                                         {"ratio()", "needs a condition"},
                                         {"count where", "expected a condition after 'where'"},
                                         {"(count)", "expected a function name, found '('"},
                                         {"p99.99999(w)", "too many decimals"},
                                         {"\"\"", "empty"}}) {
    const std::string msg = all_messages(errors_for("window: 60s\nmetrics:\n  m1: " + c.expr + "\n"));
    EXPECT_NE(msg.find("metrics.m1"), std::string::npos) << c.expr << " -> " << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.expr << " -> " << msg;
  }
}

TEST(AggregateWindowConfig, UnknownFunctionSuggestsTheClosestOne) {
  const std::string msg = all_messages(errors_for("window: 60s\nmetrics:\n  w: average(metrics.waitTime)\n"));
  EXPECT_NE(msg.find("metrics.w: unknown function 'average'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'avg'"), std::string::npos) << msg;
  const std::string median = all_messages(errors_for("window: 60s\nmetrics:\n  w: median(x)\n"));
  EXPECT_NE(median.find("p50"), std::string::npos) << median;
}

TEST(AggregateWindowConfig, PercentileMustBeAboveZeroAndAtMostHundred) {
  for (const char* p : {"p0", "p101", "p100.5", "p0.0"}) {
    const auto errors = errors_for(std::string("window: 60s\nmetrics:\n  slow: ") + p + "(w)\n");
    ASSERT_EQ(errors.size(), 1u) << p;
    EXPECT_NE(errors[0].message.find("metrics.slow: percentile '" + std::string(p) + "' is out of range"),
              std::string::npos)
        << errors[0].message;
    EXPECT_EQ(errors[0].pos.line, 3);
    EXPECT_EQ(errors[0].pos.column, 9);
  }
  EXPECT_TRUE(errors_for("window: 60s\nmetrics:\n  a: p0.1(w)\n  b: p100(w)\n  c: p99.99(w)\n").empty());
}

TEST(AggregateWindowConfig, BadConditionNamesTheMetric) {
  const auto errors = errors_for("window: 60s\nmetrics:\n  sl: ratio(metrics.waitTime <=)\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("metrics.sl: in condition 'metrics.waitTime <='"), std::string::npos)
      << errors[0].message;
  EXPECT_EQ(errors[0].pos.line, 3);
  const auto where = errors_for("window: 60s\nmetrics:\n  aht: avg(h) where state === ended\n");
  ASSERT_EQ(where.size(), 1u);
  EXPECT_NE(where[0].message.find("metrics.aht: in condition 'state === ended'"), std::string::npos)
      << where[0].message;
}

TEST(AggregateWindowConfig, MetricNamesMustNotCollideWithOutputFields) {
  EXPECT_NE(all_messages(errors_for("window: 60s\ngroup_by: [q]\nmetrics:\n  q: count\n"))
                .find("metrics.q: the name is already an output field"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\nmetrics:\n  window_start: count\n")).find("metrics.window_start"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\nmetrics:\n  n: count\n  n: sum(x)\n")).find("duplicate"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\ngroup_by: [q, q]\nmetrics:\n  n: count\n"))
                .find("group_by: field 'q' is listed twice"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\ngroup_by: [window_end]\nmetrics:\n  n: count\n"))
                .find("group_by: 'window_end' is an output field"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\ngroup_by: ['']\nmetrics:\n  n: count\n"))
                .find("group_by: a field name is empty"),
            std::string::npos);
  EXPECT_NE(all_messages(errors_for("window: 60s\ngroup_by: queue\nmetrics:\n  n: count\n"))
                .find("expected a list of strings"),
            std::string::npos);
}

TEST(AggregateWindowConfig, RangesOfTheLimitsAreChecked) {
  for (const char* bad : {"max_groups: 0", "distinct_hll_precision: 30", "percentile_relative_error: 0",
                          "max_open_windows: 0", "allowed_lateness: -5s"}) {
    const auto errors = errors_for(std::string("window: 60s\nmetrics: {n: count}\n") + bad + "\n");
    ASSERT_EQ(errors.size(), 1u) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find(':'));
    EXPECT_EQ(errors[0].path, key) << bad << ": " << errors[0].str();
  }
}
