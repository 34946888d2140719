// End to end, protocol rtd: the fake CXone Real-Time Data API (TLS, in this process, a simulated
// contact center at 120x speed) -> the real cxflow binary (source-cxone protocol: rtd, discovery,
// password grant, delta polling with paging) -> filter-interaction -> aggregate-window ->
// sink-sqlite. The KPIs in SQLite (contacts, handled, abandoned, average wait and handle time per
// minute and queue) must equal those computed from the fake's ground truth (every contact that
// ended, with its timestamps), so no contact is lost or counted twice across polls, pages and
// resyncs; one test per fault, and cxflow stays up through each (exit 0 on SIGTERM).
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <cmath>
#include <map>
#include <set>

#include "cxflow/time.hpp"
#include "fake_cxone.hpp"
#include "fake_rtd.hpp"
#include "keyed_rows.hpp"
#include "process.hpp"

using cxflow::fake::FakeRtd;
using cxflow::fake::RtdOptions;
using cxflow::fake::RtdTruth;
using namespace cxflow::test;

namespace {

const std::pair<std::string, std::string>& cert() { return cxflow::fake::shared_test_certificate(); }

constexpr std::uint64_t kContacts = 80;

RtdOptions options() {
  RtdOptions o;
  o.cert_file = cert().first;
  o.key_file = cert().second;
  o.speed = 120;  // 1 wall second = 2 simulated minutes
  o.agents = 20;
  o.arrivals_per_minute = 1.5;          // per skill: queues form, some callers abandon
  o.max_contacts = kContacts;           // then the model drains
  o.end_state_linger_ms = 40 * 60'000;  // 20 wall seconds: every poll sees each EndContact row
  return o;
}

struct Kpi {
  std::int64_t contacts = 0, handled = 0, abandoned = 0;
  double wait_sum = 0, handle_sum = 0;
};

// (window start ISO, queue) -> KPIs, from the contacts that ended (event time = end time).
std::map<std::pair<std::string, std::string>, Kpi> truth_rows(const RtdTruth& t) {
  std::map<std::pair<std::string, std::string>, Kpi> rows;
  for (const auto& c : t.ended) {
    Kpi& k = rows[{cxflow::format_iso8601_ms(c.end_ms - c.end_ms % 60'000), c.skill}];
    ++k.contacts;
    if (c.abandoned) {
      ++k.abandoned;
      k.wait_sum += static_cast<double>(c.end_ms - c.contact_start_ms) / 1000.0;
    } else {
      ++k.handled;
      k.wait_sum += static_cast<double>(*c.agent_start_ms - c.contact_start_ms) / 1000.0;
      k.handle_sum += static_cast<double>(c.end_ms - *c.agent_start_ms) / 1000.0;
    }
  }
  return rows;
}

// With `per_contact`, a second sink writes each ended/abandoned event as its own row (plain
// inserts: an end reported twice is two rows).
std::string pipeline(const FakeRtd& f, const TempDir& d, const std::string& source_extra, bool per_contact = false) {
  return "sources:\n"
         "  cxone:\n"
         "    plugin: source-cxone\n"
         "    protocol: rtd\n"
         "    issuer: " +
         f.base_url() +
         "\n"
         "    client_id: ${CXONE_CLIENT_ID}\n"
         "    client_secret: ${CXONE_CLIENT_SECRET}\n"
         "    access_key_id: ${CXONE_ACCESS_KEY_ID}\n"
         "    access_key_secret: ${CXONE_ACCESS_KEY_SECRET}\n"
         "    ca_file: " +
         cert().first +
         "\n"
         "    streams:\n"
         "      - {path: agents/states, interval: 500ms}\n"
         "      - {path: contacts/active, interval: 500ms}\n"
         "      - {path: skills/activity, interval: 1s}\n"
         "    full_resync: 4s\n"
         "    page_size: 8\n"
         "    backoff_initial: 50ms\n"
         "    backoff_max: 500ms\n"
         "    idle_timeout: 0s\n"
         "    max_out_of_order: 1h\n" +
         source_extra +
         "transforms:\n"
         "  completed:\n"
         "    plugin: filter-interaction\n"
         "    inputs: [cxone]\n"
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
         "      avg_wait: avg(metrics.waitTime)\n"
         "      avg_handle: avg(metrics.handleTime) where metrics.state == ended\n"
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
         "      avg_wait: {field: avg_wait, type: real}\n"
         "      avg_handle: {field: avg_handle, type: real}\n" +
         (per_contact ? "  contacts:\n"
                        "    plugin: sink-sqlite\n"
                        "    inputs: [completed]\n"
                        "    path: " +
                            (d / "out.db").string() +
                            "\n"
                            "    table: contacts\n"
                            "    columns:\n"
                            "      id: {field: interactionId, type: text}\n"
                            "      end_ms: {field: $event_time_ms, type: integer}\n"
                            "      state: {field: metrics.state, type: text}\n"
                            "      wait: {field: metrics.waitTime, type: real}\n"
                            "      handle: {field: metrics.handleTime, type: real}\n"
                      : "");
}

std::uint64_t contact_reads(const RtdTruth& t) {
  std::uint64_t n = 0;
  for (const char* status : {" 200", " 304", " 204"}) {
    const auto it = t.requests.find(std::string("GET /inContactAPI/services/v30.0/contacts/active") + status);
    if (it != t.requests.end()) n += it->second;
  }
  return n;
}

struct Outcome {
  std::string err;
  RtdTruth truth;
};

// Runs cxflow on `d`'s pipeline until every contact ended and the source read contacts/active
// in full three more times, then SIGTERM; checks exit 0.
Outcome run_until_drained(FakeRtd& fake, const TempDir& d, const std::string& source_extra, bool per_contact = false) {
  Outcome result;
  const auto yaml = d.write("p.yaml", pipeline(fake, d, source_extra, per_contact));
  Child child({cxflow_bin(), "run", yaml.string(), "--no-status"}, d.path(),
              {"CXONE_CLIENT_ID=test-client", "CXONE_CLIENT_SECRET=test-secret", "CXONE_ACCESS_KEY_ID=test-access-key",
               "CXONE_ACCESS_KEY_SECRET=test-access-secret"});
  const std::uint64_t n = fake.options().max_contacts;
  const bool drained = wait_for([&] { return fake.truth().ended.size() >= n; }, std::chrono::seconds(180));
  EXPECT_TRUE(drained) << "ended " << fake.truth().ended.size() << "\n" << child.err();
  // A row skipped by a page that shifted is caught only by a full read (absence or its lingering
  // end state; README "full_resync"), so a few more reads are not enough. Wait until two full reads
  // of contacts/active began after the drain (the first sees an absence, the second, at once,
  // confirms it), then for one more read of any kind, which begins only after the second ended.
  const auto full_reads = [&] {
    const auto t = fake.truth();
    const auto it = t.full_reads.find("contacts/active");
    return it == t.full_reads.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t fulls = full_reads();
  bool read = wait_for([&] { return full_reads() >= fulls + 2; }, std::chrono::seconds(60));
  const std::uint64_t reads = contact_reads(fake.truth());
  read = read && wait_for([&] { return contact_reads(fake.truth()) >= reads + 1; }, std::chrono::seconds(60));
  EXPECT_TRUE(read) << child.err();
  child.signal(SIGTERM);
  const auto code = child.wait(std::chrono::seconds(30));
  result.err = child.err();
  result.truth = fake.truth();
  EXPECT_TRUE(code.has_value());
  EXPECT_EQ(code.value_or(-1), 0) << result.err;
  EXPECT_EQ(result.truth.ended.size(), n);
  return result;
}

// run_until_drained, then every SQLite row against the truth.
Outcome run_and_check(RtdOptions o, const std::string& source_extra = "") {
  TempDir d;
  FakeRtd fake(o);
  Outcome result = run_until_drained(fake, d, source_extra);

  const auto expected = truth_rows(result.truth);
  const Rows rows = sqlite_query(d / "out.db",
                                 "SELECT window_start, queue, contacts, handled, abandoned, avg_wait, avg_handle "
                                 "FROM queue_windows ORDER BY window_start, queue");
  const std::int64_t total = check_keyed_rows(
      rows, expected,
      [](const auto& r, const Kpi& e) {
        EXPECT_EQ(std::stoll(r[2]), e.contacts) << r[0] << " " << r[1];
        EXPECT_EQ(std::stoll(r[3]), e.handled) << r[0] << " " << r[1];
        EXPECT_EQ(std::stoll(r[4]), e.abandoned) << r[0] << " " << r[1];
        EXPECT_NEAR(std::stod(r[5]), e.wait_sum / static_cast<double>(e.contacts), 1e-6) << r[0] << " " << r[1];
        if (e.handled > 0)
          EXPECT_NEAR(std::stod(r[6]), e.handle_sum / static_cast<double>(e.handled), 1e-6) << r[0] << " " << r[1];
        else
          EXPECT_EQ(r[6], "") << r[0] << " " << r[1];
      },
      result.err);
  EXPECT_EQ(total, static_cast<std::int64_t>(kContacts));  // every contact exactly once
  return result;
}

}  // namespace

TEST(SourceCxoneRtdE2E, KpisEqualTheFakesTruth) {
  const auto r = run_and_check(options());
  EXPECT_EQ(r.truth.tokens_issued, 1u);
  EXPECT_EQ(r.truth.api_401, 0u);
  EXPECT_GT(r.truth.pages_after_first, 0u);  // paging happened
  EXPECT_GT(r.truth.no_change, 0u);          // and delta reads (304) too
  EXPECT_EQ(r.truth.requests.at("GET /.well-known/openid-configuration 200"), 1u);
  EXPECT_GE(r.truth.requests.at("GET /.well-known/cxone-configuration 200"), 1u);
  EXPECT_EQ(r.err.find("test-access-secret"), std::string::npos);  // never logged
  EXPECT_EQ(r.err.find("test-secret"), std::string::npos);
}

TEST(SourceCxoneRtdE2E, LegacyLayoutGivesTheSameKpis) {
  auto o = options();
  o.legacy_layout = true;
  o.no_change_status = 204;
  o.seed = 3;
  run_and_check(o);
}

TEST(SourceCxoneRtdE2E, RevokedTokenReauthenticates) {
  auto o = options();
  o.revoke_after_api_requests = {25, 60};
  const auto r = run_and_check(o);
  EXPECT_EQ(r.truth.revocations, 2u);
  EXPECT_GE(r.truth.api_401, 2u);
  EXPECT_GE(r.truth.tokens_issued + r.truth.tokens_refreshed, 3u);
}

TEST(SourceCxoneRtdE2E, Api429WithRetryAfter) {
  auto o = options();
  o.api_fault_after = 20;
  o.api_429 = 2;
  o.api_retry_after_s = 1;
  const auto r = run_and_check(o);
  EXPECT_EQ(r.truth.api_429_sent, 2u);
}

TEST(SourceCxoneRtdE2E, Api429WithoutRetryAfterBacksOff) {
  auto o = options();
  o.api_fault_after = 20;
  o.api_429 = 3;
  const auto r = run_and_check(o);
  EXPECT_EQ(r.truth.api_429_sent, 3u);
}

TEST(SourceCxoneRtdE2E, Api500BacksOffAndRetries) {
  auto o = options();
  o.api_fault_after = 30;
  o.api_500 = 3;
  const auto r = run_and_check(o);
  EXPECT_EQ(r.truth.api_500_sent, 3u);
}

TEST(SourceCxoneRtdE2E, APageThatNeverAnswersTimesOutAndIsRetried) {
  auto o = options();
  o.hang_pages = 1;
  const auto r = run_and_check(o, "    http_timeout: 1s\n");
  EXPECT_EQ(r.truth.hung, 1u);
}

TEST(SourceCxoneRtdE2E, RowsShiftingDuringPagingLoseAndRepeatNothing) {
  auto o = options();
  o.shift_pages = 4;
  const auto r = run_and_check(o);
  EXPECT_EQ(r.truth.shifted, 4u);
}

TEST(SourceCxoneRtdE2E, ContactsThatVanishEndByAbsenceExactlyOnce) {
  auto o = options();
  o.end_state_linger_ms = 0;  // no EndContact rows: ends are found by absence from full reads
  // A contact that comes and goes between two reads is invisible to any client of this API, so
  // here every contact lives longer than several reads: 15 simulated seconds between reads, no
  // abandons (patience), a handled contact lasts at least ring + talk + wrap-up (> 60 s).
  o.speed = 30;
  o.patience_mean_s = 1e7;
  o.max_contacts = 40;
  TempDir d;
  FakeRtd fake(o);
  const Outcome r = run_until_drained(fake, d, "    end_detection: absence\n");
  // The end time is the lastPollTime of the read that missed the contact, so windows may differ
  // from the truth by one contacts interval; the counts per queue may not.
  const RtdTruth& t = r.truth;
  std::map<std::string, std::array<std::int64_t, 3>> expected;
  for (const auto& c : t.ended) {
    auto& e = expected[c.skill];
    ++e[0];
    ++e[c.abandoned ? 2 : 1];
  }
  const Rows rows = sqlite_query(
      d / "out.db", "SELECT queue, SUM(contacts), SUM(handled), SUM(abandoned) FROM queue_windows GROUP BY queue");
  ASSERT_EQ(rows.size(), expected.size()) << r.err;
  for (const auto& r : rows) {
    EXPECT_EQ(std::stoll(r[1]), expected[r[0]][0]) << r[0];
    EXPECT_EQ(std::stoll(r[2]), expected[r[0]][1]) << r[0];
    EXPECT_EQ(std::stoll(r[3]), expected[r[0]][2]) << r[0];
  }
}

TEST(SourceCxoneRtdE2E, RowsShiftingDuringFullReadsEndNoContactEarlyOrTwice) {
  // end_detection absence: every contacts read is a full read, so each shift (a contact leaves the
  // active set and another arrives between two pages, totalRecords unchanged) makes that full read
  // miss a contact that is still active. Ending it there would be wrong.
  auto o = options();
  o.end_state_linger_ms = 0;
  o.speed = 30;             // 15 simulated seconds between reads
  o.patience_mean_s = 1e7;  // every contact is answered and lives longer than several reads
  o.max_contacts = 40;
  o.shift_pages = 6;
  TempDir d;
  FakeRtd fake(o);
  const Outcome r = run_until_drained(fake, d, "    end_detection: absence\n", true);
  EXPECT_EQ(r.truth.shifted, 6u);
  std::map<std::string, const cxflow::fake::RtdContact*> truth;
  for (const auto& c : r.truth.ended) truth[std::to_string(c.contact_id)] = &c;
  const Rows rows = sqlite_query(d / "out.db", "SELECT id, end_ms, state, wait, handle FROM contacts ORDER BY id");
  EXPECT_EQ(rows.size(), truth.size()) << r.err;
  std::set<std::string> seen;
  for (const auto& row : rows) {
    EXPECT_TRUE(seen.insert(row[0]).second) << "ended twice: " << row[0];
    const auto it = truth.find(row[0]);
    if (it == truth.end()) {
      ADD_FAILURE() << "not an ended contact: " << row[0];
      continue;
    }
    const auto& c = *it->second;
    const std::int64_t end_ms = std::stoll(row[1]);
    // Absence is seen at the first full read after the end: never before it, and within a few
    // reads (15 simulated s each) after it.
    EXPECT_GE(end_ms, c.end_ms) << row[0] << " ended before it did";
    EXPECT_LE(end_ms, c.end_ms + 5 * 60'000) << row[0];
    EXPECT_EQ(row[2], c.abandoned ? "abandoned" : "ended") << row[0];
    if (c.agent_start_ms) {
      EXPECT_NEAR(std::stod(row[3]), static_cast<double>(*c.agent_start_ms - c.contact_start_ms) / 1000.0, 1e-6)
          << row[0];
    }
  }
}
