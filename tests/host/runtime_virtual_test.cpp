// Whole pipelines on virtual time: the real runtime (host/src/runtime.cpp) and the real test
// plugins, in this process, with a VirtualTime that jumps to the next timer whenever every
// component is idle (or moves only when the test advances it). Hours of paced event time run in
// milliseconds, and the run is the same every time.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "log.hpp"
#include "pipeline.hpp"
#include "plugin_registry.hpp"
#include "process.hpp"
#include "runtime.hpp"
#include "time_service.hpp"

using namespace cxflow::host;
using cxflow::test::TempDir;

namespace {

PluginRegistry& registry() {
  static PluginRegistry* r = [] {
    auto* reg = new PluginRegistry({CXFLOW_TEST_PLUGIN_DIR});
    reg->scan();
    return reg;
  }();
  return *r;
}

std::unique_ptr<Pipeline> load(const std::filesystem::path& yaml) {
  std::vector<cxflow::ConfigError> errors;
  auto p = load_pipeline(yaml.string(), registry(), errors);
  std::string all;
  for (const auto& e : errors) all += e.str() + "\n";
  EXPECT_TRUE(p) << all;
  return p;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(cxflow::test::read_file(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Captures the log lines of one run.
struct LogCapture {
  LogCapture() {
    set_log_capture([this](const std::string& l) {
      std::lock_guard lock(m);
      lines.push_back(l);
    });
  }
  ~LogCapture() { set_log_capture(nullptr); }
  std::size_t count(const std::string& needle) {
    std::lock_guard lock(m);
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::string all() {
    std::lock_guard lock(m);
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
  std::mutex m;
  std::vector<std::string> lines;
};

std::uint64_t counter(Pipeline& p, const std::string& component, const std::string& name) {
  for (auto& c : p.components)
    if (c.spec.name == component) return c.counters->get(name).value();
  ADD_FAILURE() << "no component " << component;
  return 0;
}

}  // namespace

TEST(RuntimeVirtualTime, AnHourOfPacedEventsRunsInMilliseconds) {
  TempDir d;
  const auto out = d / "out.txt";
  // One event a second for an hour, through a transform, into a sink on another lane.
  const auto y = d.write("p.yaml",
                         "runtime: {log_interval: 10m}\n"
                         "sources:\n  nums: {plugin: test-source, count: 3600, batch: 1, pace: 1s}\n"
                         "transforms:\n  pass: {plugin: test-transform, inputs: [nums]}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [pass], log_watermarks: true, path: " +
                             out.string() + "}\n");
  auto p = load(y);
  ASSERT_TRUE(p);
  VirtualTime vt;
  LogCapture log;
  RunOptions o;
  o.handle_signals = false;
  o.time = &vt;
  Runtime rt(*p, o);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(rt.run(), 0) << log.all();
  const auto real_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(real_ms, 20'000) << "an hour of pacing must not take wall time";
  // The last of 3600 steps is due at 3599 s; then the small-batch delay (10 ms) to the sink.
  EXPECT_GE(vt.steady_ms(), 3'599'000);
  EXPECT_LT(vt.steady_ms(), 3'601'000);
  std::vector<std::string> events;
  for (const auto& l : lines_of(out))
    if (l.rfind("wm ", 0) != 0) events.push_back(l);
  ASSERT_EQ(events.size(), 3601u);
  for (int i = 0; i < 3600; ++i) ASSERT_EQ(events[static_cast<std::size_t>(i)], std::to_string(i));
  EXPECT_EQ(events.back(), "END");
  // Progress lines follow virtual time: one every 10 minutes of it (at 10, 20 ... 50 min).
  EXPECT_EQ(log.count("progress: "), 5u) << log.all();
  EXPECT_EQ(log.count("summary: 3599."), 1u) << log.all();
  EXPECT_EQ(counter(*p, "out", "events_in"), 3600u);
}

TEST(RuntimeVirtualTime, TheSameRunTwiceGivesTheSameOutput) {
  auto run_once = [](const TempDir& dir) {
    const auto out = dir / "out.txt";
    const auto y = dir.write("p.yaml",
                             "sources:\n  a: {plugin: test-source, count: 300, batch: 3, pace: 7ms}\n"
                             "  b: {plugin: test-source, count: 200, batch: 5, pace: 13ms, start_ms: 500}\n"
                             "sinks:\n  out: {plugin: test-sink, inputs: [a, b], log_watermarks: true, path: " +
                                 out.string() + "}\n");
    auto p = load(y);
    VirtualTime vt;
    RunOptions o;
    o.handle_signals = false;
    o.time = &vt;
    EXPECT_EQ(Runtime(*p, o).run(), 0);
    return cxflow::test::read_file(out);
  };
  TempDir d1, d2;
  const std::string a = run_once(d1), b = run_once(d2);
  EXPECT_EQ(a, b) << "two sources interleave the same way on virtual time";
  std::size_t events = 0;
  std::istringstream in(a);
  for (std::string l; std::getline(in, l);) events += l.rfind("wm ", 0) != 0;
  EXPECT_EQ(events, 501u);
}

TEST(RuntimeVirtualTime, ATestCanAdvanceTheClockByHand) {
  TempDir d;
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, count: 5, batch: 1, pace: 1s}\n"
                         "sinks:\n  out: {plugin: test-sink, inputs: [nums], path: " +
                             (d / "out.txt").string() + "}\n");
  auto p = load(y);
  ASSERT_TRUE(p);
  VirtualTime vt(/*auto_advance=*/false);
  RunOptions o;
  o.handle_signals = false;
  o.time = &vt;
  Runtime rt(*p, o);
  int code = -1;
  std::thread runner([&] { code = rt.run(); });
  auto generated = [&] { return counter(*p, "nums", "generated"); };
  auto settle = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (generated() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // and nothing more follows
    return generated();
  };
  EXPECT_EQ(settle(1), 1u) << "the first step runs at once";
  vt.advance(999);
  EXPECT_EQ(settle(1), 1u) << "the next step is due at 1 s";
  for (std::uint64_t k = 2; k <= 5; ++k) {
    vt.advance(k == 2 ? 1 : 1000);
    EXPECT_EQ(settle(k), k);
  }
  vt.advance(1000);  // the small-batch delay to the sink, and the end
  runner.join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(lines_of(d / "out.txt").size(), 6u);
}
