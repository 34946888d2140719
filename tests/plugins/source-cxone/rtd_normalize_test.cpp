// source-cxone, protocol rtd: the pure parts without any network: response layouts, JWT claims,
// and the normalizer (state changes, dedupe by (key, lastUpdateTime), exactly one end per
// contact, end detection by end state and by absence, wait/handle times, queue rows).
#include <gtest/gtest.h>

#include <cxflow/time.hpp>

#include "rtd.hpp"

using cxflow::Event;
using cxflow::FieldTable;
using cxflow::cxone::Config;
using cxflow::cxone::EndDetection;
using cxflow::cxone::RtdStream;
using cxflow::cxone::StreamKind;
namespace rtd = cxflow::cxone::rtd;
using Json = rtd::Json;

namespace {

constexpr std::int64_t T0 = 1'767'600'000'000;  // 2026-01-05T08:00:00Z

std::string iso(std::int64_t ms) { return cxflow::format_iso8601_ms(ms); }

struct Fixture {
  explicit Fixture(EndDetection mode = EndDetection::automatic, std::vector<RtdStream> streams = {}) {
    for (const char* f :
         {"eventType", "timestamp", "interactionId", "agentId", "metadata.queue", "metadata.skill", "metadata.team",
          "metrics.state", "metrics.reason", "metrics.waitTime", "metrics.handleTime", "metrics.queueLength",
          "metrics.agentsAvailable", "metrics.longestWait", "metrics.serviceLevel", "custom.value"})
      table.intern(f);
    table.freeze();
    cfg.protocol = cxflow::cxone::Protocol::rtd;
    cfg.end_detection = mode;
    cfg.streams = std::move(streams);
    norm = std::make_unique<rtd::Normalizer>(cfg, cxflow::cxone::effective_streams(cfg), table);
  }
  std::string text(const Event& e, const char* f) const {
    const auto* v = e.get(*table.find(f));
    return v ? cxflow::to_text(*v) : std::string("<none>");
  }
  double num(const Event& e, const char* f) const {
    const auto* v = e.get(*table.find(f));
    return v ? cxflow::as_number(*v).value_or(-1) : -1;
  }
  bool has(const Event& e, const char* f) const { return e.get(*table.find(f)) != nullptr; }
  // One read of stream `i` with `rows`.
  std::vector<Event> read(std::size_t i, bool full, const std::vector<Json>& rows, std::int64_t t,
                          bool complete = true) {
    std::vector<Event> out;
    norm->begin_read(i, full);
    for (const auto& r : rows) norm->row(i, r, t, out);
    norm->end_read(i, complete, t, out);
    return out;
  }
  FieldTable table;
  Config cfg;
  std::unique_ptr<rtd::Normalizer> norm;
};

constexpr std::size_t kAgents = 0, kContacts = 1, kSkills = 2;

Json contact(std::int64_t id, const char* state, std::int64_t start, std::optional<std::int64_t> agent_start,
             std::int64_t updated, const char* category = "Active") {
  Json j = {{"contactId", id},
            {"masterContactId", id},
            {"skillId", 11},
            {"skillName", "Sales"},
            {"stateName", state},
            {"contactStateCategory", category},
            {"contactStartDate", iso(start)},
            {"lastUpdateTime", iso(updated)},
            {"mediaTypeName", "Call"}};
  j["agentStartDate"] = agent_start ? Json(iso(*agent_start)) : Json(nullptr);
  j["agentId"] = agent_start ? Json(4001) : Json(nullptr);
  return j;
}

Json agent(std::int64_t id, const char* state, std::int64_t updated, const char* reason = "", bool acw = false) {
  return {{"agentId", id},           {"userName", "a" + std::to_string(id)}, {"teamName", "Team A"},
          {"agentStateName", state}, {"outStateDescription", reason},        {"isACW", acw},
          {"skillName", "Sales"},    {"lastUpdateTime", iso(updated)}};
}

}  // namespace

TEST(RtdParse, CurrentLayout) {
  const std::string body =
      R"({"totalRecords": 3, "_links": {"self": "https://h/a?skip=0", "next": "https://h/a?skip=2&top=2",
    "previous": null}, "lastPollTime": "2026-01-05T08:00:05.250Z", "businessUnitId": 4600001,
    "activeContacts": [{"contactId": 1}, {"contactId": 2}]})";
  std::string err;
  const auto p = rtd::parse_page(body, "activeContacts", err);
  ASSERT_TRUE(p) << err;
  EXPECT_EQ(p->rows.size(), 2u);
  EXPECT_EQ(p->total_records, 3);
  EXPECT_EQ(p->next, "https://h/a?skip=2&top=2");
  EXPECT_EQ(p->last_poll_ms, T0 + 5250);
}

TEST(RtdParse, LegacyResultSetWithPascalCase) {
  const std::string body =
      R"({"resultSet": {"TotalRecords": 1, "_Links": {"Next": null}, "LastPollTime": "2026-01-05T08:00:01.000Z",
    "ActiveContacts": [{"ContactId": 7, "StateName": "Active", "ContactStartDate": "2026-01-05T07:59:00.000Z",
    "AgentStartDate": "2026-01-05T07:59:30.000Z", "LastUpdateTime": "2026-01-05T07:59:30.000Z", "SkillName": "Support"}]}})";
  std::string err;
  const auto p = rtd::parse_page(body, "activeContacts", err);
  ASSERT_TRUE(p) << err;
  ASSERT_EQ(p->rows.size(), 1u);
  EXPECT_EQ(p->total_records, 1);
  EXPECT_EQ(p->next, "");
  EXPECT_EQ(p->last_poll_ms, T0 + 1000);
  Fixture f;
  const auto ev = f.read(kContacts, true, {p->rows[0]}, T0 + 1000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "interactionId"), "7");
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "active");
  EXPECT_EQ(f.text(ev[0], "metadata.queue"), "Support");
}

TEST(RtdParse, RejectsWhatIsNotAPage) {
  std::string err;
  EXPECT_FALSE(rtd::parse_page("[1,2]", "agentStates", err));
  EXPECT_NE(err.find("not a JSON object"), std::string::npos);
  EXPECT_FALSE(rtd::parse_page(R"({"agentStates": 5})", "agentStates", err));
  EXPECT_NE(err.find("not an array"), std::string::npos);
  const auto empty = rtd::parse_page(R"({"totalRecords": 0})", "agentStates", err);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->rows.empty());
}

TEST(RtdJwt, ClaimsFromBase64UrlWithoutPadding) {
  const std::string claims = R"({"tenantId":"11eb-aa?>","icBUId":4600001,"area":"na1","exp":1767603600})";
  std::string b64 = rtd::base64_encode(claims);
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  const auto j = rtd::jwt_claims("eyJhbGciOiJub25lIn0." + b64 + ".sig");
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["tenantId"], "11eb-aa?>");
  EXPECT_EQ(rtd::id_text(rtd::member(*j, "icbuid")), "4600001");
  EXPECT_FALSE(rtd::jwt_claims("not-a-jwt"));
  EXPECT_FALSE(rtd::jwt_claims("a.!!!.c"));
  EXPECT_EQ(rtd::base64_decode(rtd::base64_encode("ab")), "ab");
  EXPECT_EQ(rtd::base64_decode(rtd::base64_encode("abcd")), "abcd");
}

TEST(RtdNormalize, AnsweredContactEndsOnceWithWaitAndHandleTime) {
  Fixture f;
  const std::int64_t start = T0, answer = T0 + 25'000, end = T0 + 205'500;
  auto ev = f.read(kContacts, true, {contact(1, "InQueue", start, std::nullopt, start)}, T0 + 1000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "queued");
  EXPECT_EQ(f.text(ev[0], "eventType"), "interaction");
  EXPECT_EQ(ev[0].time_ms, start);
  EXPECT_FALSE(f.has(ev[0], "metrics.waitTime"));
  ev = f.read(kContacts, true, {contact(1, "Active", start, answer, answer)}, T0 + 30'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "active");
  EXPECT_EQ(f.text(ev[0], "agentId"), "4001");
  ev = f.read(kContacts, true, {contact(1, "Holding", start, answer, answer + 60'000)}, T0 + 100'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "hold");
  // The end state: one ended event at the row's lastUpdateTime; the lingering row adds nothing.
  ev = f.read(kContacts, true, {contact(1, "EndContact", start, answer, end, "Ended")}, T0 + 206'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "ended");
  EXPECT_EQ(ev[0].time_ms, end);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.waitTime"), 25.0);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.handleTime"), 180.5);
  EXPECT_EQ(f.text(ev[0], "timestamp"), iso(end));
  EXPECT_TRUE(f.read(kContacts, true, {contact(1, "EndContact", start, answer, end, "Ended")}, T0 + 210'000).empty());
  // Gone from the next full read: forgotten, and no second end.
  EXPECT_TRUE(f.read(kContacts, true, {}, T0 + 240'000).empty());
  EXPECT_EQ(f.norm->tracked(), 0u);
  EXPECT_EQ(f.norm->stats().ends_by_state, 1u);
  EXPECT_EQ(f.norm->stats().ends_by_absence, 0u);
}

TEST(RtdNormalize, AbandonedByAbsenceFromAFullRead) {
  Fixture f;
  EXPECT_TRUE(f.norm->contacts_need_full_reads());
  auto ev =
      f.read(kContacts, true,
             {contact(2, "InQueue", T0, std::nullopt, T0), contact(3, "InQueue", T0, std::nullopt, T0)}, T0 + 5'000);
  EXPECT_EQ(ev.size(), 2u);
  // Contact 2 vanished (no end state is ever reported): suspected at this read, confirmed by the
  // next, abandoned at the first read's lastPollTime.
  EXPECT_TRUE(f.read(kContacts, true, {contact(3, "InQueue", T0, std::nullopt, T0)}, T0 + 10'000).empty());
  ev = f.read(kContacts, true, {contact(3, "InQueue", T0, std::nullopt, T0)}, T0 + 11'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "interactionId"), "2");
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "abandoned");
  EXPECT_EQ(ev[0].time_ms, T0 + 10'000);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.waitTime"), 10.0);
  EXPECT_FALSE(f.has(ev[0], "metrics.handleTime"));
  EXPECT_EQ(f.norm->stats().ends_by_absence, 1u);
  EXPECT_TRUE(f.norm->contacts_need_full_reads());
}

TEST(RtdNormalize, IncompleteOrDeltaReadsNeverEndContactsByAbsence) {
  Fixture f;
  f.read(kContacts, true, {contact(4, "Active", T0, T0 + 1000, T0 + 1000)}, T0 + 2'000);
  EXPECT_TRUE(f.read(kContacts, true, {}, T0 + 4'000, /*complete=*/false).empty());  // paging was unstable
  EXPECT_TRUE(f.read(kContacts, false, {}, T0 + 6'000).empty());                     // a delta read
  EXPECT_TRUE(f.read(kContacts, true, {}, T0 + 8'000).empty());                      // suspected
  const auto ev = f.read(kContacts, true, {}, T0 + 9'000);                           // confirmed
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "ended");
  EXPECT_EQ(ev[0].time_ms, T0 + 8'000);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.handleTime"), 7.0);
}

TEST(RtdNormalize, AContactMissingFromOneFullReadOnlyDidNotEnd) {
  Fixture f;
  const Json c = contact(12, "Active", T0, T0 + 1'000, T0 + 1'000);
  f.read(kContacts, true, {c}, T0 + 2'000);
  std::vector<Event> out;
  f.norm->begin_read(kContacts, true);
  EXPECT_EQ(f.norm->end_read(kContacts, true, T0 + 3'000, out), 1u);  // skipped by a shifted page
  EXPECT_TRUE(f.read(kContacts, true, {c}, T0 + 4'000).empty());      // there after all
  EXPECT_TRUE(f.read(kContacts, true, {c}, T0 + 5'000).empty());
  EXPECT_EQ(f.norm->stats().ends_by_absence, 0u);
}

TEST(RtdNormalize, AutoSwitchesToEndStatesOnceSeen) {
  Fixture f;
  f.read(kContacts, true, {contact(5, "InQueue", T0, std::nullopt, T0)}, T0 + 1'000);
  EXPECT_TRUE(f.norm->contacts_need_full_reads());
  const auto ev =
      f.read(kContacts, true, {contact(5, "EndContact", T0, std::nullopt, T0 + 3'000, "Ended")}, T0 + 4'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "abandoned");
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.waitTime"), 3.0);
  EXPECT_FALSE(f.norm->contacts_need_full_reads());
}

TEST(RtdNormalize, AbsenceModeIgnoresEndStatesAndEndsAtTheRead) {
  Fixture f(EndDetection::absence);
  EXPECT_TRUE(f.read(kContacts, true,
                     {contact(6, "EndContact", T0, T0 + 2'000, T0 + 9'000, "Ended"),
                      contact(7, "Active", T0, T0 + 2'000, T0 + 2'000)},
                     T0 + 9'500)
                  .size() == 2u);  // first sightings: state events, no end yet
  EXPECT_TRUE(f.read(kContacts, true, {contact(7, "Active", T0, T0 + 2'000, T0 + 2'000)}, T0 + 12'000).empty());
  const auto ev = f.read(kContacts, true, {contact(7, "Active", T0, T0 + 2'000, T0 + 2'000)}, T0 + 13'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "interactionId"), "6");
  EXPECT_EQ(ev[0].time_ms, T0 + 12'000);
  EXPECT_TRUE(f.norm->contacts_need_full_reads());
}

TEST(RtdNormalize, DedupeByKeyAndLastUpdateTimeAcrossPagesAndResyncs) {
  Fixture f;
  const Json a = contact(8, "Active", T0, T0 + 1'000, T0 + 1'000);
  std::vector<Event> out;
  f.norm->begin_read(kContacts, true);
  f.norm->row(kContacts, a, T0 + 2'000, out);
  f.norm->row(kContacts, a, T0 + 2'000, out);  // repeated by a shifted page
  f.norm->end_read(kContacts, true, T0 + 2'000, out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(f.norm->stats().duplicates, 1u);
  // A delta with updatedSince = lastPollTime (>=) returns the row again: nothing new.
  EXPECT_TRUE(f.read(kContacts, false, {a}, T0 + 4'000).empty());
  // An older row than one already applied is ignored too.
  EXPECT_TRUE(f.read(kContacts, false, {contact(8, "InQueue", T0, std::nullopt, T0)}, T0 + 5'000).empty());
  EXPECT_EQ(f.norm->stats().duplicates, 3u);
}

TEST(RtdNormalize, AgentEventsOnStateChangesOnly) {
  Fixture f;
  auto ev =
      f.read(kAgents, true,
             {agent(4001, "Available", T0), agent(4002, "Unavailable", T0, "Lunch"), agent(4003, "InboundContact", T0),
              agent(4004, "InboundContact", T0, "", true), agent(4005, "LoggedOut", T0)},
             T0 + 1'000);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(f.text(ev[0], "eventType"), "agent");
  EXPECT_EQ(f.text(ev[0], "agentId"), "4001");
  EXPECT_EQ(f.text(ev[0], "metrics.state"), "available");
  EXPECT_EQ(f.text(ev[0], "metrics.reason"), "Available");
  EXPECT_EQ(f.text(ev[0], "metadata.team"), "Team A");
  EXPECT_EQ(f.text(ev[1], "metrics.state"), "unavailable");
  EXPECT_EQ(f.text(ev[1], "metrics.reason"), "Lunch");
  EXPECT_EQ(f.text(ev[2], "metrics.state"), "busy");
  EXPECT_EQ(f.text(ev[3], "metrics.state"), "wrapup");
  EXPECT_EQ(f.text(ev[4], "metrics.state"), "logged_out");
  // Same state with a newer lastUpdateTime (e.g. the skill changed): no event; a new state: one.
  ev = f.read(kAgents, false, {agent(4001, "Available", T0 + 2'000), agent(4002, "Available", T0 + 3'000)}, T0 + 4'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "agentId"), "4002");
  EXPECT_EQ(ev[0].time_ms, T0 + 3'000);
}

TEST(RtdNormalize, SkillRowsBecomeQueueEvents) {
  Fixture f;
  Json s = {{"skillId", 11},
            {"skillName", "Sales"},
            {"queueCount", 4},
            {"agentsAvailable", 2},
            {"serviceLevel", 87.5},
            {"inSLA", 1},
            {"outSLA", 1},
            {"earliestQueueTime", iso(T0)},
            {"serverTime", iso(T0 + 42'000)},
            {"lastUpdateTime", iso(T0 + 41'000)}};
  auto ev = f.read(kSkills, true, {s}, T0 + 43'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "eventType"), "queue");
  EXPECT_EQ(f.text(ev[0], "metadata.queue"), "Sales");
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.queueLength"), 4);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.agentsAvailable"), 2);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.serviceLevel"), 87.5);  // the server's, not 100*in/(in+out)
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.longestWait"), 42.0);
  EXPECT_EQ(ev[0].time_ms, T0 + 41'000);
  EXPECT_TRUE(f.read(kSkills, false, {s}, T0 + 44'000).empty());  // same lastUpdateTime
  // No serviceLevel: from inSLA/outSLA; empty queue: longest wait 0; no lastUpdateTime: serverTime.
  s.erase("serviceLevel");
  s.erase("lastUpdateTime");
  s["inSLA"] = 3;
  s["outSLA"] = 1;
  s["earliestQueueTime"] = nullptr;
  s["serverTime"] = iso(T0 + 50'000);
  ev = f.read(kSkills, false, {s}, T0 + 51'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.serviceLevel"), 75.0);
  EXPECT_DOUBLE_EQ(f.num(ev[0], "metrics.longestWait"), 0.0);
  EXPECT_EQ(ev[0].time_ms, T0 + 50'000);
}

TEST(RtdNormalize, MalformedRowsAreCountedAndSkipped) {
  Fixture f;
  Json no_key = contact(9, "Active", T0, T0, T0);
  no_key.erase("contactId");
  Json bad_time = contact(10, "Active", T0, T0, T0);
  bad_time["lastUpdateTime"] = "yesterday";
  Json no_state = agent(4009, "Available", T0);
  no_state.erase("agentStateName");
  auto ev = f.read(kContacts, true, {Json(5), no_key, bad_time, contact(11, "Active", T0, T0, T0)}, T0 + 1'000);
  EXPECT_EQ(ev.size(), 1u);
  ev = f.read(kAgents, true, {no_state}, T0 + 1'000);
  EXPECT_TRUE(ev.empty());
  const auto& st = f.norm->stats();
  EXPECT_EQ(st.malformed[static_cast<int>(rtd::RowIssue::not_an_object)], 1u);
  EXPECT_EQ(st.malformed[static_cast<int>(rtd::RowIssue::missing_key)], 1u);
  EXPECT_EQ(st.malformed[static_cast<int>(rtd::RowIssue::bad_time)], 1u);
  EXPECT_EQ(st.malformed[static_cast<int>(rtd::RowIssue::bad_value)], 1u);
  // A time without a zone is UTC.
  EXPECT_EQ(rtd::parse_time(&static_cast<const Json&>(Json("2026-01-05T08:00:00.000"))), T0);
}

TEST(RtdNormalize, RawStreamsKeepTheRowsOwnKeys) {
  RtdStream raw;
  raw.path = "contacts/parked";
  raw.kind = StreamKind::raw;
  raw.array = "parkedContacts";
  raw.key = "contactId";
  Fixture f(EndDetection::automatic, {raw});
  const Json row = {
      {"contactId", 1}, {"eventType", "parked"}, {"custom", {{"value", 3}}}, {"lastUpdateTime", iso(T0 + 5)}};
  auto ev = f.read(0, true, {row}, T0 + 10);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(f.text(ev[0], "eventType"), "parked");
  EXPECT_DOUBLE_EQ(f.num(ev[0], "custom.value"), 3);
  EXPECT_EQ(ev[0].time_ms, T0 + 5);
  EXPECT_TRUE(f.read(0, false, {row}, T0 + 20).empty());
}

TEST(RtdConfig, StreamsResolveFromThePathOrAreRefused) {
  RtdStream s;
  s.path = "/contacts/active/";
  EXPECT_EQ(cxflow::cxone::resolve_stream(s), "");
  EXPECT_EQ(s.path, "contacts/active");
  EXPECT_EQ(s.kind, StreamKind::contacts);
  EXPECT_EQ(s.array, "activeContacts");
  EXPECT_EQ(s.key, "contactId");
  RtdStream u;
  u.path = "contacts/parked";
  EXPECT_NE(cxflow::cxone::resolve_stream(u).find("unknown stream path 'contacts/parked'"), std::string::npos);
  u.kind = StreamKind::raw;
  EXPECT_NE(cxflow::cxone::resolve_stream(u).find("needs 'array'"), std::string::npos);
  Config c;
  const auto d = cxflow::cxone::effective_streams(c);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[2].path, "skills/activity");
  EXPECT_EQ(d[2].interval.ms, 10'000);
}
