// The runtime through the real binary: completion, bounded queues under backpressure, plugin
// failures that drain cleanly, SIGTERM drains (held data flushed), a second signal exits at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <sstream>
#include <thread>

#include "process.hpp"

using namespace cxflow::test;

namespace {

const std::string kDir = CXFLOW_TEST_PLUGIN_DIR;

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(read_file(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::int64_t counter_in(const std::string& log, const std::string& component_prefix, const std::string& counter) {
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) {
    if (l.find(component_prefix) == std::string::npos) continue;
    std::smatch m;
    if (std::regex_search(l, m, std::regex(counter + "=(\\d+)"))) return std::stoll(m[1]);
  }
  return -1;
}

ProcessResult run(const std::filesystem::path& yaml) {
  return run_process({cxflow_bin(), "run", yaml.string(), "--plugin-dir", kDir});
}

}  // namespace

TEST(Runtime, RunsToCompletionInOrder) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, count: 10000, batch: 7}\n"
                         "transforms:\n  pass: {plugin: test-transform, inputs: [nums]}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [pass], path: " +
                             (d / "out.txt").string() + "}\n");
  auto r = run(y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(d / "out.txt");
  ASSERT_EQ(lines.size(), 10001u);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(lines[i], std::to_string(i));
  EXPECT_EQ(lines.back(), "END");
  EXPECT_NE(r.err.find("summary:"), std::string::npos);
  EXPECT_EQ(counter_in(r.err, "[sink:test-sink:out]", "events_in"), 10000);
  // `placement: local` (the default): the transform runs on its input's thread, so the chain's
  // events stay on one core; the sink gets the second thread. Each is only ever run by one thread.
  EXPECT_NE(r.err.find("placement local: thread 1 runs nums, pass; thread 2 runs out"), std::string::npos) << r.err;
  for (const char* c : {"[source:test-source:nums]", "[transform:test-transform:pass]", "[sink:test-sink:out]"})
    EXPECT_EQ(counter_in(r.err, c, "threads_seen"), 1) << c << "\n" << r.err;
  const auto source = counter_in(r.err, "[source:test-source:nums]", "thread");
  EXPECT_EQ(counter_in(r.err, "[transform:test-transform:pass]", "thread"), source) << r.err;
  EXPECT_NE(counter_in(r.err, "[sink:test-sink:out]", "thread"), source) << r.err;
}

TEST(Runtime, QueuesStayBoundedUnderBackpressure) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "runtime: {queue_batches: 3}\n"
                         "sources:\n  nums: {plugin: test-source, count: 3000, batch: 10}\n"
                         "transforms:\n  pass: {plugin: test-transform, inputs: [nums]}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [pass], slow_ms: 1, path: " +
                             (d / "out.txt").string() + "}\n");
  auto r = run(y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(d / "out.txt").size(), 3001u);
  const auto sink_peak = counter_in(r.err, "[sink:test-sink:out]", "queue_peak");
  const auto pass_peak = counter_in(r.err, "[transform:test-transform:pass]", "queue_peak");
  EXPECT_GE(sink_peak, 2) << r.err;  // the slow sink did hold the pipeline back
  EXPECT_LE(sink_peak, 4) << r.err;  // capacity 3 plus the in-band end-of-stream
  EXPECT_LE(pass_peak, 4) << r.err;
}

TEST(Runtime, ByteBoundAlsoHoldsProducersBack) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "runtime: {queue_batches: 1000, queue_bytes: 8KiB}\n"
                         "sources:\n  nums: {plugin: test-source, count: 2000, batch: 50}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [nums], slow_ms: 1, path: " +
                             (d / "out.txt").string() + "}\n");
  auto r = run(y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(d / "out.txt").size(), 2001u);
  // One 50-event batch is a few KiB, so an 8 KiB bound keeps only a handful queued.
  EXPECT_LE(counter_in(r.err, "[sink:test-sink:out]", "queue_peak"), 5) << r.err;
}

TEST(Runtime, PluginExceptionStopsCleanlyWithComponentNameAndKeepsWhatWasAccepted) {
  TempDir d;
  const auto out = d / "out.txt";
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, count: 100000, batch: 10}\n"
                         "transforms:\n  pass: {plugin: test-transform, inputs: [nums], throw_at_seq: 500}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [pass], path: " +
                             out.string() + "}\n");
  auto r = run(y);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("[transform:test-transform:pass] process: test-transform throwing on purpose at seq 500 "
                       "(component 'pass' failed; draining the pipeline)"),
            std::string::npos)
      << r.err;
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 501u) << "every event before the failing batch reaches the sink, then end of stream";
  EXPECT_EQ(lines[499], "499");
  EXPECT_EQ(lines.back(), "END");
}

TEST(Runtime, SourceFailureIsReportedAndDrained) {
  TempDir d;
  const auto out = d / "out.txt";
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, count: 1000, batch: 10, fail_at: 300}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [nums], path: " +
                             out.string() + "}\n");
  auto r = run(y);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("[source:test-source:nums] test-source failing on purpose at event 300"), std::string::npos)
      << r.err;
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 301u);
  EXPECT_EQ(lines.back(), "END");
}

TEST(Runtime, SigtermDrainsAndFlushesHeldData) {
  TempDir d;
  const auto direct = d / "direct.txt", held = d / "held.txt";
  const auto y =
      d.write("p.yaml",
              "sources:\n  nums: {plugin: test-source, forever: true, batch: 10, pace: 1ms}\n"
              "transforms:\n  hold: {plugin: test-transform, inputs: [nums], hold: true}\n"
              "sinks:\n  direct: {plugin: test-sink, inputs: [nums], path: " +
                  direct.string() + "}\n  held: {plugin: test-sink, inputs: [hold], path: " + held.string() + "}\n");
  Child child({cxflow_bin(), "run", y.string(), "--plugin-dir", kDir}, d.path());
  ASSERT_TRUE(wait_for([&] { return read_file(direct).size() > 2000; }, std::chrono::seconds(30))) << child.err();
  EXPECT_TRUE(read_file(held).empty()) << "the transform holds everything until end of stream";
  child.signal(SIGTERM);
  auto code = child.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << child.err();
  auto a = lines_of(direct), b = lines_of(held);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.back(), "END");
  EXPECT_EQ(b.back(), "END");
  EXPECT_EQ(a.size(), b.size()) << "every held event was flushed on shutdown";
  EXPECT_NE(child.err().find("draining (SIGTERM)"), std::string::npos);
}

TEST(Runtime, SecondSignalExitsAtOnce) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "runtime: {drain_timeout: 120s}\n"
                         "sources:\n  nums: {plugin: test-source, forever: true, batch: 100}\n"
                         "transforms:\n  hold: {plugin: test-transform, inputs: [nums], hold: true}\n"
                         "sinks:\n  slow: {plugin: test-sink, inputs: [hold], slow_ms: 500, path: " +
                             (d / "out.txt").string() + "}\n  probe: {plugin: test-sink, inputs: [nums], path: " +
                             (d / "probe.txt").string() + "}\n");
  Child child({cxflow_bin(), "run", y.string(), "--plugin-dir", kDir}, d.path());
  ASSERT_TRUE(wait_for([&] { return read_file(d / "probe.txt").size() > 200000; }, std::chrono::seconds(30)));
  child.signal(SIGTERM);
  ASSERT_TRUE(
      wait_for([&] { return child.err().find("draining (SIGTERM)") != std::string::npos; }, std::chrono::seconds(10)));
  child.signal(SIGTERM);
  auto code = child.wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value()) << "the second signal must not wait for the slow drain";
  EXPECT_EQ(*code, 130);
  EXPECT_NE(child.err().find("second signal"), std::string::npos);
}

TEST(Runtime, PushdownHandsAFiltersConditionsToItsOnlySourceAndChangesNothingButTheWork) {
  TempDir d;
  const auto in =
      d.write("in.jsonl", R"({"eventType":"interaction","timestamp":1000,"seq":1,"metrics":{"state":"ended"}})"
                          "\n"
                          R"({"eventType":"interaction","timestamp":2000,"seq":2,"metrics":{"state":"active"}})"
                          "\n"
                          R"({"eventType":"agent","timestamp":3000,"seq":3,"metrics":{"state":"ended"}})"
                          "\n"
                          R"({"eventType":"interaction","timestamp":4000,"seq":4,"metrics":{"state":"abandoned"}})"
                          "\n");
  auto pipeline = [&](const std::string& name, const std::string& extra) {
    return d.write(
        name + ".yaml",
        "sources:\n  replay: {plugin: source-replay, path: " + in.string() +
            "}\n"
            "transforms:\n  keep: {plugin: filter-interaction, inputs: [replay], event_types: [interaction], "
            "states: [ended, abandoned]}\n"
            "sinks:\n  out: {plugin: test-sink, inputs: [keep], path: " +
            (d / (name + ".txt")).string() + "}\n" + extra);
  };
  const std::vector<std::string> expected = {"1", "4", "END"};

  auto on = run(pipeline("on", ""));
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_EQ(lines_of(d / "on.txt"), expected);
  EXPECT_NE(on.err.find("pushdown from 'keep': only events with eventType in [interaction] and metrics.state in "
                        "[ended, abandoned]"),
            std::string::npos)
      << on.err;
  EXPECT_EQ(counter_in(on.err, "[source:source-replay:replay]", "prefiltered"), 2);
  EXPECT_EQ(counter_in(on.err, "[transform:filter-interaction:keep]", "events_in"), 2);

  auto off = run(pipeline("off", "runtime: {pushdown: false}\n"));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(lines_of(d / "off.txt"), expected);
  EXPECT_EQ(off.err.find("pushdown from"), std::string::npos) << off.err;
  EXPECT_EQ(counter_in(off.err, "[transform:filter-interaction:keep]", "events_in"), 4);

  // A second reader of the source wants every event: nothing is pushed down.
  auto two =
      run(pipeline("two", "  all: {plugin: test-sink, inputs: [replay], path: " + (d / "all.txt").string() + "}\n"));
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(lines_of(d / "two.txt"), expected);
  EXPECT_EQ(lines_of(d / "all.txt"), (std::vector<std::string>{"1", "2", "3", "4", "END"}));
  EXPECT_EQ(two.err.find("pushdown from"), std::string::npos) << two.err;
}

// Two sources take a thread each; a transform reading both runs on its first input's thread; the
// sinks take the threads after the sources'. `threads` is a maximum: no idle thread is started.
TEST(Runtime, LocalPlacementSpreadsSourcesAndSinksOverTheThreads) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "runtime: {threads: 8}\n"
                         "sources:\n  a: {plugin: test-source, count: 3000, batch: 11}\n"
                         "  b: {plugin: test-source, count: 2000, batch: 13, start_ms: 500}\n"
                         "transforms:\n  both: {plugin: test-transform, inputs: [b, a]}\n"
                         "sinks:\n  all: {plugin: test-sink, inputs: [both], path: " +
                             (d / "all.txt").string() +
                             "}\n  only_a: {plugin: test-sink, inputs: [a], path: " + (d / "a.txt").string() + "}\n");
  auto r = run(y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(
      r.err.find("placement local: thread 1 runs a; thread 2 runs b, both; thread 3 runs all; thread 4 runs only_a"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(lines_of(d / "all.txt").size(), 5001u);
  EXPECT_EQ(lines_of(d / "a.txt").size(), 3001u);
  EXPECT_EQ(lines_of(d / "all.txt").back(), "END");
  EXPECT_EQ(counter_in(r.err, "[transform:test-transform:both]", "thread"),
            counter_in(r.err, "[source:test-source:b]", "thread"))
      << r.err;

  // One source, two threads: every sink shares the thread the source leaves free.
  const auto y2 = d.write("p2.yaml",
                          "sources:\n  a: {plugin: test-source, count: 100}\n"
                          "sinks:\n  s1: {plugin: test-sink, inputs: [a], path: " +
                              (d / "s1.txt").string() +
                              "}\n  s2: {plugin: test-sink, inputs: [a], path: " + (d / "s2.txt").string() +
                              "}\n  s3: {plugin: test-sink, inputs: [a], path: " + (d / "s3.txt").string() + "}\n");
  auto r2 = run(y2);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("placement local: thread 1 runs a; thread 2 runs s1, s2, s3"), std::string::npos) << r2.err;
  for (const char* f : {"s1.txt", "s2.txt", "s3.txt"}) EXPECT_EQ(lines_of(d / f).size(), 101u) << f;
}

// Whatever the placement and thread count, in-band watermarks stay behind the events they follow:
// 10 s windows over events 1 s apart each end with seq 10k+9, none late, none lost, in order (with
// two threads the one-row window batches cross to the sink's thread as small, delayed batches).
TEST(Runtime, EveryPlacementKeepsWatermarksInOrderAndLosesNothing) {
  for (const std::string runtime :
       {"{threads: 1}", "{threads: 2}", "{threads: 4, placement: shared}", "{threads: 1, placement: shared}"}) {
    TempDir d;
    const auto y =
        d.write("p.yaml", "runtime: " + runtime +
                              "\n"
                              "sources:\n  nums: {plugin: test-source, count: 20000, batch: 7}\n"
                              "transforms:\n  pass: {plugin: test-transform, inputs: [nums]}\n"
                              "  win: {plugin: aggregate-window, inputs: [pass], window: 10s, allowed_lateness: 0s, "
                              "metrics: {seq: max(seq)}}\n"
                              "sinks:\n  out: {plugin: test-sink, inputs: [win], path: " +
                              (d / "out.txt").string() + "}\n");
    auto r = run(y);
    ASSERT_EQ(r.exit_code, 0) << runtime << "\n" << r.err;
    const auto lines = lines_of(d / "out.txt");
    ASSERT_EQ(lines.size(), 2001u) << runtime;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i)
      ASSERT_EQ(lines[i], std::to_string(i * 10 + 9)) << runtime << " window " << i;
    EXPECT_EQ(lines.back(), "END") << runtime;
    EXPECT_EQ(counter_in(r.err, "[transform:aggregate-window:win]", "late_events"), -1) << runtime << "\n" << r.err;
  }
}

// A batch that carries only a watermark does not wake a consumer on another thread at once, but it
// does arrive (within a few ms), in order, while no event at all crosses to that thread.
TEST(Runtime, QuietWatermarksReachASinkOnAnotherThreadInOrder) {
  TempDir d;
  const auto out = d / "out.txt";
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, forever: true, batch: 5, pace: 1ms}\n"
                         "transforms:\n  hold: {plugin: test-transform, inputs: [nums], hold: true}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [hold], log_watermarks: true, path: " +
                             out.string() + "}\n");
  Child child({cxflow_bin(), "run", y.string(), "--plugin-dir", kDir}, d.path());
  ASSERT_TRUE(wait_for([&] { return lines_of(out).size() >= 20; }, std::chrono::seconds(30))) << child.err();
  child.signal(SIGTERM);
  auto code = child.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  ASSERT_EQ(*code, 0) << child.err();
  EXPECT_NE(child.err().find("thread 2 runs out"), std::string::npos) << child.err();
  const auto lines = lines_of(out);
  std::int64_t last_wm = -1;
  std::size_t wms = 0, events = 0;
  for (const auto& l : lines) {
    if (l.rfind("wm ", 0) == 0) {
      const auto wm = std::stoll(l.substr(3));
      EXPECT_GT(wm, last_wm) << "watermarks arrive in order";
      EXPECT_EQ(events, 0u) << "every watermark came before the held events";
      last_wm = wm;
      ++wms;
    } else if (l != "END") {
      ASSERT_EQ(l, std::to_string(events)) << "held events flushed in order at the end";
      ++events;
    }
  }
  EXPECT_GE(wms, 20u);
  EXPECT_GT(events, 0u);
  EXPECT_EQ(lines.back(), "END");
  // Event time runs 1000 ms per event and every batch carries its watermark: the last one covers
  // every event, so no quiet watermark was left behind at the drain.
  EXPECT_EQ(last_wm, static_cast<std::int64_t>(events) * 1000) << "no watermark was left behind";
}

// Signals, the drain timeout and the watchdog run on a control thread no component runs on: a
// plugin blocked inside process() (here 60 s, on the main thread's lane, with the source) used to
// block Ctrl+C, the second signal and drain_timeout alike.
namespace {
std::filesystem::path blocked_pipeline(const TempDir& d, const std::string& runtime) {
  return d.write("p.yaml", "runtime: " + runtime +
                               "\n"
                               "sources:\n  nums: {plugin: test-source, forever: true, batch: 10, pace: 1ms}\n"
                               "transforms:\n  pass: {plugin: test-transform, inputs: [nums], block_ms: 60000}\n"
                               "sinks:\n  out: {plugin: test-sink, inputs: [pass], path: " +
                               (d / "out.txt").string() + "}\n");
}
}  // namespace

TEST(Runtime, APluginBlockedInProcessNoLongerBlocksTheDrainTimeout) {
  TempDir d;
  Child child({cxflow_bin(), "run", blocked_pipeline(d, "{drain_timeout: 1s, stall_warning: 0s}").string(),
               "--plugin-dir", kDir},
              d.path());
  ASSERT_TRUE(
      wait_for([&] { return child.err().find("placement local") != std::string::npos; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the first batch reached process()
  const auto t0 = std::chrono::steady_clock::now();
  child.signal(SIGTERM);
  auto code = child.wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value()) << "SIGTERM + drain_timeout must end the process whatever the plugin does\n"
                                << child.err();
  EXPECT_EQ(*code, 2) << child.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(child.err().find("draining (SIGTERM)"), std::string::npos) << child.err();
  EXPECT_NE(child.err().find("drain did not finish within 1s"), std::string::npos) << child.err();
  EXPECT_NE(
      child.err().find("component 'pass' (plugin test-transform) is inside process() 2000 ms after the drain timeout; "
                       "exiting without waiting for it"),
      std::string::npos)
      << child.err();
}

TEST(Runtime, ASecondSignalExitsAtOnceWhileAPluginIsBlockedInProcess) {
  TempDir d;
  Child child({cxflow_bin(), "run", blocked_pipeline(d, "{drain_timeout: 120s}").string(), "--plugin-dir", kDir},
              d.path());
  ASSERT_TRUE(
      wait_for([&] { return child.err().find("placement local") != std::string::npos; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  child.signal(SIGINT);
  ASSERT_TRUE(
      wait_for([&] { return child.err().find("draining (SIGINT)") != std::string::npos; }, std::chrono::seconds(5)))
      << "the first signal is handled while the plugin blocks\n"
      << child.err();
  child.signal(SIGINT);
  auto code = child.wait(std::chrono::seconds(5));
  ASSERT_TRUE(code.has_value()) << child.err();
  EXPECT_EQ(*code, 130);
}

TEST(Runtime, TheWatchdogNamesAComponentStuckInOneCall) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "runtime: {stall_warning: 300ms}\n"
                         "sources:\n  nums: {plugin: test-source, count: 100, batch: 10}\n"
                         "transforms:\n  pass: {plugin: test-transform, inputs: [nums], block_ms: 1500}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [pass], path: " +
                             (d / "out.txt").string() + "}\n");
  auto r = run(y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(d / "out.txt").size(), 101u);
  const std::regex warn(
      R"(WARN \[transform:test-transform:pass\] component 'pass' \(plugin test-transform\) is inside )"
      R"(process\(\) for \d+m?s \(stall_warning 300ms\); the pipeline waits for it)");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.err, m, warn)) << r.err;
  std::size_t warnings = 0;
  for (std::size_t at = 0; (at = r.err.find("is inside process()", at)) != std::string::npos; ++at) ++warnings;
  EXPECT_EQ(warnings, 1u) << "once per stuck call\n" << r.err;
}

// A fan-out: one source read by three aggregates (ReadOnlyTransform: they take the batch as
// const) and two pass-through transforms (which may modify it). Every consumer shares each batch;
// only the ones that may modify it get a copy.
TEST(Runtime, AFanOutToReadOnlyTransformsCopiesNoBatch) {
  TempDir d;
  std::string y = "sources:\n  nums: {plugin: test-source, count: 10000, batch: 100}\ntransforms:\n";
  for (const char* a : {"a", "b", "c"})
    y += std::string("  ") + a + ": {plugin: aggregate-window, inputs: [nums], window: 60s, metrics: {n: count}}\n";
  y += "  p: {plugin: test-transform, inputs: [nums]}\n  q: {plugin: test-transform, inputs: [nums]}\nsinks:\n";
  for (const char* t : {"a", "b", "c", "p", "q"})
    y += std::string("  out_") + t + ": {plugin: test-sink, inputs: [" + t +
         "], path: " + (d / (std::string(t) + ".txt")).string() + "}\n";
  auto r = run_process(
      {cxflow_bin(), "run", d.write("p.yaml", y).string(), "--plugin-dir", kDir, "--plugin-dir", CXFLOW_PLUGIN_DIR});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* a : {"a", "b", "c"}) {
    const std::string prefix = std::string("[transform:aggregate-window:") + a + "]";
    EXPECT_EQ(counter_in(r.err, prefix, "events_in"), 10000) << r.err;
    EXPECT_EQ(counter_in(r.err, prefix, "copied"), -1) << "a read-only transform is handed the shared batch\n" << r.err;
    EXPECT_EQ(lines_of(d / (std::string(a) + ".txt")).size(), 167u + 1)
        << "10000 s of events in 60 s windows, then END";
  }
  const auto p = std::max<std::int64_t>(0, counter_in(r.err, "[transform:test-transform:p]", "copied"));
  const auto q = std::max<std::int64_t>(0, counter_in(r.err, "[transform:test-transform:q]", "copied"));
  EXPECT_GE(p + q, 10000) << "of two that may modify a shared batch, the first to take it gets a copy\n" << r.err;
  EXPECT_EQ(lines_of(d / "p.txt").size(), 10001u);
  EXPECT_EQ(lines_of(d / "q.txt").size(), 10001u);
}
