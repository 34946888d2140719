// The fake CXone Real-Time Data API itself, over real loopback TLS with a certificate made at
// test time, through a small HTTP client in this file: discovery, tokens, paging, updatedSince,
// 304/204, the legacy layout, the model's invariants and every fault. The plugin's tests trust
// this fake's ground truth, so the fake has to be right first.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "cxflow/time.hpp"
#include "fake_cxone.hpp"
#include "fake_rtd.hpp"
#include "process.hpp"

using cxflow::fake::FakeRtd;
using cxflow::fake::RtdOptions;
using cxflow::fake::RtdTruth;
using cxflow::test::TempDir;
using json = nlohmann::json;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

const std::pair<std::string, std::string>& cert() { return cxflow::fake::shared_test_certificate(); }

RtdOptions manual_options() {
  RtdOptions o;
  o.cert_file = cert().first;
  o.key_file = cert().second;
  o.speed = 0;  // the clock moves only by advance_ms
  return o;
}

struct Reply {
  int status = 0;  // 0: no answer within the timeout
  std::string body;
  std::map<std::string, std::string> headers;
  json j() const { return json::parse(body); }
};

// One HTTPS request to the fake (verifying its certificate); `target` is a path or an absolute URL.
Reply call(const FakeRtd& f, http::verb method, std::string target,
           const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "",
           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  if (target.rfind(f.base_url(), 0) == 0) target = target.substr(f.base_url().size());
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(cert().first);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> s(io, ctx);
  SSL_set_tlsext_host_name(s.native_handle(), "localhost");
  s.set_verify_callback(ssl::host_name_verification("localhost"));
  Reply out;
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "localhost");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty()) req.prepare_payload();
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await beast::get_lowest_layer(s).async_connect(
            asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.port()), asio::use_awaitable);
        co_await s.async_handshake(ssl::stream_base::client, asio::use_awaitable);
        co_await http::async_write(s, req, asio::use_awaitable);
        co_await http::async_read(s, buf, res, asio::use_awaitable);
        out.status = res.result_int();
        out.body = res.body();
        for (const auto& h : res) out.headers[std::string(h.name_string())] = std::string(h.value());
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(timeout);
  return out;
}

Reply post_form(const FakeRtd& f, const std::string& body, const std::string& basic = "") {
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/x-www-form-urlencoded"}};
  if (!basic.empty()) h.emplace_back("Authorization", "Basic " + basic);
  return call(f, http::verb::post, "/auth/token", h, body);
}

// base64("test-client:test-secret")
const std::string kBasic = "dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ=";

json jwt_claims(const std::string& jwt) {
  const auto a = jwt.find('.'), b = jwt.find('.', a + 1);
  std::string p = jwt.substr(a + 1, b - a - 1);
  for (char& c : p) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (p.size() % 4) p += '=';
  std::string out(p.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(p.data()), static_cast<int>(p.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return json::parse(out);
}

std::string token(const FakeRtd& f) {
  const Reply r = post_form(f, "grant_type=password&username=test-access-key&password=test-access-secret", kBasic);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? r.j()["access_token"].get<std::string>() : "";
}

Reply api(const FakeRtd& f, const std::string& tok, const std::string& path_and_query,
          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const std::string target =
      path_and_query.rfind("https://", 0) == 0 ? path_and_query : "/inContactAPI/services/v30.0/" + path_and_query;
  return call(f, http::verb::get, target, {{"Authorization", "Bearer " + tok}, {"Accept", "application/json"}}, "",
              timeout);
}

// Follows _links.next from `first`; returns every page's JSON.
std::vector<json> read_all(const FakeRtd& f, const std::string& tok, const std::string& first) {
  std::vector<json> pages;
  std::string next = first;
  for (int guard = 0; guard < 1000 && !next.empty(); ++guard) {
    const Reply r = api(f, tok, next);
    EXPECT_EQ(r.status, 200) << next << " " << r.body;
    if (r.status != 200) break;
    pages.push_back(r.j());
    next = pages.back()["_links"]["next"].is_null() ? "" : pages.back()["_links"]["next"].get<std::string>();
  }
  return pages;
}

std::int64_t ms(const json& iso) { return cxflow::parse_iso8601_ms(iso.get<std::string>()).value(); }

}  // namespace

TEST(FakeRtd, DiscoveryTokenAndTenantConfiguration) {
  FakeRtd f(manual_options());
  const Reply oidc = call(f, http::verb::get, "/.well-known/openid-configuration");
  ASSERT_EQ(oidc.status, 200);
  EXPECT_EQ(oidc.j()["issuer"], f.base_url());
  EXPECT_EQ(oidc.j()["token_endpoint"], f.base_url() + "/auth/token");
  EXPECT_EQ(oidc.j()["token_endpoint_auth_methods_supported"].size(), 2u);

  const Reply tok = post_form(f, "grant_type=password&username=test-access-key&password=test-access-secret", kBasic);
  ASSERT_EQ(tok.status, 200) << tok.body;
  const json t = tok.j();
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["expires_in"], 3600);
  EXPECT_TRUE(t["refresh_token"].is_string());
  const json claims = jwt_claims(t["id_token"].get<std::string>());
  EXPECT_EQ(claims["tenantId"], f.options().tenant_id);
  EXPECT_EQ(claims["icBUId"], f.options().business_unit_id);
  EXPECT_EQ(claims["area"], "na1");
  EXPECT_EQ(claims["icClusterId"], "C32");
  EXPECT_TRUE(claims["exp"].is_number_integer());

  const Reply conf =
      call(f, http::verb::get, "/.well-known/cxone-configuration?tenantId=" + claims["tenantId"].get<std::string>());
  ASSERT_EQ(conf.status, 200);
  EXPECT_EQ(conf.j()["api_endpoint"], f.base_url());
  EXPECT_EQ(conf.j()["auth_endpoint"], f.base_url());
  EXPECT_EQ(conf.j()["tenantId"], f.options().tenant_id);
  EXPECT_EQ(call(f, http::verb::get, "/.well-known/cxone-configuration?tenantId=someone-else").status, 404);
  EXPECT_EQ(f.truth().tokens_issued, 1u);
}

TEST(FakeRtd, TokenEndpointClientAuthGrantsAndRefresh) {
  FakeRtd f(manual_options());
  // client credentials in the body
  const Reply post = post_form(f,
                               "grant_type=password&username=test-access-key&password=test-access-secret"
                               "&client_id=test-client&client_secret=test-secret");
  ASSERT_EQ(post.status, 200) << post.body;
  // wrong client secret, wrong access key, unknown grant
  const Reply bad_client = post_form(f, "grant_type=password&username=test-access-key&password=test-access-secret",
                                     "dGVzdC1jbGllbnQ6bm9wZQ==");  // test-client:nope
  EXPECT_EQ(bad_client.status, 401);
  EXPECT_EQ(bad_client.j()["error"], "invalid_client");
  const Reply bad_key = post_form(f, "grant_type=password&username=test-access-key&password=wrong", kBasic);
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_EQ(bad_key.j()["error"], "invalid_grant");
  EXPECT_EQ(post_form(f, "grant_type=client_credentials", kBasic).status, 400);
  // refresh: new tokens; a refresh token works once
  const std::string rt = post.j()["refresh_token"];
  const Reply ref = post_form(f, "grant_type=refresh_token&refresh_token=" + rt, kBasic);
  ASSERT_EQ(ref.status, 200) << ref.body;
  EXPECT_NE(ref.j()["access_token"], post.j()["access_token"]);
  EXPECT_EQ(api(f, ref.j()["access_token"], "agents/states").status, 200);
  EXPECT_EQ(post_form(f, "grant_type=refresh_token&refresh_token=" + rt, kBasic).status, 400);
  // the access-key JSON endpoint
  const Reply ak =
      call(f, http::verb::post, "/authentication/v1/token/access-key", {{"Content-Type", "application/json"}},
           R"({"accessKeyId":"test-access-key","accessKeySecret":"test-access-secret"})");
  ASSERT_EQ(ak.status, 200) << ak.body;
  EXPECT_EQ(api(f, ak.j()["access_token"], "skills/activity").status, 200);
  EXPECT_EQ(call(f, http::verb::post, "/authentication/v1/token/access-key", {{"Content-Type", "application/json"}},
                 R"({"accessKeyId":"test-access-key","accessKeySecret":"no"})")
                .status,
            401);
  const RtdTruth t = f.truth();
  EXPECT_EQ(t.tokens_issued, 2u);
  EXPECT_EQ(t.tokens_refreshed, 1u);
  EXPECT_EQ(t.token_401, 2u);
  EXPECT_EQ(t.token_400, 3u);
  EXPECT_EQ(t.requests.at("POST /auth/token 200"), 2u);
}

TEST(FakeRtd, ClientAuthOptionRestrictsTheMethod) {
  auto o = manual_options();
  o.client_auth = "basic";
  FakeRtd f(o);
  EXPECT_EQ(post_form(f,
                      "grant_type=password&username=test-access-key&password=test-access-secret"
                      "&client_id=test-client&client_secret=test-secret")
                .status,
            401);
  EXPECT_EQ(post_form(f, "grant_type=password&username=test-access-key&password=test-access-secret", kBasic).status,
            200);
}

TEST(FakeRtd, ApiNeedsABearerTokenAndAcceptJson) {
  FakeRtd f(manual_options());
  const std::string tok = token(f);
  const std::string url = "/inContactAPI/services/v30.0/agents/states";
  const Reply none = call(f, http::verb::get, url, {{"Accept", "application/json"}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.j()["error"], "invalid_token");
  EXPECT_EQ(call(f, http::verb::get, url, {{"Accept", "application/json"}, {"Authorization", "Bearer forged"}}).status,
            401);
  const Reply no_accept = call(f, http::verb::get, url, {{"Authorization", "Bearer " + tok}});
  EXPECT_EQ(no_accept.status, 406);
  EXPECT_NE(no_accept.body.find("No known way to render data"), std::string::npos);
  const Reply ok = api(f, tok, "agents/states");
  ASSERT_EQ(ok.status, 200);
  const json j = ok.j();
  EXPECT_EQ(j["totalRecords"], 10);
  EXPECT_EQ(j["agentStates"].size(), 10u);
  EXPECT_EQ(j["lastPollTime"], cxflow::format_iso8601_ms(f.options().start_time_ms));
  EXPECT_TRUE(j["_links"]["next"].is_null());
  for (const char* k : {"agentId", "userName", "firstName", "lastName", "teamId", "teamName", "agentStateId",
                        "agentStateName", "outStateId", "outStateDescription", "isACW", "skillId", "skillName",
                        "contactId", "startDate", "lastUpdateTime"})
    EXPECT_TRUE(j["agentStates"][0].contains(k)) << k;
  EXPECT_EQ(api(f, tok, "agents/states?updatedSince=yesterday").status, 400);
  const RtdTruth t = f.truth();
  EXPECT_EQ(t.api_401, 2u);
  EXPECT_EQ(t.api_406, 1u);
  EXPECT_EQ(t.requests.at("GET /inContactAPI/services/v30.0/agents/states 401"), 2u);
}

TEST(FakeRtd, PagingFollowsNextUntilTotalRecordsWithOneLastPollTime) {
  FakeRtd f(manual_options());
  f.advance_ms(45 * 60'000);  // a busy contact center: queued, active and lingering contacts
  const std::string tok = token(f);
  const auto pages = read_all(f, tok, "contacts/active?top=3");
  ASSERT_GE(pages.size(), 2u);
  const auto total = pages[0]["totalRecords"].get<std::size_t>();
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ(pages[i]["totalRecords"], total);
    EXPECT_EQ(pages[i]["lastPollTime"], pages[0]["lastPollTime"]);
    EXPECT_EQ(pages[i]["businessUnitId"], f.options().business_unit_id);
    EXPECT_LE(pages[i]["activeContacts"].size(), 3u);
    EXPECT_EQ(pages[i]["_links"]["previous"].is_null(), i == 0);
    for (const auto& row : pages[i]["activeContacts"]) ids.push_back(row["contactId"]);
  }
  EXPECT_EQ(ids.size(), total);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(pages.size(), (total + 2) / 3);
  // the next link carries the first page's lastPollTime even after the clock moved
  f.advance_ms(5000);
  const auto again = read_all(f, tok, "agents/states?top=4");
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[2]["lastPollTime"], again[0]["lastPollTime"]);
  EXPECT_EQ(f.truth().pages_after_first, pages.size() - 1 + 2);
}

TEST(FakeRtd, UpdatedSinceReturnsRowsChangedAtOrAfterAndNotModifiedOtherwise) {
  FakeRtd f(manual_options());
  f.advance_ms(20 * 60'000);
  const std::string tok = token(f);
  const json full = api(f, tok, "contacts/active").j();
  const std::string poll = full["lastPollTime"];
  // nothing moved: 304, no body
  const Reply same = api(f, tok, "contacts/active?updatedSince=" + poll);
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  f.advance_ms(3 * 60'000);
  for (const char* path : {"agents/states", "contacts/active", "skills/activity"}) {
    const json all = api(f, tok, path).j();
    const Reply delta = api(f, tok, std::string(path) + "?updatedSince=" + poll);
    const char* array = std::string(path) == "agents/states"     ? "agentStates"
                        : std::string(path) == "contacts/active" ? "activeContacts"
                                                                 : "skillActivity";
    std::set<std::string> expected;
    for (const auto& row : all[array])
      if (ms(row["lastUpdateTime"]) >= ms(json(poll))) expected.insert(row.dump());
    if (expected.empty()) {
      EXPECT_EQ(delta.status, 304) << path;
      continue;
    }
    ASSERT_EQ(delta.status, 200) << path;
    std::set<std::string> got;
    const json delta_rows = delta.j()[array];
    for (const auto& row : delta_rows) got.insert(row.dump());
    EXPECT_EQ(got.size(), delta.j()["totalRecords"].get<std::size_t>());
    EXPECT_EQ(got, expected) << path;  // same clock: identical rows, serverTime included
  }
  // ">=": a row updated exactly at updatedSince is returned
  const json one = api(f, tok, "agents/states").j()["agentStates"][0];
  const Reply at = api(f, tok, "agents/states?updatedSince=" + one["lastUpdateTime"].get<std::string>());
  ASSERT_EQ(at.status, 200);
  bool found = false;
  const json at_rows = at.j()["agentStates"];
  for (const auto& row : at_rows) found = found || row["agentId"] == one["agentId"];
  EXPECT_TRUE(found);
}

TEST(FakeRtd, NoChangeCanBe204OrAnEmpty200) {
  for (int status : {204, 200}) {
    auto o = manual_options();
    o.no_change_status = status;
    FakeRtd f(o);
    const std::string tok = token(f);
    const std::string poll = api(f, tok, "agents/states").j()["lastPollTime"];
    const Reply r = api(f, tok, "agents/states?updatedSince=" + cxflow::format_iso8601_ms(ms(json(poll)) + 1));
    EXPECT_EQ(r.status, status);
    if (status == 200) {
      EXPECT_EQ(r.j()["totalRecords"], 0);
      EXPECT_TRUE(r.j()["agentStates"].empty());
    }
    EXPECT_EQ(f.truth().no_change, 1u);
  }
}

TEST(FakeRtd, LegacyLayoutWrapsInResultSetWithPascalCaseKeys) {
  auto o = manual_options();
  o.legacy_layout = true;
  FakeRtd f(o);
  f.advance_ms(10 * 60'000);
  const std::string tok = token(f);
  const json j = api(f, tok, "contacts/active?top=2").j();
  ASSERT_TRUE(j.contains("resultSet"));
  const json& rs = j["resultSet"];
  EXPECT_TRUE(rs.contains("LastPollTime"));
  EXPECT_TRUE(rs.contains("totalRecords"));
  ASSERT_FALSE(rs["activeContacts"].empty());
  for (const char* k :
       {"ContactId", "AgentId", "SkillId", "StateName", "ContactStartDate", "AgentStartDate", "LastUpdateTime"})
    EXPECT_TRUE(rs["activeContacts"][0].contains(k)) << k;
  EXPECT_FALSE(rs["activeContacts"][0].contains("contactId"));
  EXPECT_TRUE(rs["_links"]["next"].is_string());
}

TEST(FakeRtd, ModelIsDeterministicAndItsTruthIsConsistent) {
  auto run = [](std::uint64_t seed) {
    auto o = manual_options();
    o.seed = seed;
    FakeRtd f(o);
    for (int i = 0; i < 24; ++i) f.advance_ms(5 * 60'000);  // two hours in steps
    return f.truth();
  };
  const RtdTruth a = run(7), b = run(7), c = run(8);
  ASSERT_GT(a.ended.size(), 100u);
  ASSERT_EQ(a.ended.size(), b.ended.size());
  for (std::size_t i = 0; i < a.ended.size(); ++i) {
    EXPECT_EQ(a.ended[i].contact_id, b.ended[i].contact_id);
    EXPECT_EQ(a.ended[i].end_ms, b.ended[i].end_ms);
    EXPECT_EQ(a.ended[i].agent_start_ms, b.ended[i].agent_start_ms);
  }
  EXPECT_NE(a.ended.size() * 1000 + a.agent_changes.size(), c.ended.size() * 1000 + c.agent_changes.size());
  std::size_t abandoned = 0;
  std::set<std::int64_t> ids;
  for (const auto& e : a.ended) {
    EXPECT_TRUE(ids.insert(e.contact_id).second) << "ended twice: " << e.contact_id;
    EXPECT_EQ(e.abandoned, !e.agent_start_ms.has_value());
    EXPECT_GE(e.end_ms, e.contact_start_ms);
    if (e.agent_start_ms) {
      EXPECT_GE(*e.agent_start_ms, e.contact_start_ms + 2000);  // the phone rings at least 2 s
      EXPECT_GT(e.end_ms, *e.agent_start_ms);
      EXPECT_NE(e.agent_id, 0);
    }
    abandoned += e.abandoned;
  }
  EXPECT_GT(abandoned, 0u);
  EXPECT_LT(abandoned, a.ended.size() / 2);
  EXPECT_EQ(a.contacts_arrived, a.ended.size() + a.contacts_active);
}

TEST(FakeRtd, RowsAgreeWithEachOtherAndWithTheTruth) {
  auto o = manual_options();
  o.arrivals_per_minute = 1.5;  // busier than the agents can take: queues form
  FakeRtd f(o);
  f.advance_ms(40 * 60'000);
  const std::string tok = token(f);
  const json agents = api(f, tok, "agents/states").j();
  const json contacts = api(f, tok, "contacts/active").j();
  const json skills = api(f, tok, "skills/activity").j();
  const RtdTruth t = f.truth();
  ASSERT_EQ(agents["lastPollTime"], skills["lastPollTime"]);  // the clock did not move between reads
  // agents: each row is the agent's last change in the truth
  std::map<std::int64_t, cxflow::fake::RtdAgentChange> last;
  for (const auto& c : t.agent_changes) last[c.agent_id] = c;
  int available = 0;
  for (const auto& a : agents["agentStates"]) {
    const auto& c = last.at(a["agentId"].get<std::int64_t>());
    EXPECT_EQ(a["agentStateName"], c.state);
    EXPECT_EQ(ms(a["startDate"]), c.time_ms);
    EXPECT_EQ(a["isACW"], c.acw);
    available += a["agentStateName"] == "Available";
  }
  // contacts: ended ones linger with their end time; the rest match the truth's open count
  std::map<std::int64_t, const cxflow::fake::RtdContact*> ended;
  for (const auto& e : t.ended) ended[e.contact_id] = &e;
  std::map<std::int64_t, int> queued;
  std::size_t open = 0;
  for (const auto& c : contacts["activeContacts"]) {
    const auto it = ended.find(c["contactId"]);
    if (c["stateName"] == "EndContact") {
      ASSERT_NE(it, ended.end());
      EXPECT_EQ(ms(c["lastUpdateTime"]), it->second->end_ms);
      EXPECT_EQ(c["contactStateCategory"], "Ended");
      EXPECT_LE(ms(json(contacts["lastPollTime"])) - it->second->end_ms, o.end_state_linger_ms);
      EXPECT_EQ(c["agentStartDate"].is_null(), it->second->abandoned);
    } else {
      EXPECT_EQ(it, ended.end());
      ++open;
      if (c["agentStartDate"].is_null()) ++queued[c["skillId"]];
    }
  }
  EXPECT_EQ(open, t.contacts_active);
  int queued_total = 0;
  for (const auto& s : skills["skillActivity"]) {
    EXPECT_EQ(s["queueCount"], queued[s["skillId"]]);
    EXPECT_EQ(s["agentsAvailable"], available);
    EXPECT_EQ(s["earliestQueueTime"].is_null(), queued[s["skillId"]] == 0);
    const int in = s["inSLA"], out = s["outSLA"];
    if (in + out > 0) {
      EXPECT_EQ(s["serviceLevel"], static_cast<int>(std::lround(100.0 * in / (in + out))));
    }
    queued_total += s["queueCount"].get<int>();
  }
  EXPECT_GT(queued_total, 0);
  // after the linger time, ended contacts are gone
  f.advance_ms(o.end_state_linger_ms + 1);
  const json later = api(f, tok, "contacts/active").j()["activeContacts"];
  for (const auto& c : later)
    if (c["stateName"] == "EndContact") {
      EXPECT_GE(ms(c["lastUpdateTime"]), f.now_ms() - o.end_state_linger_ms);
    }
}

TEST(FakeRtd, WithoutLingerEndedContactsVanish) {
  auto o = manual_options();
  o.end_state_linger_ms = 0;
  FakeRtd f(o);
  f.advance_ms(60 * 60'000);
  const std::string tok = token(f);
  ASSERT_GT(f.truth().ended.size(), 10u);
  const json rows = api(f, tok, "contacts/active").j()["activeContacts"];
  ASSERT_FALSE(rows.empty());
  for (const auto& c : rows) EXPECT_NE(c["stateName"], "EndContact");
}

TEST(FakeRtd, MaxContactsLetsTheModelDrain) {
  auto o = manual_options();
  o.max_contacts = 40;
  FakeRtd f(o);
  f.advance_ms(6 * 3600'000);
  const RtdTruth t = f.truth();
  EXPECT_EQ(t.contacts_arrived, 40u);
  EXPECT_EQ(t.ended.size(), 40u);
  EXPECT_EQ(t.contacts_active, 0u);
  const std::string tok = token(f);
  EXPECT_EQ(api(f, tok, "contacts/active").j()["totalRecords"], 0);
}

TEST(FakeRtd, Api429WithAndWithoutRetryAfterThen500) {
  auto o = manual_options();
  o.api_fault_after = 1;
  o.api_429 = 1;
  o.api_retry_after_s = 2;
  o.api_500 = 1;
  FakeRtd f(o);
  const std::string tok = token(f);
  EXPECT_EQ(api(f, tok, "agents/states").status, 200);
  const Reply r429 = api(f, tok, "agents/states");
  EXPECT_EQ(r429.status, 429);
  EXPECT_EQ(r429.headers.at("Retry-After"), "2");
  EXPECT_EQ(api(f, tok, "agents/states").status, 500);
  EXPECT_EQ(api(f, tok, "agents/states").status, 200);
  f.fail_next(429, 2);
  const Reply bare = api(f, tok, "skills/activity");
  EXPECT_EQ(bare.status, 429);
  EXPECT_EQ(bare.headers.count("Retry-After"), 0u);
  EXPECT_EQ(api(f, tok, "skills/activity").status, 429);
  EXPECT_EQ(api(f, tok, "skills/activity").status, 200);
  const RtdTruth t = f.truth();
  EXPECT_EQ(t.api_429_sent, 3u);
  EXPECT_EQ(t.api_500_sent, 1u);
}

TEST(FakeRtd, Token429WithRetryAfter) {
  auto o = manual_options();
  o.token_429 = 2;
  o.token_retry_after_s = 1;
  FakeRtd f(o);
  const std::string body = "grant_type=password&username=test-access-key&password=test-access-secret";
  const Reply first = post_form(f, body, kBasic);
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.headers.at("Retry-After"), "1");
  EXPECT_EQ(post_form(f, body, kBasic).status, 429);
  EXPECT_EQ(post_form(f, body, kBasic).status, 200);
  EXPECT_EQ(f.truth().token_429_sent, 2u);
  EXPECT_EQ(f.truth().token_requests, 3u);
}

TEST(FakeRtd, RevokedAndExpiredTokensGet401) {
  auto o = manual_options();
  o.revoke_after_api_requests = {2};
  FakeRtd f(o);
  const std::string tok = token(f);
  EXPECT_EQ(api(f, tok, "agents/states").status, 200);
  EXPECT_EQ(api(f, tok, "agents/states").status, 200);
  EXPECT_EQ(api(f, tok, "agents/states").status, 401);  // revoked before the third request
  const std::string fresh = token(f);
  EXPECT_EQ(api(f, fresh, "agents/states").status, 200);
  f.revoke_tokens();
  EXPECT_EQ(api(f, fresh, "agents/states").status, 401);
  EXPECT_EQ(f.truth().revocations, 2u);

  auto e = manual_options();
  e.token_lifetime_s = 0;  // every access token is already expired
  FakeRtd g(e);
  const Reply r = api(g, token(g), "agents/states");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(g.truth().expired_token_uses, 1u);
}

TEST(FakeRtd, AHungPageNeverAnswersAndTheNextRequestWorks) {
  auto o = manual_options();
  o.hang_pages = 1;
  FakeRtd f(o);
  const std::string tok = token(f);
  const json first = api(f, tok, "agents/states?top=4").j();
  const std::string next = first["_links"]["next"];
  const Reply hung = api(f, tok, next, std::chrono::milliseconds(500));
  EXPECT_EQ(hung.status, 0);  // no answer
  const Reply retry = api(f, tok, next);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.j()["agentStates"].size(), 4u);
  EXPECT_EQ(f.truth().hung, 1u);
  EXPECT_EQ(f.truth().requests.at("GET /inContactAPI/services/v30.0/agents/states hung"), 1u);
}

TEST(FakeRtd, ShiftingRowsBetweenPagesSkipsARowAndTheTruthSaysWhy) {
  auto o = manual_options();
  o.shift_pages = 1;
  o.end_state_linger_ms = 0;
  FakeRtd f(o);
  f.advance_ms(30 * 60'000);
  const std::string tok = token(f);
  const std::size_t ended_before = f.truth().ended.size();
  const auto pages = read_all(f, tok, "contacts/active?top=2");
  ASSERT_GE(pages.size(), 2u);
  std::set<std::int64_t> seen;
  for (const auto& p : pages)
    for (const auto& row : p["activeContacts"]) seen.insert(row["contactId"].get<std::int64_t>());
  const json after = api(f, tok, "contacts/active").j();
  const RtdTruth t = f.truth();
  EXPECT_EQ(t.shifted, 1u);
  ASSERT_EQ(t.ended.size(), ended_before + 1);  // the first row left the active set between pages
  EXPECT_TRUE(seen.count(t.ended.back().contact_id));
  std::size_t missed = 0;  // rows still active that the paged read never returned
  for (const auto& row : after["activeContacts"]) missed += !seen.count(row["contactId"].get<std::int64_t>());
  EXPECT_EQ(missed, 1u);  // the row that moved onto page one (the newly arrived contact is on the last page)
  EXPECT_EQ(pages[0]["totalRecords"].get<int>(), pages[1]["totalRecords"].get<int>());
}

TEST(FakeRtd, ShiftingRemovesALingeringEndedRowWithoutChangingTheTruth) {
  auto o = manual_options();
  o.shift_pages = 1;
  o.end_state_linger_ms = 20 * 60'000;  // plenty of EndContact rows
  FakeRtd f(o);
  f.advance_ms(30 * 60'000);
  const std::string tok = token(f);
  const std::size_t ended_before = f.truth().ended.size();
  const auto pages = read_all(f, tok, "contacts/active?top=3");
  ASSERT_GE(pages.size(), 2u);
  std::set<std::int64_t> seen;
  bool first_page_had_an_end = false;
  for (const auto& row : pages[0]["activeContacts"]) first_page_had_an_end |= row["stateName"] == "EndContact";
  ASSERT_TRUE(first_page_had_an_end);
  for (const auto& p : pages)
    for (const auto& row : p["activeContacts"]) seen.insert(row["contactId"].get<std::int64_t>());
  std::size_t missed = 0;
  const json after = api(f, tok, "contacts/active").j()["activeContacts"];
  for (const auto& row : after) missed += !seen.count(row["contactId"].get<std::int64_t>());
  EXPECT_EQ(missed, 1u);
  EXPECT_EQ(f.truth().ended.size(), ended_before);
  EXPECT_EQ(f.truth().shifted, 1u);
}

TEST(FakeRtd, SimulatedClockFollowsWallTimeTimesSpeed) {
  auto o = manual_options();
  o.speed = 1000;
  FakeRtd f(o);
  const std::int64_t t0 = f.now_ms();
  ASSERT_TRUE(cxflow::test::wait_for([&] { return f.now_ms() >= t0 + 60'000; }, std::chrono::seconds(20)));
  const std::string tok = token(f);
  const json j = api(f, tok, "agents/states").j();
  EXPECT_GE(ms(j["lastPollTime"]), t0 + 60'000);
}
