// End to end through the real cxflow binary: fake CXone (TLS, in this process) -> source-cxone
// -> filter-interaction -> aggregate-window -> sink-sqlite, one test per fault. The SQLite rows
// must equal the aggregates of exactly the events the fake reports as sent (its ground truth),
// and cxflow stays up through every fault (it exits 0 on SIGTERM, after the fake saw the client
// read the whole stream).
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "cxflow/time.hpp"
#include "fake_cxone.hpp"
#include "keyed_rows.hpp"
#include "process.hpp"

using cxflow::fake::FakeCxone;
using cxflow::fake::FakeOptions;
using namespace cxflow::test;

namespace {

const std::pair<std::string, std::string>& cert() { return cxflow::fake::shared_test_certificate(); }

struct Row {
  std::int64_t contacts = 0, handled = 0, abandoned = 0;
  double total_wait = 0, total_handle = 0;
};

// (window start ISO, queue) -> expected row, from the generator for events 0..n-1.
std::map<std::pair<std::string, std::string>, Row> truth_rows(const FakeOptions& o, std::uint64_t n) {
  std::map<std::pair<std::string, std::string>, Row> t;
  for (std::uint64_t s = 0; s < n; ++s) {
    const auto e = FakeCxone::event(s, o);
    const std::string w = cxflow::format_iso8601_ms(e.time_ms - e.time_ms % 60'000);
    Row& r = t[{w, e.queue}];
    ++r.contacts;
    r.total_wait += static_cast<double>(e.wait_s);
    if (e.abandoned)
      ++r.abandoned;
    else {
      ++r.handled;
      r.total_handle += static_cast<double>(e.handle_s);
    }
  }
  return t;
}

std::string pipeline(const FakeCxone& f, const TempDir& d, const std::string& source_extra = "") {
  return "sources:\n"
         "  live:\n"
         "    plugin: source-cxone\n"
         "    token_url: " +
         f.token_url() +
         "\n"
         "    subscription_url: " +
         f.subscription_url() +
         "\n"
         "    events_url: " +
         f.events_url() +
         "\n"
         "    client_id: ${CXONE_CLIENT_ID}\n"
         "    client_secret: ${CXONE_CLIENT_SECRET}\n"
         "    ca_file: " +
         cert().first +
         "\n"
         "    backoff_initial: 10ms\n"
         "    backoff_max: 100ms\n"
         "    idle_timeout: 0s\n"
         "    max_out_of_order: 0s\n" +
         source_extra +
         "transforms:\n"
         "  completed:\n"
         "    plugin: filter-interaction\n"
         "    inputs: [live]\n"
         "    event_types: [interaction]\n"
         "    states: [ended, abandoned]\n"
         "  per_queue:\n"
         "    plugin: aggregate-window\n"
         "    inputs: [completed]\n"
         "    window: 60s\n"
         "    group_by: [metadata.queue]\n"
         "    metrics:\n"
         "      contacts: count\n"
         "      handled: count where metrics.state == ended\n"
         "      abandoned: count where metrics.state == abandoned\n"
         "      total_wait: sum(metrics.waitTime)\n"
         "      total_handle: sum(metrics.handleTime) where metrics.state == ended\n"
         "sinks:\n"
         "  rows:\n"
         "    plugin: sink-sqlite\n"
         "    inputs: [per_queue]\n"
         "    path: " +
         (d / "out.db").string() +
         "\n"
         "    table: queue_windows\n"
         "    key: [window_start, queue]\n"
         "    columns:\n"
         "      window_start: {field: window_start, type: text}\n"
         "      queue: {field: metadata.queue, type: text}\n"
         "      contacts: {field: contacts, type: integer}\n"
         "      handled: {field: handled, type: integer}\n"
         "      abandoned: {field: abandoned, type: integer}\n"
         "      total_wait: {field: total_wait, type: real}\n"
         "      total_handle: {field: total_handle, type: real}\n";
}

struct Run {
  std::string err;  // cxflow's log
  cxflow::fake::Truth truth;
};

enum class Ending { sigterm, end_on_close };

// Runs cxflow until the fake has seen the client read the whole stream (it answered the
// end-of-stream close), then SIGTERM - or, with end_on_close, until cxflow exits by itself at
// that close; checks exit 0 and every row against the truth.
Run run_and_check(const FakeOptions& o, std::uint64_t n, const std::string& source_extra = "",
                  Ending ending = Ending::sigterm) {
  Run result;
  TempDir d;
  FakeCxone fake(o);
  const auto yaml = d.write(
      "p.yaml", pipeline(fake, d, source_extra + (ending == Ending::end_on_close ? "    end_on_close: true\n" : "")));
  Child child({cxflow_bin(), "run", yaml.string(), "--no-status"}, d.path(),
              {"CXONE_CLIENT_ID=test-client", "CXONE_CLIENT_SECRET=test-secret"});
  if (ending == Ending::sigterm) {
    const bool drained = wait_for([&] { return fake.truth().end_closes_acked >= 1; }, std::chrono::seconds(90));
    EXPECT_TRUE(drained) << "sent " << fake.truth().events_sent << "\n" << child.err();
    child.signal(SIGTERM);
  }
  const auto code = child.wait(std::chrono::seconds(ending == Ending::sigterm ? 30 : 90));
  result.err = child.err();
  result.truth = fake.truth();
  EXPECT_TRUE(code.has_value());
  EXPECT_EQ(code.value_or(-1), 0) << result.err;
  EXPECT_EQ(result.truth.events_sent, n);

  const auto expected = truth_rows(o, n);
  const Rows rows = sqlite_query(d / "out.db",
                                 "SELECT window_start, queue, contacts, handled, abandoned, total_wait, total_handle "
                                 "FROM queue_windows ORDER BY window_start, queue");
  const std::int64_t total = check_keyed_rows(
      rows, expected,
      [](const auto& r, const Row& e) {
        EXPECT_EQ(std::stoll(r[2]), e.contacts) << r[0] << " " << r[1];
        EXPECT_EQ(std::stoll(r[3]), e.handled) << r[0] << " " << r[1];
        EXPECT_EQ(std::stoll(r[4]), e.abandoned) << r[0] << " " << r[1];
        EXPECT_DOUBLE_EQ(std::stod(r[5]), e.total_wait) << r[0] << " " << r[1];
        EXPECT_DOUBLE_EQ(r[6].empty() ? 0.0 : std::stod(r[6]), e.total_handle) << r[0] << " " << r[1];
      },
      result.err);
  EXPECT_EQ(total, static_cast<std::int64_t>(n));
  return result;
}

FakeOptions options(std::uint64_t n) {
  FakeOptions o;
  o.cert_file = cert().first;
  o.key_file = cert().second;
  o.total_events = n;
  o.close_when_done = true;
  return o;
}

bool logged(const Run& r, const std::string& needle) { return r.err.find(needle) != std::string::npos; }

}  // namespace

TEST(SourceCxoneE2E, CleanStreamMatchesTheFakesTruth) {
  const auto r = run_and_check(options(3000), 3000);
  EXPECT_EQ(r.truth.tokens_issued, 1u);
  EXPECT_TRUE(logged(r, "events_received=3000")) << r.err;
  EXPECT_EQ(r.err.find("test-secret"), std::string::npos);  // never logged
}

TEST(SourceCxoneE2E, EndOnCloseExitsByItselfAtTheServersNormalCloseWithEveryRow) {
  auto o = options(3000);
  o.drop_after = {1000};  // reconnected: only a close 1000 ends the stream
  const auto r = run_and_check(o, 3000, "", Ending::end_on_close);
  EXPECT_EQ(r.truth.end_closes_acked, 1u);
  EXPECT_TRUE(logged(r, "end_on_close: the stream has ended")) << r.err;
  EXPECT_FALSE(logged(r, "SIGTERM")) << r.err;
  EXPECT_TRUE(logged(r, "events_received=3000")) << r.err;
}

TEST(SourceCxoneE2E, DroppedTcpConnectionsLoseAndDuplicateNothing) {
  auto o = options(3000);
  o.drop_after = {700, 1900};
  const auto r = run_and_check(o, 3000);
  EXPECT_EQ(r.truth.drops, 2u);
  EXPECT_TRUE(logged(r, "reconnects{cause=network}=2")) << r.err;
  EXPECT_TRUE(logged(r, "events_received=3000")) << r.err;
}

TEST(SourceCxoneE2E, Close1011Reconnects) {
  auto o = options(3000);
  o.close_1011_after = {1000, 2000};
  const auto r = run_and_check(o, 3000);
  EXPECT_EQ(r.truth.closes_1011, 2u);
  EXPECT_TRUE(logged(r, "code 1011")) << r.err;
}

TEST(SourceCxoneE2E, TokenExpiry4001ThenFreshToken) {
  auto o = options(3000);
  o.expire_token_after = {1500};
  const auto r = run_and_check(o, 3000);
  EXPECT_EQ(r.truth.closes_4001, 1u);
  EXPECT_EQ(r.truth.tokens_issued, 2u);
  EXPECT_EQ(r.truth.handshakes_401, 0u);
  EXPECT_TRUE(logged(r, "reconnects{cause=token_expired}=1")) << r.err;
}

TEST(SourceCxoneE2E, Token429WithRetryAfterAtStartup) {
  auto o = options(1200);
  o.token_429 = 1;
  o.retry_after_s = 1;
  const auto r = run_and_check(o, 1200);
  EXPECT_EQ(r.truth.token_429_sent, 1u);
  EXPECT_TRUE(logged(r, "HTTP 429")) << r.err;
  EXPECT_TRUE(logged(r, "next attempt in 1.000 s")) << r.err;
}

TEST(SourceCxoneE2E, Token429WithoutRetryAfterBacksOff) {
  auto o = options(1200);
  o.token_429 = 3;
  const auto r = run_and_check(o, 1200);
  EXPECT_EQ(r.truth.token_429_sent, 3u);
  EXPECT_TRUE(logged(r, "http_retries=3")) << r.err;
}

TEST(SourceCxoneE2E, MalformedFramesAreCountedExactlyAndSkipped) {
  auto o = options(3000);
  o.malformed_every = 25;  // 120 malformed frames, 24 of each kind
  const auto r = run_and_check(o, 3000);
  std::uint64_t total = 0;
  for (int k = 0; k < cxflow::fake::kMalformedKindCount; ++k) {
    total += r.truth.malformed_sent[k];
    EXPECT_TRUE(logged(r, std::string("malformed{reason=") + cxflow::fake::kMalformedKinds[k] +
                              "}=" + std::to_string(r.truth.malformed_sent[k])))
        << cxflow::fake::kMalformedKinds[k] << "\n"
        << r.err;
  }
  EXPECT_EQ(total, 120u);
  EXPECT_TRUE(logged(r, "malformed_total=120")) << r.err;
}

// Issue 12: a frame with a bad JSON literal in a field the pipeline uses let a simdjson exception
// escape the decoder: source-cxone failed, the pipeline drained with exit 1 and none of the 100
// good events around it was stored. Now it is one malformed frame and every event arrives.
TEST(SourceCxoneE2E, BadLiteralFrameAmongAHundredGoodEventsIsOneMalformedAndAllHundredAreStored) {
  auto o = options(100);
  o.raw_frames_after = {{50, R"({"metadata":{"queue":nul}})"}};
  const auto r = run_and_check(o, 100);  // exit 0, every row equals the truth of the 100 events
  EXPECT_EQ(r.truth.raw_frames_sent, 1u);
  EXPECT_TRUE(logged(r, "events_received=100")) << r.err;
  EXPECT_TRUE(logged(r, " malformed_total=1,")) << r.err;
  EXPECT_TRUE(logged(r, "malformed{reason=invalid_json}=1")) << r.err;
}

TEST(SourceCxoneE2E, FramesOfEveryDecoderErrorClassAreCountedAndNoEventIsLost) {
  const std::string head =
      R"({"eventType":"interaction","timestamp":"2026-01-05T08:00:00Z","metrics":{"state":"ended"},)";
  auto o = options(600);
  std::uint64_t at = 0;
  for (const std::string& f :
       {head + R"("metadata":{"queue":tru}})", head + R"("metadata":{"queue":fals}})",
        head + R"("metadata":{"queue":nan}})", head + R"("metadata":{"queue":-}})",
        head + R"("metrics":{"waitTime":1e}})", head + R"("metadata":{"queue":"x\q"}})",
        head + R"("metadata":{"queue":"unterminated}})", head + R"("metadata":{"queue":"x"}} {})",
        head + R"("metadata":{"queue":")" + std::string("\xc0\xaf") + R"("}})",
        head + R"("metadata":{"queue":"a)" + std::string(1, '\0') + R"("}})", std::string(3000, '['),
        std::string(R"({"eventType":"interaction","timestamp":nul})")})
    o.raw_frames_after.push_back({at += 50, f});
  const auto r = run_and_check(o, 600);
  EXPECT_EQ(r.truth.raw_frames_sent, 12u);
  EXPECT_TRUE(logged(r, "events_received=600")) << r.err;
  EXPECT_TRUE(logged(r, "malformed{reason=invalid_json}=12")) << r.err;
}

TEST(SourceCxoneE2E, EveryFaultInOneRun) {
  auto o = options(6000);
  o.drop_after = {500};
  o.close_1011_after = {1500};
  o.expire_token_after = {2500};
  o.oversize_after = {3500};
  o.token_429 = 2;
  o.malformed_every = 100;
  const auto r = run_and_check(o, 6000, "    max_message_size: 1MiB\n");
  EXPECT_EQ(r.truth.drops + r.truth.closes_1011 + r.truth.closes_4001 + r.truth.oversize_sent, 4u);
  EXPECT_TRUE(logged(r, "messages_too_large=1")) << r.err;
  EXPECT_TRUE(logged(r, "malformed_total=60")) << r.err;
}

// SIGTERM while connected: cxflow's stop() sends a close frame (1001 "going away") before it tears
// the connection down, so the server sees an orderly close; cxflow still exits 0. Once with a
// paced stream (the reader waits in a read) and once at full speed (the reader is busy and the
// pipeline pushes back).
class SourceCxoneStop : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(SourceCxoneStop, SigtermSendsACloseFrame) {
  auto o = options(0);  // unlimited
  o.close_when_done = false;
  o.events_per_second = GetParam();
  TempDir d;
  FakeCxone fake(o);
  const auto yaml = d.write("p.yaml", pipeline(fake, d));
  Child child({cxflow_bin(), "run", yaml.string(), "--no-status"}, d.path(),
              {"CXONE_CLIENT_ID=test-client", "CXONE_CLIENT_SECRET=test-secret"});
  // The fake counts events as sent once they are in the kernel's buffers, possibly before the
  // client has finished connecting; a stop while connecting closes without a close frame. So the
  // signal waits for the client's "connected" line too (logged after it can send a close frame).
  ASSERT_TRUE(
      wait_for([&] { return fake.truth().events_sent >= 500 && child.err().find("connected to") != std::string::npos; },
               std::chrono::seconds(60)))
      << child.err();
  EXPECT_EQ(fake.truth().client_closes, 0u);
  child.signal(SIGTERM);
  const auto code = child.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << child.err();
  EXPECT_TRUE(wait_for([&] { return fake.truth().client_closes >= 1; }, std::chrono::seconds(10))) << child.err();
  const auto t = fake.truth();
  EXPECT_EQ(t.client_closes, 1u);
  EXPECT_EQ(t.last_client_close_code, 1001);
  EXPECT_EQ(t.connections, 1u);
  EXPECT_EQ(t.drops + t.closes_1011 + t.closes_4001, 0u);
}

INSTANTIATE_TEST_SUITE_P(Rates, SourceCxoneStop, ::testing::Values(2000, 0),
                         [](const auto& info) { return info.param == 0 ? std::string("FullSpeed") : "Paced"; });
