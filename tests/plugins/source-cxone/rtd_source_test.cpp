// source-cxone, protocol rtd: the real .so against the fake Real-Time Data API (FakeRtd) over
// loopback TLS with a certificate made at test time. The fake's model runs on a simulated clock
// (speed x wall time); its ground truth lists every contact that ended, which the events the
// source derived must match: exactly one ended/abandoned event per contact, with its wait and
// handle times.
#include <gtest/gtest.h>

#include <cxflow/time.hpp>

#include <cmath>
#include <map>
#include <set>

#include "fake_cxone.hpp"
#include "fake_rtd.hpp"
#include "live_context.hpp"
#include "process.hpp"

using cxflow::fake::FakeRtd;
using cxflow::fake::RtdOptions;
using cxflow::fake::RtdTruth;
using cxflow::test::LiveContext;
using cxflow::test::TempDir;

namespace {

const std::pair<std::string, std::string>& cert() { return cxflow::fake::shared_test_certificate(); }

// A small, fast model: `contacts` contacts over a few simulated minutes at 60x.
RtdOptions model(std::uint64_t contacts) {
  RtdOptions o;
  o.cert_file = cert().first;
  o.key_file = cert().second;
  o.speed = 60;
  o.seed = 7;
  o.skills = 2;
  o.agents = 4;
  o.arrivals_per_minute = 6;
  o.max_contacts = contacts;
  o.handle_median_s = 40;
  o.acw_min_s = 2;
  o.acw_max_s = 6;
  o.patience_mean_s = 60;
  o.break_probability = 0;
  o.end_state_linger_ms = 20'000;
  return o;
}

std::string rtd_yaml(const FakeRtd& f, const std::string& extra = "") {
  return "protocol: rtd\nissuer: " + f.base_url() + "\nclient_id: test-client\nclient_secret: test-secret\n" +
         "access_key_id: test-access-key\naccess_key_secret: test-access-secret\nca_file: " + cert().first +
         "\nbackoff_initial: 10ms\nbackoff_max: 50ms\nmax_out_of_order: 0s\n" +
         "streams: [{path: agents/states, interval: 100ms}, {path: contacts/active, interval: 100ms}, "
         "{path: skills/activity, interval: 200ms}]\n" +
         extra;
}

std::unique_ptr<LiveContext> make(const std::string& yaml, std::string* error = nullptr) {
  auto ctx = std::make_unique<LiveContext>();
  for (const char* f : {"eventType", "interactionId", "agentId", "metadata.queue", "metrics.state", "metrics.reason",
                        "metrics.waitTime", "metrics.handleTime", "metrics.queueLength", "metrics.serviceLevel",
                        "metrics.longestWait", "metrics.agentsAvailable"})
    ctx->field(f);
  const std::string err = ctx->configure("source-cxone", yaml);
  if (error != nullptr)
    *error = err;
  else
    EXPECT_EQ(err, "");
  return ctx;
}

struct End {
  std::string state;
  double wait = 0, handle = -1;
  std::int64_t time_ms = 0;
};

// interactionId -> its ended/abandoned events (must be exactly one each).
std::map<std::string, std::vector<End>> ends(const LiveContext& ctx) {
  std::map<std::string, std::vector<End>> out;
  for (const auto& e : ctx.output) {
    if (ctx.text(e, "eventType") != "interaction") continue;
    const std::string s = ctx.text(e, "metrics.state");
    if (s != "ended" && s != "abandoned") continue;
    End x;
    x.state = s;
    x.wait = ctx.number(e, "metrics.waitTime");
    if (s == "ended") x.handle = ctx.number(e, "metrics.handleTime");
    x.time_ms = e.time_ms;
    out[ctx.text(e, "interactionId")].push_back(x);
  }
  return out;
}

// Runs until the model drained (every contact ended) and the source reported every end.
void run_to_drain(LiveContext& ctx, const FakeRtd& fake, std::uint64_t contacts) {
  ctx.start();
  const bool done = ctx.run_until([&] { return fake.truth().ended.size() >= contacts && ends(ctx).size() >= contacts; },
                                  std::chrono::seconds(40));
  ctx.stop();
  std::string counters;
  for (const char* c :
       {"rtd_polls", "rtd_full_reads", "rtd_pages", "rtd_rows", "rtd_not_modified", "rtd_unstable_reads",
        "rtd_polls_delayed", "rtd_ends_by_state", "rtd_ends_by_absence", "rtd_tracked_keys", "http_retries"})
    counters += std::string(" ") + c + "=" + std::to_string(ctx.count(c));
  ASSERT_TRUE(done) << "truth ended " << fake.truth().ended.size() << ", source ends " << ends(ctx).size()
                    << "; failure: " << ctx.failure << ";" << counters << "; truth active "
                    << fake.truth().contacts_active;
}

// Exactly one end per contact of the truth, with its kind; times exact (end state) or within
// `tolerance_ms` of the truth (end by absence). With end detection by absence a contact whose whole
// life fits between two reads is never seen: contacts shorter than `min_life_ms` may be missing.
// Returns how many ends match the truth exactly.
std::size_t expect_ends_match(const LiveContext& ctx, const RtdTruth& t, std::int64_t tolerance_ms,
                              std::int64_t min_life_ms = 0) {
  const auto got = ends(ctx);
  std::set<std::string> truth_ids;
  for (const auto& c : t.ended) truth_ids.insert(std::to_string(c.contact_id));
  for (const auto& [id, v] : got) EXPECT_TRUE(truth_ids.count(id)) << "end of contact " << id << " that did not end";
  if (min_life_ms == 0) {
    EXPECT_EQ(got.size(), t.ended.size());
  }
  std::size_t abandoned = 0, exact = 0;
  for (const auto& c : t.ended) {
    const auto it = got.find(std::to_string(c.contact_id));
    if (it == got.end() && c.end_ms - c.contact_start_ms < min_life_ms) continue;
    if (it == got.end()) {
      std::string seen;
      for (const auto& e : ctx.output)
        if (ctx.text(e, "interactionId") == std::to_string(c.contact_id))
          seen += " " + ctx.text(e, "eventType") + ":" + ctx.text(e, "metrics.state") + "@" +
                  cxflow::format_iso8601_ms(e.time_ms);
      ADD_FAILURE() << "contact " << c.contact_id << " has no end event; truth: start "
                    << cxflow::format_iso8601_ms(c.contact_start_ms) << " end " << cxflow::format_iso8601_ms(c.end_ms)
                    << (c.abandoned ? " abandoned" : " answered") << "; events:" << seen;
      continue;
    }
    EXPECT_EQ(it->second.size(), 1u) << "contact " << c.contact_id << " ended " << it->second.size() << " times";
    const End& e = it->second[0];
    if (e.time_ms == c.end_ms) ++exact;
    EXPECT_EQ(e.state, c.abandoned ? "abandoned" : "ended") << c.contact_id;
    const double tol = static_cast<double>(tolerance_ms) / 1000.0 + 1e-6;
    EXPECT_LE(std::abs(static_cast<double>(e.time_ms - c.end_ms)), static_cast<double>(tolerance_ms)) << c.contact_id;
    if (c.abandoned) {
      ++abandoned;
      EXPECT_NEAR(e.wait, static_cast<double>(c.end_ms - c.contact_start_ms) / 1000.0, tol) << c.contact_id;
    } else {
      EXPECT_NEAR(e.wait, static_cast<double>(*c.agent_start_ms - c.contact_start_ms) / 1000.0, 1e-6) << c.contact_id;
      EXPECT_NEAR(e.handle, static_cast<double>(c.end_ms - *c.agent_start_ms) / 1000.0, tol) << c.contact_id;
    }
  }
  EXPECT_GT(abandoned + 0u, 0u) << "the model should abandon some contacts (patience)";
  EXPECT_LT(abandoned, t.ended.size());
  return exact;
}

}  // namespace

TEST(SourceCxoneRtd, DiscoveryPasswordGrantPollingAndExactlyOneEndPerContact) {
  auto o = model(30);
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake));
  run_to_drain(*ctx, fake, 30);
  const RtdTruth t = fake.truth();
  expect_ends_match(*ctx, t, 0);  // ends from the EndContact rows: exact
  EXPECT_EQ(ctx->failure, "");
  EXPECT_EQ(t.tokens_issued, 1u);
  EXPECT_EQ(ctx->count("token_requests"), 1u);
  EXPECT_EQ(t.api_406, 0u);  // Accept: application/json on every call
  EXPECT_EQ(t.api_401, 0u);
  EXPECT_GT(ctx->count("rtd_polls"), 30u);
  EXPECT_GT(ctx->count("rtd_not_modified"), 0u);  // deltas with nothing new answer 304
  EXPECT_EQ(ctx->count("rtd_ends_by_state"), 30u);
  EXPECT_EQ(ctx->count("rtd_malformed_total"), 0u);
  // Agent events: every change of the truth that happened while polling is one event, in order.
  std::map<std::string, std::vector<std::string>> agent_states;
  for (const auto& e : ctx->output)
    if (ctx->text(e, "eventType") == "agent")
      agent_states[ctx->text(e, "agentId")].push_back(ctx->text(e, "metrics.state"));
  EXPECT_EQ(agent_states.size(), static_cast<std::size_t>(o.agents));
  std::size_t queue_events = 0;
  for (const auto& e : ctx->output)
    if (ctx->text(e, "eventType") == "queue") {
      ++queue_events;
      EXPECT_GE(ctx->number(e, "metrics.queueLength"), 0);
      EXPECT_GE(ctx->number(e, "metrics.longestWait"), 0);
    }
  EXPECT_GT(queue_events, 0u);
  // The watermark never passes an event emitted after it.
  ASSERT_FALSE(ctx->watermarks.empty());
  for (std::size_t k = 1; k < ctx->watermarks.size(); ++k) EXPECT_GT(ctx->watermarks[k], ctx->watermarks[k - 1]);
  for (const auto& l : ctx->log_lines) {
    EXPECT_EQ(l.find("test-secret"), std::string::npos) << l;
    EXPECT_EQ(l.find("test-access-secret"), std::string::npos) << l;
  }
}

TEST(SourceCxoneRtd, EndsByAbsenceWhenContactsVanishAtOnce) {
  auto o = model(24);
  o.end_state_linger_ms = 0;
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake));
  // Full reads every 100 ms wall = 6 s simulated (more on a loaded machine), each absence
  // confirmed by a second read at once: the end is known to about one contacts interval.
  const std::int64_t bound_ms = 30'000;
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return fake.truth().contacts_arrived >= 24 && fake.truth().contacts_active == 0; },
                             std::chrono::seconds(60)));
  ctx->run_until([] { return false; }, std::chrono::milliseconds(1000));  // a few more full reads
  ctx->stop();
  expect_ends_match(*ctx, fake.truth(), bound_ms, bound_ms);
  EXPECT_GT(ctx->count("rtd_ends_by_absence"), 12u);
  EXPECT_EQ(ctx->count("rtd_ends_by_absence"), ends(*ctx).size());
  EXPECT_EQ(ctx->count("rtd_ends_by_state"), 0u);
}

TEST(SourceCxoneRtd, LegacyLayoutClientSecretPostAnd204) {
  auto o = model(16);
  o.legacy_layout = true;
  o.client_auth = "post";
  o.no_change_status = 204;
  o.default_top = 0;
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake, "client_auth: post\npage_size: 3\n"));
  run_to_drain(*ctx, fake, 16);
  expect_ends_match(*ctx, fake.truth(), 0);
  EXPECT_GT(fake.truth().pages_after_first, 0u);  // page_size 3: reads follow _links.next
  EXPECT_GT(ctx->count("rtd_not_modified"), 0u);
}

TEST(SourceCxoneRtd, AccessKeyEndpointAndExplicitApiBase) {
  auto o = model(12);
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake, "auth: access_key\napi_base_url: " + fake.base_url() + "\n"));
  run_to_drain(*ctx, fake, 12);
  expect_ends_match(*ctx, fake.truth(), 0);
  EXPECT_EQ(fake.truth().requests.count("GET /.well-known/cxone-configuration 200"), 0u);
}

TEST(SourceCxoneRtd, FaultsAreRiddenOutWithoutLosingOrRepeatingAContact) {
  auto o = model(30);
  o.token_429 = 2;
  o.token_retry_after_s = 0;
  o.api_fault_after = 20;
  o.api_429 = 2;
  o.api_500 = 2;
  o.hang_pages = 1;
  o.shift_pages = 3;
  o.revoke_after_api_requests = {60};
  o.end_state_linger_ms = 120'000;  // 2 s wall: end rows outlive the retries
  FakeRtd fake(o);
  // full_resync 1 s (60 s simulated): an end whose row the source never saw (it left the set
  // while requests were failing) is found by absence on the next full read, late by that much.
  auto ctx = make(rtd_yaml(fake, "page_size: 2\nhttp_timeout: 400ms\nfull_resync: 1s\n"));
  run_to_drain(*ctx, fake, 30);
  const RtdTruth t = fake.truth();
  const std::size_t exact = expect_ends_match(*ctx, t, 150'000);
  EXPECT_EQ(ctx->count("rtd_ends_by_state") + ctx->count("rtd_ends_by_absence"), 30u);
  EXPECT_GE(exact, ctx->count("rtd_ends_by_state"));  // ends from end rows are exact
  EXPECT_LE(ctx->count("rtd_ends_by_absence"), 3u);
  EXPECT_EQ(t.token_429_sent, 2u);
  EXPECT_EQ(t.api_429_sent, 2u);
  EXPECT_EQ(t.api_500_sent, 2u);
  EXPECT_EQ(t.hung, 1u);
  EXPECT_EQ(t.revocations, 1u);
  EXPECT_GE(ctx->count("rtd_retries{cause=rate_limited}"), 4u);  // 2 token + 2 API
  EXPECT_GE(ctx->count("rtd_retries{cause=server_error}"), 2u);
  EXPECT_GE(ctx->count("rtd_retries{cause=timeout}"), 1u);
  EXPECT_GE(ctx->count("rtd_retries{cause=unauthorized}"), 1u);
  EXPECT_GE(t.tokens_issued + t.tokens_refreshed, 2u);
  EXPECT_EQ(ctx->failure, "");
}

TEST(SourceCxoneRtd, BackpressureDelaysPollsInsteadOfBuffering) {
  auto o = model(20);
  o.end_state_linger_ms = 600'000;  // 10 s wall: end rows outlive the 1.5 s the pipeline stays full
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake));
  ctx->set_backpressure(true);
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->output.empty(); })) << ctx->failure;
  const auto polls = ctx->count("rtd_polls");
  // While the pipeline stays full the poller waits: at most the poll in flight completes.
  ctx->run_until([] { return false; }, std::chrono::milliseconds(1500));
  EXPECT_LE(ctx->count("rtd_polls"), polls + 2);
  EXPECT_GE(ctx->count("rtd_polls_delayed"), 1u);
  ctx->set_backpressure(false);
  const bool done = ctx->run_until([&] { return fake.truth().ended.size() >= 20 && ends(*ctx).size() >= 20; },
                                   std::chrono::seconds(90));
  ctx->stop();
  ASSERT_TRUE(done) << ctx->failure;
  expect_ends_match(*ctx, fake.truth(), 0);
}

TEST(SourceCxoneRtd, FatalErrorsFailWithTheReason) {
  auto o = model(1);
  o.access_key_secret = "the-fakes-own-secret";  // the source sends test-access-secret: rejected
  FakeRtd fake(o);
  auto ctx = make(rtd_yaml(fake));
  ctx->start();
  ASSERT_TRUE(ctx->run_until([&] { return !ctx->failure.empty(); })) << "no failure";
  ctx->stop();
  EXPECT_NE(ctx->failure.find("rejected the access key or the client credentials"), std::string::npos) << ctx->failure;
  EXPECT_EQ(ctx->failure.find("test-access-secret"), std::string::npos) << ctx->failure;
}

TEST(SourceCxoneRtd, ConfigErrorsNameTheKey) {
  std::string err;
  make(
      "protocol: rtd\naccess_key_id: a\naccess_key_secret: b\nclient_id: c\nclient_secret: d\n"
      "streams: [{path: contacts/parked}]\n",
      &err);
  EXPECT_NE(err.find("<test>:6:"), std::string::npos) << err;
  EXPECT_NE(err.find("streams[0]"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown stream path 'contacts/parked'"), std::string::npos) << err;
  make("protocol: rtd\nauth: static_token\ntoken: t\n", &err);
  EXPECT_NE(err.find("needs 'api_base_url'"), std::string::npos) << err;
  make("protocol: rtd\nclient_id: c\nclient_secret: d\n", &err);
  EXPECT_NE(err.find("'auth: password' needs 'access_key_id'"), std::string::npos) << err;
  make("auth: password\nclient_id: c\nclient_secret: d\n", &err);
  EXPECT_NE(err.find("is for protocol: rtd"), std::string::npos) << err;
}
