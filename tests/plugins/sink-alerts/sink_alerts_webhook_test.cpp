// sink-alerts webhook delivery against a local receiver (http_receiver.*): up, down, slow, 500
// then recovering, client errors, a full queue, TLS with a certificate made at test time. Each
// asserts the exact sequence of notifications the receiver accepted. No sleeps: every wait is a
// condition polled with a timeout.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <cxflow/time.hpp>

#include "http_receiver.hpp"
#include "process.hpp"
#include "testing/harness.hpp"

using cxflow::Event;
using cxflow::Value;
using cxflow::testing::Harness;
using namespace cxflow::test;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

using Strings = std::vector<std::string>;

Event aht(Harness& h, int i, double v, const char* queue = "sales") {
  const std::int64_t t = kT0 + i * kMinute;
  return h.event(t)
      .set("window_start", cxflow::format_iso8601_ms(t))
      .set("window_end", cxflow::format_iso8601_ms(t + kMinute))
      .set("metadata.queue", queue)
      .set("avg_handle_time", Value(v));
}

// Rule aht: warning 240, critical 360. Values cycling 250, 400, 300, 100 notify
// firing, escalated, deescalated, resolved.
const double kCycle[] = {250, 400, 300, 100};
const Strings kCycleStates = {"firing/warning", "escalated/critical", "deescalated/warning", "resolved/warning"};

Harness load(const std::string& webhook) {
  return Harness::load("sink-alerts",
                       "rules: [{name: aht, metric: avg_handle_time, above: {warning: 240, critical: 360}}]\n"
                       "webhooks:\n  - " +
                           webhook + "\n");
}

// "state/severity" of every delivered body.
Strings states(const Strings& bodies) {
  Strings out;
  for (const auto& b : bodies) {
    const auto j = nlohmann::json::parse(b);
    out.push_back(j.at("state").get<std::string>() + "/" + j.at("severity").get<std::string>());
  }
  return out;
}

// Pushes windows first..first+n-1 with the cycle's values, one batch each.
void push_cycle(Harness& h, int first, int n) {
  for (int i = first; i < first + n; ++i) h.push({aht(h, i, kCycle[i % 4])});
}

Strings expected_cycle(int first, int n) {
  Strings out;
  for (int i = first; i < first + n; ++i) out.push_back(kCycleStates[i % 4]);
  return out;
}

bool logged(const Harness& h, const std::string& part) {
  for (const auto& l : h.logs())
    if (l.find(part) != std::string::npos) return true;
  return false;
}
std::string all_logs(const Harness& h) {
  std::string s;
  for (const auto& l : h.logs()) s += l + "\n";
  return s;
}

}  // namespace

TEST(SinkAlertsWebhook, ReceiverUpGetsTheExactSequence) {
  ::setenv("SINK_ALERTS_TEST_TOKEN", "s3cret-token", 1);
  HttpReceiver rx;
  auto h = load("{url: '" + rx.url("/hooks/alerts?x=1") +
                "', headers: {Authorization: 'Bearer ${SINK_ALERTS_TEST_TOKEN}', X-Team: ops}}");
  h.start();
  push_cycle(h, 0, 8);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 8; }, 20s)) << rx.count();
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 8));
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 8u) << "no retries needed";
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hooks/alerts?x=1");
  EXPECT_EQ(reqs[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(reqs[0].headers.at("authorization"), "Bearer s3cret-token");
  EXPECT_EQ(reqs[0].headers.at("x-team"), "ops");
  const auto first = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(first.at("rule"), "aht");
  EXPECT_EQ(first.at("metric"), "avg_handle_time");
  EXPECT_EQ(first.at("group"), "metadata.queue=sales");
  EXPECT_EQ(first.at("group_fields").at("metadata.queue"), "sales");
  EXPECT_EQ(first.at("value"), 250.0);
  EXPECT_EQ(first.at("threshold"), 240.0);
  EXPECT_EQ(first.at("window_start"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(first.at("window_end"), "2026-01-01T00:01:00.000Z");
  EXPECT_NE(first.at("message").get<std::string>().find("[WARNING] aht: avg_handle_time = 250"), std::string::npos);
  h.stop();
  EXPECT_EQ(h.counter("webhook_sent"), 8u);
  EXPECT_EQ(h.counter("webhook_failed"), 0u);
  EXPECT_EQ(h.counter("alerts"), 8u);
  EXPECT_FALSE(logged(h, "s3cret-token"));
  EXPECT_FALSE(logged(h, "/hooks/alerts")) << "the URL path may be a secret; logs show scheme://host:port";
}

TEST(SinkAlertsWebhook, SlackStyleTemplate) {
  HttpReceiver rx;
  auto h =
      load("{url: '" + rx.url() +
           "', template: '{\"text\": \"{{message}}\", \"queue\": \"{{group.metadata.queue}}\", \"v\": {{value}}}'}");
  h.start();
  h.push({aht(h, 0, 250, "sa\"les")});
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 1; }, 20s));
  const auto j = nlohmann::json::parse(rx.delivered()[0]);
  EXPECT_EQ(j.at("queue"), "sa\"les") << "values are JSON-escaped";
  EXPECT_EQ(j.at("v"), 250);
  EXPECT_EQ(j.at("text").get<std::string>().rfind("[WARNING] aht: avg_handle_time = 250 is above", 0), 0u) << j.dump();
}

TEST(SinkAlertsWebhook, ReceiverDownIsRetriedThenLoggedAndCounted) {
  unsigned short port;
  {
    HttpReceiver gone;
    port = gone.port();
  }
  auto h = load("{url: 'http://127.0.0.1:" + std::to_string(port) + "/hook', retries: 2, retry_backoff: 1ms}");
  h.start();
  push_cycle(h, 0, 2);
  ASSERT_TRUE(wait_for([&] { return h.counter("webhook_failed") == 2; }, 20s));
  h.stop();
  EXPECT_EQ(h.counter("webhook_retries"), 4u);
  EXPECT_EQ(h.counter("webhook_sent"), 0u);
  const std::string url = "webhook http://127.0.0.1:" + std::to_string(port);
  EXPECT_TRUE(logged(h, url + ": Connection refused; retry 1/2 in 1ms")) << all_logs(h);
  EXPECT_TRUE(logged(h, url + ": giving up after 3 attempt(s) (Connection refused), not delivered: firing aht "
                              "(metadata.queue=sales, window 2026-01-01T00:00:00.000Z)"))
      << all_logs(h);
  EXPECT_TRUE(logged(h, "not delivered: escalated aht")) << all_logs(h);
}

TEST(SinkAlertsWebhook, ReceiverDownThenUpGetsEverythingInOrder) {
  unsigned short port;
  {
    HttpReceiver gone;
    port = gone.port();
  }
  auto h = load("{url: 'http://127.0.0.1:" + std::to_string(port) +
                "/hook', retries: 100000, retry_backoff: 2ms, max_backoff: 20ms}");
  h.start();
  push_cycle(h, 0, 4);
  ASSERT_TRUE(wait_for([&] { return h.counter("webhook_retries") >= 3; }, 20s));
  HttpReceiver rx({}, std::nullopt, port);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 4; }, 20s)) << rx.count();
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 4));
  EXPECT_EQ(rx.count(), 4u);
  EXPECT_EQ(h.counter("webhook_failed"), 0u);
}

TEST(SinkAlertsWebhook, Answering500ThenRecovering) {
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return Reply{i < 3 ? 500 : 200}; });
  auto h = load("{url: '" + rx.url() + "', retries: 5, retry_backoff: 1ms}");
  h.start();
  push_cycle(h, 0, 4);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 4; }, 20s)) << rx.count();
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 4));
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 7u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(states({reqs[i].body}), Strings{"firing/warning"}) << "the first notification was retried, in order";
  h.stop();
  EXPECT_EQ(h.counter("webhook_retries"), 3u);
  EXPECT_EQ(h.counter("webhook_sent"), 4u);
  EXPECT_TRUE(logged(h, "HTTP 500; retry 3/5 in 4ms")) << all_logs(h);
}

TEST(SinkAlertsWebhook, TooManyRequestsHonoursRetryAfterUpToMaxBackoff) {
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return i == 0 ? Reply{429, false, "120"} : Reply{200}; });
  auto h = load("{url: '" + rx.url() + "', retry_backoff: 1ms, max_backoff: 5ms}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 1; }, 20s));
  h.stop();
  EXPECT_TRUE(logged(h, "HTTP 429; retry 1/5 in 5ms")) << all_logs(h);
}

TEST(SinkAlertsWebhook, ClientErrorIsNotRetried) {
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return Reply{i == 0 ? 400 : 200}; });
  auto h = load("{url: '" + rx.url() + "', retry_backoff: 1ms}");
  h.start();
  push_cycle(h, 0, 2);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 1; }, 20s));
  EXPECT_EQ(states(rx.delivered()), Strings{"escalated/critical"});
  EXPECT_EQ(rx.count(), 2u);
  h.stop();
  EXPECT_EQ(h.counter("webhook_failed"), 1u);
  EXPECT_EQ(h.counter("webhook_retries"), 0u);
  EXPECT_TRUE(logged(h, "giving up after 1 attempt(s) (HTTP 400), not delivered: firing aht")) << all_logs(h);
}

TEST(SinkAlertsWebhook, SlowReceiverNeverBlocksThePipeline) {
  // The receiver holds its first answer until the test releases it.
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return Reply{200, i == 0}; });
  auto h = load("{url: '" + rx.url() + "', timeout: 60s}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return rx.count() == 1; }, 20s));
  // The first POST is in flight and held: the sink keeps taking windows.
  push_cycle(h, 1, 39);
  EXPECT_EQ(h.counter("alerts"), 40u);
  EXPECT_EQ(h.counter("webhook_sent"), 0u) << "write() returned while the receiver still held the first request";
  EXPECT_EQ(rx.count(), 1u);
  rx.release();
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 40; }, 30s)) << rx.delivered().size();
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 40));
}

TEST(SinkAlertsWebhook, TimeoutIsRetried) {
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return Reply{200, i == 0}; });
  auto h = load("{url: '" + rx.url() + "', timeout: 200ms, retry_backoff: 1ms}");
  h.start();
  push_cycle(h, 0, 2);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 2; }, 20s));
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 2));
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].answered, 0) << "the held request was never answered";
  EXPECT_EQ(reqs[0].body, reqs[1].body) << "the same notification again";
  h.stop();
  EXPECT_EQ(h.counter("webhook_retries"), 1u);
  EXPECT_TRUE(logged(h, "no answer within 200ms; retry 1/5")) << all_logs(h);
  rx.stop();
}

TEST(SinkAlertsWebhook, FullQueueDropsTheOldestAndSaysSo) {
  HttpReceiver rx([](std::size_t i, const ReceivedRequest&) { return Reply{200, i == 0}; });
  auto h = load("{url: '" + rx.url() + "', queue_size: 2, timeout: 60s}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return rx.count() == 1; }, 20s));
  push_cycle(h, 1, 4);  // escalated, deescalated wait; resolved, firing push them out
  EXPECT_EQ(h.counter("webhook_dropped"), 2u);
  rx.release();
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 3; }, 20s));
  EXPECT_EQ(states(rx.delivered()), (Strings{"firing/warning", "resolved/warning", "firing/warning"}));
  h.stop();
  EXPECT_TRUE(logged(h, "queue full (2 notifications waiting); dropped the oldest, not delivered: escalated aht"))
      << all_logs(h);
  EXPECT_TRUE(logged(h, "not delivered: deescalated aht")) << all_logs(h);
}

TEST(SinkAlertsWebhook, ShutdownReportsWhatWasNotDelivered) {
  unsigned short port;
  {
    HttpReceiver gone;
    port = gone.port();
  }
  auto h = load("{url: 'http://127.0.0.1:" + std::to_string(port) +
                "/hook', retries: 100000, retry_backoff: 5ms, drain_timeout: 50ms}");
  h.start();
  push_cycle(h, 0, 3);
  h.stop();
  EXPECT_EQ(h.counter("webhook_failed"), 3u);
  EXPECT_TRUE(logged(h, "3 notification(s) not delivered within drain_timeout 50ms at shutdown, first: firing aht"))
      << all_logs(h);
}

TEST(SinkAlertsWebhook, HttpsWithTestCertificate) {
  TempDir dir;
  const TlsFiles cert = make_test_certificate(dir.path());
  HttpReceiver rx({}, cert);
  auto h = load("{url: '" + rx.url() + "', ca_file: '" + cert.cert_file + "'}");
  h.start();
  push_cycle(h, 0, 4);
  ASSERT_TRUE(wait_for([&] { return rx.delivered().size() == 4; }, 20s)) << rx.count();
  EXPECT_EQ(states(rx.delivered()), expected_cycle(0, 4));
  h.stop();
  EXPECT_EQ(h.counter("webhook_failed"), 0u) << all_logs(h);
}

TEST(SinkAlertsWebhook, HttpsRejectsAnUntrustedCertificate) {
  TempDir dir;
  const TlsFiles cert = make_test_certificate(dir.path());
  HttpReceiver rx({}, cert);
  auto h = load("{url: '" + rx.url() + "', retries: 0}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return h.counter("webhook_failed") == 1; }, 20s));
  h.stop();
  EXPECT_TRUE(rx.delivered().empty());
  EXPECT_TRUE(logged(h, "certificate verify failed")) << all_logs(h);
}

TEST(SinkAlertsWebhook, HttpsWrongHostNameIsRejected) {
  TempDir dir;
  const TlsFiles cert = make_test_certificate(dir.path(), "DNS:alerts.example.com");
  HttpReceiver rx({}, cert);
  auto h = load("{url: '" + rx.url() + "', ca_file: '" + cert.cert_file + "', retries: 0}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return h.counter("webhook_failed") == 1; }, 20s));
  h.stop();
  EXPECT_TRUE(rx.delivered().empty());
  EXPECT_TRUE(logged(h, "certificate verify failed")) << all_logs(h);
}

TEST(SinkAlertsWebhook, MissingCaFileIsAStartError) {
  TempDir dir;
  auto h = load("{url: 'https://127.0.0.1:9/hook', ca_file: '" + (dir / "missing.pem").string() + "'}");
  std::string error;
  try {
    h.start();
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("webhook https://127.0.0.1:9: cannot load ca_file"), std::string::npos) << error;
}

TEST(SinkAlertsWebhook, HttpsByHostName) {
  TempDir dir;
  const TlsFiles cert = make_test_certificate(dir.path());
  HttpReceiver rx({}, cert);
  auto h = load("{url: 'https://localhost:" + std::to_string(rx.port()) + "/hook', ca_file: '" + cert.cert_file +
                "', retries: 0}");
  h.start();
  push_cycle(h, 0, 1);
  ASSERT_TRUE(wait_for([&] { return h.counter("webhook_sent") + h.counter("webhook_failed") == 1; }, 20s));
  h.stop();
  // localhost may resolve to ::1 first where nothing listens; the client tries every address.
  EXPECT_EQ(h.counter("webhook_sent"), 1u) << all_logs(h);
}
