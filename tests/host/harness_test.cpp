// The plugin test harness drives a plugin with the runtime's own dispatch core
// (host/src/dispatch.hpp), so it produces only call sequences a pipeline produces. Each test is
// a sequence the old harness accepted and the runtime never makes.
#include <gtest/gtest.h>

#include <cxflow/testing.hpp>

#include <sstream>

#include "process.hpp"

using cxflow::Batch;
using cxflow::Event;
using cxflow::testing::Harness;

namespace {

const bool g_dir = [] {
  Harness::set_plugin_dir(CXFLOW_TEST_PLUGIN_DIR);
  return true;
}();

std::vector<Event> seqs(Harness& h, int from, int to) {
  std::vector<Event> out;
  for (int i = from; i < to; ++i) out.push_back(h.event(i * 1000).set("seq", i));
  return out;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(cxflow::test::read_file(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(Harness, ALowerOrRepeatedWatermarkIsNotForwarded) {
  auto h = Harness::load("test-transform", "hold: false\n");
  h.start();
  h.watermark(100);
  h.watermark(50);
  h.watermark(100);
  h.watermark(200);
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{100, 200}));
}

TEST(Harness, ASinkSeesOnlyRisingWatermarks) {
  cxflow::test::TempDir d;
  const auto out = d / "out.txt";
  auto h = Harness::load("test-sink", "path: " + out.string() + "\nlog_watermarks: true\n");
  h.start();
  for (std::int64_t wm : {100, 50, 100, 300, 200}) h.watermark(wm);
  h.end_of_stream();
  h.stop();
  EXPECT_EQ(lines_of(out), (std::vector<std::string>{"wm 100", "wm 300", "END"}));
}

TEST(Harness, TheWatermarkIsTheMinimumOverInputsThatHaveNotEnded) {
  auto h = Harness::load("test-transform", "hold: false\n");
  h.set_inputs(2);
  h.start();
  h.watermark(100, 0);
  EXPECT_TRUE(h.watermarks().empty()) << "input 1 has no watermark yet";
  h.watermark(50, 1);
  h.watermark(200, 1);
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{50, 100}));
  h.end_of_stream(0);
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{50, 100, 200})) << "an ended input no longer holds it back";
  EXPECT_FALSE(h.ended());
  h.end_of_stream(1);
  EXPECT_TRUE(h.ended());
}

TEST(Harness, OutputIsSplitAtBatchEvents) {
  auto h = Harness::load("test-transform", "hold: true\n");
  h.set_batch_events(4);
  h.start();
  h.push(seqs(h, 0, 10));
  EXPECT_TRUE(h.take_batches().empty()) << "held";
  h.end_of_stream();
  std::vector<std::size_t> sizes;
  for (const auto& b : h.take_batches()) sizes.push_back(b.events.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2})) << "the last batch carries the end of stream";
}

TEST(Harness, OneLargeEmitIsSplitToo) {
  auto h = Harness::load("test-transform", "hold: false\n");
  h.set_batch_events(3);
  h.start();
  Batch b;
  b.events = seqs(h, 0, 7);
  b.watermark_ms = 7000;
  h.push(std::move(b));
  const auto batches = h.take_batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].events.size(), 3u);
  EXPECT_EQ(batches[1].events.size(), 3u);
  EXPECT_EQ(batches[2].events.size(), 1u);
  EXPECT_EQ(batches[2].watermark_ms, 7000) << "the watermark follows the call's last events";
  EXPECT_EQ(batches[0].watermark_ms, cxflow::kNoWatermark);
}

TEST(Harness, AfterAFailedCallThePluginGetsNoMoreCalls) {
  auto h = Harness::load("test-transform", "hold: true\nthrow_at_seq: 5\n");
  h.start();
  h.push(seqs(h, 0, 4));  // held
  EXPECT_THROW(h.push(seqs(h, 4, 8)), std::runtime_error);
  EXPECT_NE(h.failure().find("throwing on purpose at seq 5"), std::string::npos) << h.failure();
  EXPECT_TRUE(h.ended()) << "downstream gets end-of-stream at once";
  // Later input is dropped, and end-of-stream does not reach the plugin: the events it held are
  // never emitted (the old harness called on_end_of_stream and got them).
  EXPECT_NO_THROW(h.push(seqs(h, 8, 10)));
  h.watermark(50'000);
  h.end_of_stream();
  EXPECT_TRUE(h.take().empty());
  EXPECT_TRUE(h.watermarks().empty());
  EXPECT_EQ(h.counter("dropped"), 2u);
  EXPECT_EQ(h.counter("errors"), 1u);
  EXPECT_EQ(h.counter("events_in"), 10u);
}

TEST(Harness, RefusesCallsTheRuntimeNeverMakes) {
  auto h = Harness::load("test-transform", "hold: false\n");
  EXPECT_THROW(h.push(seqs(h, 0, 1)), std::logic_error) << "before start()";
  h.start();
  EXPECT_THROW(h.start(), std::logic_error) << "started twice";
  EXPECT_THROW(h.push(seqs(h, 0, 1), 1), std::logic_error) << "an input it does not have";
  EXPECT_THROW(h.set_inputs(2), std::logic_error) << "after start()";
}

TEST(Harness, AFailingSourceEndsItsStream) {
  auto h = Harness::load("test-source", "count: 100\nbatch: 10\nfail_at: 25\n");
  h.start();
  h.run();
  EXPECT_EQ(h.failure(), "test-source failing on purpose at event 25");
  EXPECT_TRUE(h.ended()) << "a failed source ends its stream";
  EXPECT_EQ(h.take().size(), 20u);
  EXPECT_EQ(h.counter("generated"), 20u);
}
