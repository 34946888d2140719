// source-cxone against the fake CXone, over TLS with a certificate generated at test time. The
// real .so is configured through the plugin registry and driven by LiveContext (thread-safe
// post()); the fake's ground truth says what was on the wire.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "cxflow/testing.hpp"
#include "fake_cxone.hpp"
#include "live_context.hpp"
#include "process.hpp"

using cxflow::fake::FakeCxone;
using cxflow::fake::FakeOptions;
using cxflow::fake::Truth;
using cxflow::test::LiveContext;
using cxflow::test::TempDir;

namespace {

const std::pair<std::string, std::string>& cert() { return cxflow::fake::shared_test_certificate(); }

FakeOptions tls_options(std::uint64_t events) {
  FakeOptions o;
  o.cert_file = cert().first;
  o.key_file = cert().second;
  o.total_events = events;
  o.close_when_done = false;
  return o;
}

std::string source_yaml(const FakeCxone& f, const std::string& extra = "") {
  return "token_url: " + f.token_url() + "\nsubscription_url: " + f.subscription_url() +
         "\nevents_url: " + f.events_url() +
         "\nclient_id: test-client\nclient_secret: test-secret\nca_file: " + cert().first +
         "\nbackoff_initial: 10ms\nbackoff_max: 50ms\nidle_timeout: 0s\n" + extra;
}

// A context with the fields a typical pipeline reads, configured with `yaml`.
std::unique_ptr<LiveContext> make(const std::string& yaml) {
  auto ctx = std::make_unique<LiveContext>();
  for (const char* f : {"eventType", "interactionId", "agentId", "metadata.queue", "metrics.state", "metrics.waitTime",
                        "metrics.handleTime"})
    ctx->field(f);
  const std::string err = ctx->configure("source-cxone", yaml);
  EXPECT_EQ(err, "");
  return ctx;
}

// Every event 0..n-1 exactly once, in order, with the generator's values.
void expect_exact_stream(const LiveContext& ctx, const FakeOptions& o, std::uint64_t n) {
  ASSERT_EQ(ctx.output.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto& e = ctx.output[i];
    const auto info = FakeCxone::event(i, o);
    ASSERT_EQ(ctx.text(e, "interactionId"), "c-" + std::to_string(i)) << "event " << i;
    EXPECT_EQ(e.time_ms, info.time_ms);
    EXPECT_EQ(ctx.number(e, "metrics.waitTime"), static_cast<double>(info.wait_s));
    EXPECT_EQ(ctx.text(e, "metrics.state"), info.abandoned ? "abandoned" : "ended");
    EXPECT_EQ(ctx.text(e, "metadata.queue"), info.queue);
  }
}

// Starts the source, waits for `n` events, stops it and checks they are exactly the generator's.
void stream_exactly(LiveContext& ctx, const FakeOptions& o, std::uint64_t n) {
  ctx.start();
  ASSERT_TRUE(ctx.run_until([&] { return ctx.output.size() >= n; })) << ctx.output.size() << " " << ctx.failure;
  ctx.stop();
  expect_exact_stream(ctx, o, n);
}

}  // namespace

TEST(SourceCxone, StreamsEveryEventOverTlsWithTokenSubscriptionAndSubscribeMessage) {
  auto o = tls_options(2000);
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "subscription_name: dash\nfilters: {status: active, minWait: 5}\n"));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 2000; })) << ctx->output.size() << " " << ctx->failure;
  ctx->stop();
  expect_exact_stream(*ctx, o, 2000);
  const Truth t = fake.truth();
  EXPECT_EQ(t.events_sent, 2000u);
  EXPECT_EQ(t.tokens_issued, 1u);
  EXPECT_EQ(t.subscriptions_created, 1u);
  EXPECT_EQ(t.last_token_body_scope, "analytics:read realtime:read events:subscribe");
  const auto sub = nlohmann::json::parse(t.last_subscription_body);
  EXPECT_EQ(sub["subscriptionName"], "dash");
  EXPECT_EQ(sub["eventType"], "interaction");
  EXPECT_EQ(sub["filters"]["status"], "active");
  EXPECT_EQ(sub["filters"]["minWait"], 5);
  EXPECT_EQ(sub["requestedFields"].size(), 5u);
  const auto msg = nlohmann::json::parse(t.last_subscribe_message);
  EXPECT_EQ(msg["type"], "subscribe");
  EXPECT_EQ(msg["subscriptionId"], "sub-1");
  EXPECT_EQ(msg["events"], nlohmann::json::parse(R"(["interaction","agent","queue"])"));
  EXPECT_EQ(msg["format"], "json");
  EXPECT_EQ(ctx->count("connections"), 1u);
  EXPECT_EQ(ctx->count("events_received"), 2000u);
  EXPECT_EQ(ctx->count("malformed_total"), 0u);
  EXPECT_GT(ctx->count("bytes_received"), 2000u * 100);
  EXPECT_EQ(ctx->count("last_event_time_ms"), static_cast<std::uint64_t>(FakeCxone::event(1999, o).time_ms));
  ASSERT_FALSE(ctx->watermarks.empty());
  EXPECT_EQ(ctx->watermarks.back(), FakeCxone::event(1999, o).time_ms - 2000);  // max_out_of_order 2s
  EXPECT_EQ(ctx->failure, "");
  for (const auto& l : ctx->log_lines) EXPECT_EQ(l.find("test-secret"), std::string::npos) << l;
}

TEST(SourceCxone, PlainWebSocketAndArrayFrames) {
  auto o = tls_options(999);
  o.tls = false;
  o.events_per_frame = 4;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  stream_exactly(*ctx, o, 999);
  EXPECT_EQ(ctx->count("frames_received"), 250u);
}

TEST(SourceCxone, DroppedConnectionsAnd1011ResumeWithoutLossOrDuplicates) {
  auto o = tls_options(1500);
  o.drop_after = {300, 700};
  o.close_1011_after = {1200};
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  stream_exactly(*ctx, o, 1500);
  EXPECT_EQ(ctx->count("reconnects{cause=network}"), 2u);
  EXPECT_EQ(ctx->count("reconnects{cause=server_close}"), 1u);
  EXPECT_EQ(ctx->count("connections"), 4u);
  EXPECT_EQ(fake.truth().tokens_issued, 1u);          // the cached token is reused
  EXPECT_EQ(fake.truth().subscriptions_created, 1u);  // and so is the subscription id
  EXPECT_TRUE(ctx->has_log("server closed the connection with code 1011"));
}

TEST(SourceCxone, ExpiredToken4001FetchesAFreshTokenBeforeReconnecting) {
  auto o = tls_options(1000);
  o.expire_token_after = {400};
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  stream_exactly(*ctx, o, 1000);
  const Truth t = fake.truth();
  EXPECT_EQ(t.closes_4001, 1u);
  EXPECT_EQ(t.tokens_issued, 2u);
  EXPECT_EQ(t.handshakes_401, 0u);  // never tried the revoked token
  EXPECT_EQ(ctx->count("reconnects{cause=token_expired}"), 1u);
}

TEST(SourceCxone, ShortLivedTokenIsRefreshedBeforeItExpires) {
  auto o = tls_options(600);
  o.token_lifetime_s = 30;  // below the 60 s refresh margin: never reused
  o.drop_after = {200};
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 600; })) << ctx->failure;
  ctx->stop();
  EXPECT_EQ(fake.truth().tokens_issued, 2u);
  EXPECT_EQ(fake.truth().handshakes_401, 0u);
}

TEST(SourceCxone, Token429HonoursRetryAfterSeconds) {
  auto o = tls_options(100);
  o.token_429 = 1;
  o.retry_after_s = 1;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 100; })) << ctx->failure;
  ctx->stop();
  EXPECT_EQ(fake.truth().token_429_sent, 1u);
  EXPECT_EQ(ctx->count("http_retries"), 1u);
  EXPECT_TRUE(ctx->has_log("/oauth/token: HTTP 429")) << ctx->log_lines.front();
  EXPECT_TRUE(ctx->has_log("next attempt in 1.000 s"));
  EXPECT_TRUE(ctx->has_log("Retry-After"));
}

TEST(SourceCxone, Token429WithoutRetryAfterBacksOffWithJitter) {
  auto o = tls_options(100);
  o.token_429 = 3;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 100; })) << ctx->failure;
  ctx->stop();
  EXPECT_EQ(fake.truth().token_429_sent, 3u);
  EXPECT_EQ(ctx->count("http_retries"), 3u);
  EXPECT_TRUE(ctx->has_log("backoff with jitter"));
  EXPECT_EQ(ctx->failure, "");
}

TEST(SourceCxone, Subscription403IsFatalAndNamesTheMissingScope) {
  auto o = tls_options(10);
  o.granted_scope = "analytics:read realtime:read";
  o.subscription_status = 403;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); })) << "no failure";
  ctx->stop();
  EXPECT_NE(ctx->failure.find("403"), std::string::npos) << ctx->failure;
  EXPECT_NE(ctx->failure.find("missing OAuth scopes 'events:subscribe'"), std::string::npos) << ctx->failure;
}

TEST(SourceCxone, Subscription422IsFatalAndQuotesTheServer) {
  auto o = tls_options(10);
  o.subscription_status = 422;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); }));
  ctx->stop();
  EXPECT_NE(ctx->failure.find("422"), std::string::npos) << ctx->failure;
  EXPECT_NE(ctx->failure.find("unknown field 'metrics.bogus'"), std::string::npos) << ctx->failure;
}

TEST(SourceCxone, WrongClientSecretIsFatal) {
  auto o = tls_options(10);
  FakeCxone fake(o);
  std::string y = source_yaml(fake);
  y.replace(y.find("client_secret: test-secret"), 26, "client_secret: wrong-one!!");
  auto ctx = make(y);
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); }));
  ctx->stop();
  EXPECT_NE(ctx->failure.find("rejected the client credentials"), std::string::npos) << ctx->failure;
  EXPECT_EQ(ctx->failure.find("wrong-one"), std::string::npos);
}

TEST(SourceCxone, MaxReconnectAttemptsFailsWithTheLastError) {
  unsigned short port;
  {
    FakeCxone gone(tls_options(1));
    port = gone.port();
  }  // nothing listens there any more
  auto o = tls_options(1);
  FakeCxone fake(o);  // token + subscription work, the WebSocket URL is dead
  std::string y = source_yaml(fake, "max_reconnect_attempts: 3\n");
  y.replace(y.find(fake.events_url()), fake.events_url().size(),
            "wss://localhost:" + std::to_string(port) + "/api/v2/events");
  auto ctx = make(y);
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); }));
  ctx->stop();
  EXPECT_NE(ctx->failure.find("giving up after 3 consecutive failed reconnect attempts"), std::string::npos)
      << ctx->failure;
  EXPECT_NE(ctx->failure.find("cannot connect"), std::string::npos) << ctx->failure;
  EXPECT_EQ(ctx->count("reconnects_total"), 4u);
}

TEST(SourceCxone, UntrustedCertificateIsRefusedWithoutCaFile) {
  auto o = tls_options(1);
  FakeCxone fake(o);
  std::string y = source_yaml(fake, "max_reconnect_attempts: 1\n");
  y.replace(y.find("ca_file: "), 9, "#ca_file: ");
  auto ctx = make(y);
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); }));
  ctx->stop();
  EXPECT_NE(ctx->failure.find("certificate verify failed"), std::string::npos) << ctx->failure;
  EXPECT_EQ(fake.truth().tokens_issued, 0u);
}

TEST(SourceCxone, TlsVerifyFalseConnectsWithALoudWarning) {
  auto o = tls_options(50);
  FakeCxone fake(o);
  std::string y = source_yaml(fake, "tls_verify: false\n");
  y.replace(y.find("ca_file: "), 9, "#ca_file: ");
  auto ctx = make(y);
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 50; })) << ctx->failure;
  ctx->stop();
  EXPECT_TRUE(ctx->has_log("WARN tls_verify is false"));
}

TEST(SourceCxone, MalformedFramesAreCountedPerReasonAndDeadLettered) {
  TempDir d;
  auto o = tls_options(500);
  o.malformed_every = 10;  // 50 malformed frames, 10 of each kind
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "dead_letter: " + (d / "dead.jsonl").string() + "\n"));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 500 && ctx->count("malformed_total") >= 50; }))
      << ctx->failure;
  ctx->stop();
  expect_exact_stream(*ctx, o, 500);
  const Truth t = fake.truth();
  std::uint64_t total = 0;
  for (int k = 0; k < cxflow::fake::kMalformedKindCount; ++k) {
    EXPECT_EQ(ctx->count(std::string("malformed{reason=") + cxflow::fake::kMalformedKinds[k] + "}"),
              t.malformed_sent[k])
        << cxflow::fake::kMalformedKinds[k];
    EXPECT_EQ(t.malformed_sent[k], 10u);
    total += t.malformed_sent[k];
  }
  EXPECT_EQ(ctx->count("malformed_total"), total);
  EXPECT_EQ(ctx->count("dead_lettered"), total);
  std::ifstream in(d / "dead.jsonl");
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("reason") && j.contains("frame") && j.contains("received_at"));
  }
  EXPECT_EQ(lines, total);
  // Rate-limited: far fewer warnings than malformed frames.
  std::size_t warnings = 0;
  for (const auto& l : ctx->log_lines) warnings += l.find("malformed frame") != std::string::npos;
  EXPECT_GE(warnings, 1u);
  EXPECT_LT(warnings, 5u);
}

TEST(SourceCxone, OversizedMessageClosesWith1009AndReconnects) {
  auto o = tls_options(300);
  o.oversize_after = {100};
  o.oversize_bytes = 100 * 1024;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "max_message_size: 64KiB\n"));
  stream_exactly(*ctx, o, 300);
  EXPECT_EQ(ctx->count("messages_too_large"), 1u);
  EXPECT_EQ(ctx->count("reconnects{cause=message_too_large}"), 1u);
}

TEST(SourceCxone, FragmentedMessagesAndServerPingsAreHandledInTheStream) {
  auto o = tls_options(3000);
  o.fragment_every = 7;  // every 7th event in three frames
  o.ping_every = 250;    // and a ping from the server after every 250th
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 3000 && fake.truth().pongs >= 12; }))
      << ctx->output.size() << " " << fake.truth().pongs << " " << ctx->failure;
  ctx->stop();
  expect_exact_stream(*ctx, o, 3000);
  const Truth t = fake.truth();
  EXPECT_EQ(t.fragmented_frames, 429u);  // 0, 7, ..., 2996
  EXPECT_EQ(t.server_pings, 12u);
  EXPECT_EQ(t.pongs, 12u);  // each answered once, echoing its payload
  EXPECT_EQ(ctx->count("connections"), 1u);
  EXPECT_EQ(ctx->count("frames_received"), 3000u);
}

TEST(SourceCxone, AProtocolViolationClosesWith1002AndReconnects) {
  auto o = tls_options(400);
  o.protocol_error_after = {150};
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= 400; })) << ctx->failure;
  const Truth t = fake.truth();  // before stop() adds its own close (1001)
  ctx->stop();
  expect_exact_stream(*ctx, o, 400);
  EXPECT_EQ(t.protocol_errors_sent, 1u);
  EXPECT_EQ(t.client_closes, 1u);
  EXPECT_EQ(t.last_client_close_code, 1002);
  EXPECT_EQ(ctx->count("reconnects{cause=protocol}"), 1u);
  EXPECT_TRUE(ctx->has_log("protocol error: the server sent reserved bits set")) << ctx->failure;
}

TEST(SourceCxone, AnUnansweredPingIsADeadPeerAndTheSourceReconnects) {
  auto o = tls_options(100);
  o.answer_pings = false;  // after the 100 events the connection stays open and silent
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "ping_interval: 50ms\nping_timeout: 100ms\n"));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->count("reconnects{cause=ping_timeout}") >= 2; })) << ctx->failure;
  ctx->stop();
  expect_exact_stream(*ctx, o, 100);
  EXPECT_GE(fake.truth().pings, 2u);
  EXPECT_GE(fake.truth().connections, 2u);
  EXPECT_TRUE(ctx->has_log("after a ping (dead peer)"));
}

TEST(SourceCxone, PushedDownConditionsDropEventsBeforeTheHandOffAndMalformedFramesStayMalformed) {
  const std::uint64_t n = 2000;
  auto o = tls_options(n);
  o.malformed_every = 97;  // checked first: a malformed frame is malformed whatever the conditions
  FakeCxone fake(o);
  auto ctx = std::make_unique<LiveContext>();
  for (const char* f : {"eventType", "interactionId", "metadata.queue", "metrics.state", "metrics.waitTime"})
    ctx->field(f);
  ctx->keep = {cxflow::KeepCondition{"metrics.state", {"abandoned"}},
               cxflow::KeepCondition{"eventType", {"interaction"}},
               cxflow::KeepCondition{"not.read.by.anyone", {"x"}}};  // not in the field table: left to the filter
  ASSERT_EQ(ctx->configure("source-cxone", source_yaml(fake)), "");
  std::uint64_t abandoned = 0;
  for (std::uint64_t i = 0; i < n; ++i) abandoned += FakeCxone::event(i, o).abandoned;
  ASSERT_GT(abandoned, 0u);
  const std::uint64_t malformed_sent = n / 97;
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] {
    return ctx->count("prefiltered") + ctx->count("malformed_total") + ctx->output.size() >= n + malformed_sent;
  })) << ctx->failure;
  ctx->stop();
  ASSERT_EQ(ctx->output.size(), abandoned);
  std::uint64_t k = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!FakeCxone::event(i, o).abandoned) continue;
    EXPECT_EQ(ctx->text(ctx->output[k], "interactionId"), "c-" + std::to_string(i));
    EXPECT_EQ(ctx->text(ctx->output[k], "metrics.state"), "abandoned");
    ++k;
  }
  std::uint64_t sent = 0;
  for (auto m : fake.truth().malformed_sent) sent += m;
  EXPECT_EQ(sent, malformed_sent);
  EXPECT_EQ(ctx->count("malformed_total"), malformed_sent);
  EXPECT_EQ(ctx->count("prefiltered"), n - abandoned);
  EXPECT_EQ(ctx->count("events_received"), n);  // every valid event, kept or not
}

TEST(SourceCxone, EndOnCloseEndsTheStreamAtTheServersNormalClose) {
  auto o = tls_options(1500);
  o.close_when_done = true;  // close 1000 "end of stream" after the last event
  o.drop_after = {500};      // a dropped connection is still reconnected
  o.close_1011_after = {900};
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "end_on_close: true\n"));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return ctx->ended(); })) << ctx->output.size() << " " << ctx->failure;
  expect_exact_stream(*ctx, o, 1500);             // everything, emitted before the end
  EXPECT_EQ(ctx->count("reconnects_total"), 2u);  // the drop and the 1011, not the 1000
  EXPECT_EQ(fake.truth().end_closes_acked, 1u);
  EXPECT_TRUE(ctx->has_log("end_on_close: the stream has ended"));
  ctx->stop();
  EXPECT_EQ(ctx->failure, "");
}

TEST(SourceCxone, WithoutEndOnCloseANormalCloseIsReconnected) {
  auto o = tls_options(300);
  o.close_when_done = true;
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] {
    return ctx->count("reconnects{cause=server_close}") >= 1 && fake.truth().connections >= 2;
  })) << ctx->failure;
  ctx->stop();
  EXPECT_FALSE(ctx->ended());
  expect_exact_stream(*ctx, o, 300);
}

TEST(SourceCxone, UnknownSubscription1008RecreatesTheSubscription) {
  auto o = tls_options(200);
  FakeCxone fake(o);
  fake.forget_subscriptions();  // the first subscribe message is answered with 1008
  auto ctx = make(source_yaml(fake));
  stream_exactly(*ctx, o, 200);
  EXPECT_EQ(fake.truth().unknown_subscription_closes, 1u);
  EXPECT_EQ(fake.truth().subscriptions_created, 2u);
  EXPECT_EQ(ctx->count("reconnects{cause=unknown_subscription}"), 1u);
}

TEST(SourceCxone, BackpressureStopsReadingWithoutKeepaliveTimeoutAndLosesNothing) {
  const std::uint64_t n = 200'000;
  auto o = tls_options(n);
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "ping_interval: 50ms\nping_timeout: 100ms\nbatch_size: 256\n"));
  ctx->set_backpressure(true);
  ctx->start();
  // The fake's write stays blocked: the source stopped reading. Far longer than the keepalive
  // timeout, which must not fire while reading is paused.
  ASSERT_TRUE(ctx->run_until([&] { return fake.truth().current_write_ms >= 1500; }, std::chrono::seconds(30)))
      << "sent " << fake.truth().events_sent << " received " << ctx->count("events_received");
  EXPECT_LT(fake.truth().events_sent, n);
  EXPECT_LE(ctx->output.size(), 256u);  // one batch emitted, then paused
  EXPECT_LE(ctx->count("events_received"),
            3u * 256 + 64);  // bounded: emitted + slot + filling batch (+ one array frame)
  EXPECT_EQ(ctx->count("connections"), 1u);
  EXPECT_EQ(ctx->count("reconnects_total"), 0u);
  ctx->set_backpressure(false);
  ASSERT_TRUE(ctx->run_until([&] { return ctx->output.size() >= n; }, std::chrono::seconds(60))) << ctx->output.size();
  ctx->stop();
  ASSERT_EQ(ctx->output.size(), n);
  std::set<std::string> ids;
  for (const auto& e : ctx->output) ids.insert(ctx->text(e, "interactionId"));
  EXPECT_EQ(ids.size(), n);
  EXPECT_EQ(ctx->count("connections"), 1u);
  EXPECT_GE(ctx->count("paused"), 1u);
}

TEST(SourceCxone, DropNewestKeepsReadingAndCountsWhatItDrops) {
  const std::uint64_t n = 5000;
  auto o = tls_options(n);
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "when_full: drop_newest\nbatch_size: 100\n"));
  ctx->set_backpressure(true);
  ctx->start();
  // Dropped frames are counted as received frames and in dropped_full, undecoded.
  ASSERT_TRUE(ctx->run_until([&] { return ctx->count("frames_received") >= n; })) << ctx->count("frames_received");
  EXPECT_EQ(fake.truth().events_sent, n);
  ctx->stop();  // emits what was kept (the slot and the batch being filled)
  EXPECT_EQ(ctx->output.size() + ctx->count("dropped_full"), n);
  EXPECT_LE(ctx->output.size(), 300u);
  EXPECT_GT(ctx->count("dropped_full"), 0u);
}

TEST(SourceCxone, StopEmitsEverythingAlreadyAccepted) {
  const std::uint64_t n = 100'000;
  auto o = tls_options(n);
  FakeCxone fake(o);
  auto ctx = make(source_yaml(fake, "batch_size: 500\n"));
  ctx->set_backpressure(true);
  ctx->start();
  // Paused: the reader stopped with the emitted batch, the hand-off slot and the batch being filled.
  ASSERT_TRUE(ctx->run_until([&] { return fake.truth().current_write_ms >= 300; }));
  const auto emitted_before_stop = ctx->output.size();
  ctx->stop();
  EXPECT_GT(ctx->count("events_received"), 0u);
  EXPECT_EQ(ctx->output.size(), ctx->count("events_received"));
  EXPECT_GE(ctx->output.size(), emitted_before_stop);
  for (std::size_t i = 0; i < ctx->output.size(); ++i)
    ASSERT_EQ(ctx->text(ctx->output[i], "interactionId"), "c-" + std::to_string(i));
}

// ---- configuration errors: each names the key ----

namespace {
std::string config_error(const std::string& yaml) {
  std::string all;
  for (const auto& e : cxflow::testing::Harness::config_errors("source-cxone", yaml)) all += e.str() + "\n";
  return all;
}
}  // namespace

TEST(SourceCxoneConfig, ExampleConfigures) {
  const auto& api = cxflow::testing::Harness::api("source-cxone");
  EXPECT_EQ(config_error(api.example()), "");
}

TEST(SourceCxoneConfig, ErrorsNameTheKey) {
  EXPECT_NE(config_error("client_secret: x\n").find("client_id"), std::string::npos);
  EXPECT_NE(config_error("client_id: x\n").find("client_secret"), std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nevents_url: https://x/y\n").find("'events_url'"),
            std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\ntoken_url: ftp://x/y\n").find("'token_url'"),
            std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nsubscription_url: nonsense\n").find("'subscription_url'"),
            std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nwhen_full: drop\n").find("when_full"), std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nbackoff_initial: 10s\nbackoff_max: 1s\n").find("backoff_max"),
            std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nfilters: [a]\n").find("filters"), std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nmax_message_size: 10\n").find("max_message_size"),
            std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nscopes: []\n").find("scopes"), std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nregion: ''\n").find("region"), std::string::npos);
  EXPECT_NE(config_error("client_id: a\nclient_secret: b\nbatch_sise: 5\n").find("batch_size"), std::string::npos);
  // The secret never appears in an error message.
  EXPECT_EQ(config_error("client_id: a\nclient_secret: hunter2\nbatch_size: -1\n").find("hunter2"), std::string::npos);
}
