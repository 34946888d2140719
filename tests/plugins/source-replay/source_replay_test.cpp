// source-replay through the harness (the real .so): projection, malformed lines by reason, dead
// letter, pacing on the fake clock, backpressure, the future-event policy, watermarks, end of
// stream, config and start errors.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "testing/harness.hpp"

namespace {

using cxflow::test::TempDir;
using cxflow::testing::Harness;

const std::vector<std::string> kFields = {"eventType", "interactionId", "metrics.state", "metrics.waitTime",
                                          "metadata.queue"};
constexpr std::int64_t kT0 = 1'767'600'000'000;  // 2026-01-05T08:00:00Z

std::string ev(std::int64_t t, const std::string& id, const std::string& state = "ended") {
  return R"({"eventType":"interaction","timestamp":)" + std::to_string(t) + R"(,"interactionId":")" + id +
         R"(","metrics":{"state":")" + state + R"(","waitTime":12.5,"queueTime":3},"metadata":{"queue":"sales"}})";
}

std::string lines(const std::vector<std::string>& ls) {
  std::string s;
  for (const auto& l : ls) s += l + "\n";
  return s;
}

Harness load(const std::string& yaml) { return Harness::load("source-replay", yaml, kFields); }

bool logged(const Harness& h, const std::string& needle) {
  for (const auto& l : h.logs())
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

TEST(SourceReplay, ReplaysEveryEventProjectedThenEndsTheStream) {
  TempDir dir;
  const auto file =
      dir.write("in.jsonl", lines({ev(kT0, "c-1"), ev(kT0 + 1000, "c-2", "abandoned"),
                                   R"({"eventType":"agent","timestamp":"2026-01-05T08:00:02.500Z","agentId":"a-1"})"}));
  auto h = load("path: " + file.string() + "\n");
  h.start();
  h.run();
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.failure(), "");
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].time_ms, kT0);
  EXPECT_EQ(h.text(out[0], "interactionId"), "c-1");
  EXPECT_EQ(h.text(out[0], "metrics.state"), "ended");
  EXPECT_EQ(h.number(out[0], "metrics.waitTime"), 12.5);
  EXPECT_EQ(h.text(out[0], "metadata.queue"), "sales");
  EXPECT_EQ(out[0].fields.size(), 5u);  // queueTime and timestamp are not used by the pipeline
  EXPECT_EQ(h.text(out[1], "metrics.state"), "abandoned");
  EXPECT_EQ(out[2].time_ms, kT0 + 2500);
  EXPECT_EQ(h.text(out[2], "eventType"), "agent");
  ASSERT_FALSE(h.watermarks().empty());
  EXPECT_EQ(h.watermarks().back(), kT0 + 2500);
  EXPECT_EQ(h.counter("lines_read"), 3u);
  EXPECT_EQ(h.counter("malformed_lines"), 0u);
  EXPECT_TRUE(logged(h, "replayed " + file.string() + ": 3 lines"));
}

TEST(SourceReplay, LinesCrossingReadBoundariesBlankLinesCrlfAndNoFinalNewline) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    text += ev(kT0 + i, "c-" + std::to_string(i));
    text += (i % 3 == 0) ? "\r\n" : "\n";
    if (i % 100 == 0) text += "\n   \n";
  }
  text += ev(kT0 + 3000, "last");  // no newline at the end
  const auto file = dir.write("in.jsonl", text);
  auto h = load("path: " + file.string() + "\nread_size: 4KiB\nbatch_size: 100\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 3001u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(h.text(out[i], "interactionId"), "c-" + std::to_string(i)) << i;
  EXPECT_EQ(h.text(out[3000], "interactionId"), "last");
  EXPECT_EQ(h.counter("malformed_lines"), 0u);
  EXPECT_TRUE(h.ended());
}

TEST(SourceReplay, MalformedLinesAreCountedByReasonDeadLetteredAndWarnedWithFileAndLine) {
  TempDir dir;
  const std::vector<std::string> bad = {
      R"({"eventType":"interaction","timestamp":1767600000000,)",     // invalid_json
      R"([1,2,3])",                                                   // not_an_object
      R"({"eventType":"interaction"})",                               // missing_timestamp
      R"({"eventType":"interaction","timestamp":"yesterday"})",       // bad_timestamp
      R"({"timestamp":1767600000000,"metrics":{"waitTime":1e999}})",  // invalid_number
      R"(not json at all)",                                           // invalid_json
  };
  std::vector<std::string> all = {ev(kT0, "ok-1")};
  all.insert(all.end(), bad.begin(), bad.end());
  all.push_back(ev(kT0 + 1, "ok-2"));
  const auto file = dir.write("in.jsonl", lines(all));
  const auto dead = dir / "dead.jsonl";
  auto h = load("path: " + file.string() + "\ndead_letter: " + dead.string() + "\n");
  h.start();
  h.run();
  EXPECT_EQ(h.take().size(), 2u);
  EXPECT_EQ(h.counter("malformed_lines"), 6u);
  EXPECT_EQ(h.counter("malformed{reason=invalid_json}"), 2u);
  EXPECT_EQ(h.counter("malformed{reason=not_an_object}"), 1u);
  EXPECT_EQ(h.counter("malformed{reason=missing_timestamp}"), 1u);
  EXPECT_EQ(h.counter("malformed{reason=bad_timestamp}"), 1u);
  EXPECT_EQ(h.counter("malformed{reason=invalid_number}"), 1u);
  EXPECT_EQ(h.counter("malformed{reason=too_long}"), 0u);
  EXPECT_EQ(h.counter("dead_lettered"), 6u);
  EXPECT_EQ(cxflow::test::read_file(dead), lines(bad));
  // Rate-limited: the fake clock does not move, so one warning (line 2), the rest summarized.
  int warnings = 0;
  for (const auto& l : h.logs()) warnings += l.rfind("WARN", 0) == 0;
  EXPECT_EQ(warnings, 1);
  EXPECT_TRUE(logged(h, file.string() + ":2: malformed line (invalid_json")) << h.logs().front();
  EXPECT_TRUE(logged(h,
                     "6 malformed (invalid_json 2, not_an_object 1, missing_timestamp 1, bad_timestamp 1, "
                     "invalid_number 1), 5 warnings suppressed"));
}

TEST(SourceReplay, WarningsResumeAfterTheIntervalAndSaySoManyWereSuppressed) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a"), "x", "y", "z", ev(kT0 + 5000, "d"), "w"}));
  auto h = load("path: " + file.string() + "\nspeed: 1\nwarn_interval: 1s\n");
  h.start();
  h.run();
  EXPECT_TRUE(logged(h, file.string() + ":2: malformed line"));
  EXPECT_FALSE(logged(h, file.string() + ":3: malformed line"));
  EXPECT_TRUE(logged(h, file.string() + ":6: malformed line (invalid_json")) << "the clock moved 5s with the pacing";
  EXPECT_TRUE(logged(h, "(2 similar warnings suppressed)"));
}

TEST(SourceReplay, TooLongLinesAreSkippedWhileStreamingAndDeadLetteredWhole) {
  TempDir dir;
  const std::string huge = R"({"timestamp":1767600000000,"pad":")" + std::string(20000, 'x') + "\"}";
  const std::string medium = R"({"timestamp":1767600000000,"pad":")" + std::string(300, 'y') + "\"}";
  const auto file =
      dir.write("in.jsonl", lines({ev(kT0, "a"), huge, ev(kT0 + 1, "b"), medium, ev(kT0 + 2, "c")}) + huge);
  const auto dead = dir / "dead.jsonl";
  auto h =
      load("path: " + file.string() + "\nmax_line_bytes: 256\nread_size: 4KiB\ndead_letter: " + dead.string() + "\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(h.text(out[1], "interactionId"), "b");
  EXPECT_EQ(h.text(out[2], "interactionId"), "c");
  EXPECT_EQ(h.counter("malformed{reason=too_long}"), 3u);
  EXPECT_EQ(h.counter("lines_read"), 6u);
  EXPECT_EQ(cxflow::test::read_file(dead), lines({huge, medium, huge}));
  EXPECT_TRUE(logged(h, file.string() + ":2: malformed line (too_long")) << h.logs().front();
  EXPECT_TRUE(h.ended());
}

TEST(SourceReplay, PacedBySpeedOnTheFakeClock) {
  TempDir dir;
  const auto file =
      dir.write("in.jsonl", lines({ev(kT0, "a"), ev(kT0, "b"), ev(kT0 + 1000, "c"), ev(kT0 + 5000, "d")}));
  auto h = load("path: " + file.string() + "\nspeed: 2\n");
  h.start();
  h.run_ready();
  EXPECT_EQ(h.take().size(), 2u);  // both at the first event time: due at once
  h.advance(499);
  EXPECT_TRUE(h.take().empty());
  h.advance(1);  // 1000 ms of event time at speed 2
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.text(out[0], "interactionId"), "c");
  EXPECT_FALSE(h.ended());
  h.advance(1999);
  EXPECT_TRUE(h.take().empty());
  h.advance(1);
  EXPECT_EQ(h.take().size(), 1u);
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{kT0, kT0 + 1000, kT0 + 5000}));
}

TEST(SourceReplay, PacingTreatsOutOfOrderEventsAsDueAtOnce) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0 + 1000, "a"), ev(kT0, "early"), ev(kT0 + 2000, "b")}));
  auto h = load("path: " + file.string() + "\nspeed: 1\nbatch_size: 1\n");
  h.start();
  h.run_ready();
  EXPECT_EQ(h.take().size(), 2u);
  h.advance(1000);
  EXPECT_EQ(h.take().size(), 1u);
  EXPECT_EQ(h.counter("late_events"), 1u);  // "early" came in a batch after the watermark kT0+1000
}

TEST(SourceReplay, StopEmitsTheParsedEventThatWasWaitingForItsTime) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a"), ev(kT0 + 60'000, "b"), ev(kT0 + 120'000, "c")}));
  auto h = load("path: " + file.string() + "\nspeed: 1\n");
  h.start();
  h.run_ready();
  EXPECT_EQ(h.take().size(), 1u);
  h.stop();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.text(out[0], "interactionId"), "b");
  h.advance(200'000);  // the cancelled timer does not fire
  EXPECT_TRUE(h.take().empty());
}

TEST(SourceReplay, StopsReadingUnderBackpressureAndResumesWhenReady) {
  TempDir dir;
  std::vector<std::string> ls;
  for (int i = 0; i < 100; ++i) ls.push_back(ev(kT0 + i, "c-" + std::to_string(i)));
  const auto file = dir.write("in.jsonl", lines(ls));
  auto h = load("path: " + file.string() + "\nbatch_size: 10\n");
  h.set_backpressure(true);
  h.start();
  h.run_ready();
  EXPECT_EQ(h.take().size(), 10u);  // the pipeline always takes the batch that reported "full"
  h.run_ready();
  h.advance(60'000);
  EXPECT_TRUE(h.take().empty());
  EXPECT_EQ(h.counter("lines_read"), 10u);  // nothing read ahead while waiting
  h.set_backpressure(false);
  h.run();
  EXPECT_EQ(h.take().size(), 90u);
  EXPECT_TRUE(h.ended());
}

TEST(SourceReplay, PacedReplayAlsoHonoursBackpressure) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a"), ev(kT0 + 1000, "b"), ev(kT0 + 2000, "c")}));
  auto h = load("path: " + file.string() + "\nspeed: 1\n");
  h.set_backpressure(true);
  h.start();
  h.run_ready();
  EXPECT_EQ(h.take().size(), 1u);
  h.advance(10'000);
  EXPECT_TRUE(h.take().empty());
  h.set_backpressure(false);
  h.run();
  EXPECT_EQ(h.take().size(), 2u);  // behind schedule: both due at once
}

TEST(SourceReplay, FarFutureEventsAreDroppedAndCountedSoTheyCannotCloseWindows) {
  TempDir dir;
  const auto dead = dir / "dead.jsonl";
  const std::string bogus = R"({"timestamp":"2099-01-01T00:00:00Z","interactionId":"bogus"})";
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a"), bogus, ev(kT0 + 3'600'000, "edge"),
                                                 ev(kT0 + 7'200'001 + 3'600'000, "too-far"), ev(kT0 + 2000, "b")}));
  auto h = load("path: " + file.string() + "\nmax_future: 1h\ndead_letter: " + dead.string() + "\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(h.text(out[1], "interactionId"), "edge");  // exactly max_future ahead is accepted
  EXPECT_EQ(h.text(out[2], "interactionId"), "b");
  EXPECT_EQ(h.counter("future_events"), 2u);
  EXPECT_EQ(h.counter("malformed_lines"), 0u);
  EXPECT_EQ(h.watermarks().back(), kT0 + 3'600'000);
  EXPECT_NE(cxflow::test::read_file(dead).find("bogus"), std::string::npos);
  EXPECT_TRUE(logged(h, "more than max_future (1h)"));
}

TEST(SourceReplay, WatermarkLagsByMaxOutOfOrderAndNeverGoesBack) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0 + 10'000, "a"), ev(kT0 + 20'000, "b"), ev(kT0 + 15'000, "c"),
                                                 ev(kT0 + 16'000, "d"), ev(kT0 + 30'000, "e")}));
  auto h = load("path: " + file.string() + "\nbatch_size: 2\nmax_out_of_order: 5s\n");
  h.start();
  h.run();
  EXPECT_EQ(h.take().size(), 5u);
  // Batches [a b] [c d] [e]: the second batch does not move the watermark back or repeat it.
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{kT0 + 15'000, kT0 + 25'000}));
  EXPECT_EQ(h.counter("late_events"), 0u);  // c at 15000 is not older than the watermark 15000
}

TEST(SourceReplay, OnBadTimeLastSeenGivesTheHighestTimeSoFar) {
  TempDir dir;
  const auto file = dir.write(
      "in.jsonl", lines({R"({"interactionId":"first-no-time"})", ev(kT0 + 5000, "a"), ev(kT0 + 1000, "b"),
                         R"({"interactionId":"no-time"})", R"({"interactionId":"bad-time","timestamp":"noon"})"}));
  auto h = load("path: " + file.string() + "\non_bad_time: last_seen\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(h.text(out[2], "interactionId"), "no-time");
  EXPECT_EQ(out[2].time_ms, kT0 + 5000);
  EXPECT_EQ(out[3].time_ms, kT0 + 5000);
  EXPECT_EQ(h.counter("time_defaulted"), 2u);
  EXPECT_EQ(h.counter("malformed{reason=missing_timestamp}"), 1u);  // nothing seen yet: rejected
}

TEST(SourceReplay, CustomTimestampField) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({R"({"meta":{"at":"2026-01-05T08:00:00Z"},"interactionId":"x"})"}));
  auto h = load("path: " + file.string() + "\ntimestamp_field: meta.at\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_ms, kT0);
}

TEST(SourceReplay, FollowPicksUpAppendedLines) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a")}) + R"({"timestamp":)");
  auto h = load("path: " + file.string() + "\nfollow: true\npoll_interval: 100ms\n");
  h.start();
  h.advance(0);
  EXPECT_EQ(h.take().size(), 1u);
  {
    std::ofstream f(file, std::ios::app);
    f << std::to_string(kT0 + 1) << R"(,"interactionId":"b"})"
      << "\n";
  }
  h.advance(100);
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);  // the partial line waited for its end
  EXPECT_EQ(h.text(out[0], "interactionId"), "b");
  EXPECT_FALSE(h.ended());
  EXPECT_EQ(h.counter("malformed_lines"), 0u);
  h.stop();
}

TEST(SourceReplay, MissingFileFailsTheStartNamingThePath) {
  TempDir dir;
  const auto missing = (dir / "nope.jsonl").string();
  auto h = load("path: " + missing + "\n");
  try {
    h.start();
    FAIL() << "start() should fail";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open replay file '" + missing + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(SourceReplay, UnwritableDeadLetterFailsTheStartNamingIt) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "a")}));
  auto h = load("path: " + file.string() + "\ndead_letter: " + (dir / "no/such/dir/dead.jsonl").string() + "\n");
  EXPECT_THROW(
      {
        try {
          h.start();
        } catch (const std::exception& e) {
          EXPECT_NE(std::string(e.what()).find("'dead_letter'"), std::string::npos) << e.what();
          throw;
        }
      },
      std::exception);
}

std::string errors_of(const std::string& yaml) {
  std::string all;
  for (const auto& e : Harness::config_errors("source-replay", yaml)) all += e.str() + "\n";
  return all;
}

TEST(SourceReplay, ConfigErrorsNameTheKey) {
  EXPECT_NE(errors_of("speed: max\n").find("missing required key 'path'"), std::string::npos)
      << errors_of("speed: max\n");
  for (const char* bad : {"fast", "0", "-1", "1x"}) {
    const std::string e = errors_of(std::string("path: a.jsonl\nspeed: ") + bad + "\n");
    EXPECT_NE(e.find("'speed': expected 'max' or a positive factor"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("found '") + bad + "'"), std::string::npos) << e;
  }
  std::string e = errors_of("path: a.jsonl\non_bad_time: guess\n");
  EXPECT_NE(e.find("on_bad_time"), std::string::npos) << e;
  EXPECT_NE(e.find("reject, last_seen"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nbatch_size: 0\n");
  EXPECT_NE(e.find("batch_size"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nmax_line_bytes: lots\n");
  EXPECT_NE(e.find("max_line_bytes"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nmax_future: soon\n");
  EXPECT_NE(e.find("max_future"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\ndead_letter: a.jsonl\n");
  EXPECT_NE(e.find("'dead_letter' must not be the input file"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nspeeed: 2\n");
  EXPECT_NE(e.find("did you mean 'speed'"), std::string::npos) << e;
  e = errors_of("path: ''\n");
  EXPECT_NE(e.find("'path'"), std::string::npos) << e;
  EXPECT_EQ(errors_of("path: a.jsonl\nspeed: 0.5\n"), "");
  EXPECT_EQ(errors_of("path: does/not/exist/yet.jsonl\n"), "") << "validate must not touch the file";
}

TEST(SourceReplay, PrefilterKeepsWhatFilterInteractionWouldAndStopsDecodingRejectedLines) {
  TempDir dir;
  const auto dead = dir / "dead.jsonl";
  const auto file =
      dir.write("in.jsonl",
                lines({ev(kT0, "c-1"), ev(kT0 + 1, "c-2", "active"), ev(kT0 + 2, "c-3", "abandoned"),
                       R"({"eventType":"agent","timestamp":"noon","agentId":"a-1",})",  // rejected before the bad parts
                       R"({"eventType":"interaction","timestamp":5,"interactionId":"no-state"})",
                       R"({"eventType":"interaction","timestamp":6,"metrics":{"state":"ended"},})",  // kept, so checked
                       R"({"eventType":"interaction","timestamp":"bad","metrics":{"state":"ended"}})",
                       ev(kT0 + 3, "c-4", "wrapup"), ev(kT0 + 4, "c-5")}));
  auto h = load("path: " + file.string() + "\ndead_letter: " + dead.string() +
                "\nprefilter:\n  event_types: [interaction]\n  states: [ended, abandoned]\n");
  h.start();
  h.run();
  EXPECT_TRUE(h.ended());
  auto out = h.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(h.text(out[0], "interactionId"), "c-1");
  EXPECT_EQ(h.text(out[1], "interactionId"), "c-3");
  EXPECT_EQ(h.text(out[2], "interactionId"), "c-5");
  EXPECT_EQ(out[2].fields.size(), 5u);
  EXPECT_EQ(h.counter("lines_read"), 9u);
  EXPECT_EQ(h.counter("prefiltered"), 4u);  // active, agent, no state, wrapup
  EXPECT_EQ(h.counter("malformed_lines"), 2u);
  EXPECT_EQ(h.counter("malformed{reason=invalid_json}"), 1u);
  EXPECT_EQ(h.counter("malformed{reason=bad_timestamp}"), 1u);
  EXPECT_EQ(h.counter("dead_lettered"), 2u);  // prefiltered lines are not errors
  EXPECT_EQ(cxflow::test::read_file(dead).find("agent"), std::string::npos);
  EXPECT_EQ(h.watermarks().back(), kT0 + 4);
}

TEST(SourceReplay, PrefilterWhereAndAnEmptyPrefilterKeepsEverything) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "c-1"), ev(kT0 + 1, "c-2", "active")}));
  auto h =
      load("path: " + file.string() + "\nprefilter:\n  where: metrics.state != ended and metadata.queue == sales\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.text(out[0], "interactionId"), "c-2");
  EXPECT_EQ(h.counter("prefiltered"), 1u);

  auto all = load("path: " + file.string() + "\nprefilter: {}\n");
  all.start();
  all.run();
  EXPECT_EQ(all.take().size(), 2u);
  EXPECT_EQ(all.counter("prefiltered"), 0u);
}

TEST(SourceReplay, PrefilterWithLastSeenTimeAndPacing) {
  TempDir dir;
  const auto file =
      dir.write("in.jsonl", lines({ev(kT0, "c-1"), R"({"eventType":"interaction","metrics":{"state":"ended"}})",
                                   R"({"eventType":"agent"})", ev(kT0 + 1000, "c-3", "active")}));
  auto h = load("path: " + file.string() + "\non_bad_time: last_seen\nspeed: 1\nprefilter:\n  states: [ended]\n");
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].time_ms, kT0);
  EXPECT_EQ(h.counter("time_defaulted"), 1u);
  EXPECT_EQ(h.counter("prefiltered"), 2u);
}

TEST(SourceReplay, PrefilterConfigErrorsNameTheKey) {
  std::string e = errors_of("path: a.jsonl\nprefilter:\n  states: [ended, abandonned]\n");
  EXPECT_NE(e.find("'prefilter.states[1]': 'abandonned' is not one of"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'abandoned'"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nprefilter:\n  event_types: [call]\n");
  EXPECT_NE(e.find("'prefilter.event_types[0]'"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nprefilter:\n  state: [ended]\n");
  EXPECT_NE(e.find("did you mean 'states'"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nprefilter:\n  where: 'metrics.waitTime <= )'\n");
  EXPECT_NE(e.find("'prefilter.where'"), std::string::npos) << e;
  e = errors_of("path: a.jsonl\nprefilter:\n  where: [a, b]\n");
  EXPECT_NE(e.find("'prefilter.where': expected a condition string"), std::string::npos) << e;
  EXPECT_EQ(errors_of("path: a.jsonl\nprefilter:\n  event_types: [interaction]\n  states: [ended, abandoned]\n"), "");
}

TEST(SourceReplay, ExampleConfigures) {
  const auto& api = Harness::api("source-replay");
  EXPECT_EQ(errors_of(api.example()), "");
  for (const auto& k : api.schema().keys) EXPECT_FALSE(k.description.empty()) << k.name;
}

}  // namespace

TEST(SourceReplay, KeepConditionsHandedByTheHostDropLinesLikeAPrefilter) {
  TempDir dir;
  const auto file = dir.write("in.jsonl", lines({ev(kT0, "c-1"), ev(kT0 + 1, "c-2", "active"),
                                                 R"({"eventType":"agent","timestamp":7,"metrics":{"state":"ended"}})",
                                                 ev(kT0 + 2, "c-3", "abandoned")}));
  auto h = load("path: " + file.string() + "\n");
  h.set_keep_conditions({{"eventType", {"interaction"}}, {"metrics.state", {"ended", "abandoned"}}});
  h.start();
  h.run();
  auto out = h.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(h.text(out[0], "interactionId"), "c-1");
  EXPECT_EQ(h.text(out[1], "interactionId"), "c-3");
  EXPECT_EQ(h.counter("prefiltered"), 2u);
  EXPECT_EQ(h.counter("malformed_lines"), 0u);
}
