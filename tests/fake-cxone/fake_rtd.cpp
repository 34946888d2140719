// The fake CXone Real-Time Data API (see fake_rtd.hpp).
#include "fake_rtd.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <future>
#include <mutex>
#include <queue>
#include <regex>
#include <set>

#include "cxflow/time.hpp"
#include "fake_http.hpp"

namespace cxflow::fake {

using namespace detail;
using json = nlohmann::ordered_json;
using error_code = boost::system::error_code;

namespace {

const char* const kSkillNames[] = {"Sales", "Support", "Billing"};
const char* const kFirstNames[] = {"Ada", "Ben",  "Cleo", "Dev", "Eva", "Finn",
                                   "Gia", "Hugo", "Ines", "Jon", "Kai", "Lena"};
const char* const kLastNames[] = {"Moreau", "Okafor", "Silva", "Tanaka", "Novak", "Berg", "Rossi", "Khan"};
struct Reason {
  int id;
  const char* name;
};
const Reason kBreakReasons[] = {{3, "Break"}, {4, "Lunch"}, {5, "Meeting"}, {6, "Training"}};
constexpr int kAcwOutStateId = 9;
constexpr std::int64_t kFirstContactId = 500'000'001;
constexpr std::int64_t kFirstAgentId = 1'000'101;
constexpr int kFirstSkillId = 2001;

// splitmix64: a small, portable generator (std:: distributions differ between standard libraries).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
  double uniform(double a, double b) { return a + (b - a) * unit(); }
  double exponential(double mean) { return -mean * std::log(unit()); }
  double lognormal(double median, double sigma) {
    const double z = std::sqrt(-2.0 * std::log(unit())) * std::cos(2.0 * M_PI * unit());
    return median * std::exp(sigma * z);
  }
};

std::int64_t secs_to_ms(double s) { return static_cast<std::int64_t>(std::llround(s * 1000.0)); }

json iso_or_null(std::optional<std::int64_t> ms) { return ms ? json(format_iso8601_ms(*ms)) : json(nullptr); }

// camelCase -> PascalCase, for the legacy layout's rows.
json pascal_keys(const json& row) {
  json out = json::object();
  for (auto it = row.begin(); it != row.end(); ++it) {
    std::string k = it.key();
    if (!k.empty()) k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
    out[k] = it.value();
  }
  return out;
}

std::string base64url(std::string_view in) {
  std::string s = base64_encode(in);
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string jwt(const json& claims) {
  return base64url(R"({"alg":"RS256","typ":"JWT","kid":"fake-cxone"})") + "." + base64url(claims.dump()) + "." +
         base64url("not-a-real-signature");
}

}  // namespace

// ---------------------------------------------------------------- the model
namespace {
struct Model {
  enum class Ev { arrival, patience, answer, hold_start, hold_end, talk_end, acw_end, remove, break_end };
  struct Event {
    std::int64_t time;
    std::uint64_t seq;
    Ev kind;
    std::int64_t id;  // skill index, contact id or agent index
    bool operator>(const Event& b) const { return time != b.time ? time > b.time : seq > b.seq; }
  };
  struct Skill {
    int id;
    std::string name;
    std::int64_t last_update;
    std::string signature;  // the row without its times: a change moves last_update
    std::uint64_t in_sla = 0, out_sla = 0;
  };
  struct Agent {
    std::int64_t id;
    std::string user, first, last;
    int team_id;
    std::string team;
    std::string state = "Available";
    std::string reason;
    int out_state_id = 0;
    bool acw = false;
    std::int64_t contact = 0;
    int skill = -1;
    std::int64_t start_date, last_update, idle_since;
    std::uint64_t break_epoch = 0;
  };
  struct Contact {
    std::int64_t id;
    int skill;
    std::int64_t start;
    std::optional<std::int64_t> agent_start;
    int agent = -1;  // assigned agent (ringing or answered)
    std::string state = "InQueue";
    std::int64_t last_update;
    std::optional<std::int64_t> end;
    bool abandoned = false;
  };

  const RtdOptions& o;
  RtdTruth& t;
  Rng rng;
  std::int64_t now;
  std::uint64_t seq = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::vector<Skill> skills;
  std::vector<Agent> agents;
  std::map<std::int64_t, Contact> contacts;  // the active set (including lingering ended ones), by id
  std::int64_t next_contact_id = kFirstContactId;
  bool arrivals = true;

  Model(const RtdOptions& opts, RtdTruth& truth)
      : o(opts), t(truth), rng{opts.seed * 0x2545F4914F6CDD1DULL + 7}, now(opts.start_time_ms) {
    for (int s = 0; s < std::max(1, o.skills); ++s) {
      skills.push_back({kFirstSkillId + s, s < 3 ? kSkillNames[s] : "Skill " + std::to_string(s + 1), now, "", 0, 0});
      if (o.arrivals_per_minute > 0) schedule(now + arrival_gap(), Ev::arrival, s);
    }
    for (int a = 0; a < std::max(0, o.agents); ++a) {
      Agent ag;
      ag.id = kFirstAgentId + a;
      ag.first = kFirstNames[a % 12];
      ag.last = kLastNames[(a * 5) % 8];
      ag.user = ag.first + "." + ag.last + std::to_string(a) + "@example.com";
      ag.team_id = 301 + a % 2;
      ag.team = a % 2 ? "Team Blue" : "Team Green";
      ag.start_date = ag.last_update = ag.idle_since = now;
      agents.push_back(ag);
      t.agent_changes.push_back({ag.id, now, ag.state, "", false});
    }
    refresh_skills();
  }

  std::int64_t arrival_gap() {
    return std::max<std::int64_t>(1, secs_to_ms(rng.exponential(60.0 / o.arrivals_per_minute)));
  }
  void schedule(std::int64_t at, Ev kind, std::int64_t id) { events.push({at, seq++, kind, id}); }

  void advance_to(std::int64_t target) {
    while (!events.empty() && events.top().time <= target) {
      const Event e = events.top();
      events.pop();
      now = std::max(now, e.time);
      handle(e);
      refresh_skills();
    }
    now = std::max(now, target);
  }

  void set_agent(Agent& a, std::string state, std::string reason, int out_state_id, bool acw, std::int64_t contact,
                 int skill) {
    a.state = std::move(state);
    a.reason = std::move(reason);
    a.out_state_id = out_state_id;
    a.acw = acw;
    a.contact = contact;
    a.skill = skill;
    a.start_date = a.last_update = now;
    if (a.state == "Available") a.idle_since = now;
    t.agent_changes.push_back({a.id, now, a.state, a.reason, a.acw});
  }

  void handle(const Event& e) {
    switch (e.kind) {
      case Ev::arrival: {
        if (!arrivals || (o.max_contacts > 0 && t.contacts_arrived >= o.max_contacts)) return;
        arrive(static_cast<int>(e.id));
        schedule(now + arrival_gap(), Ev::arrival, e.id);
        return;
      }
      case Ev::patience: {
        auto it = contacts.find(e.id);
        if (it == contacts.end() || it->second.end || it->second.agent >= 0) return;  // answered or ringing
        end_contact(it->second, true, false);
        return;
      }
      case Ev::answer: {
        auto it = contacts.find(e.id);
        if (it == contacts.end() || it->second.end) return;
        Contact& c = it->second;
        c.agent_start = now;
        c.state = "Active";
        c.last_update = now;
        Skill& s = skills[static_cast<std::size_t>(c.skill)];
        (now - c.start <= std::int64_t{o.service_level_threshold_s} * 1000 ? s.in_sla : s.out_sla) += 1;
        const std::int64_t talk =
            std::max<std::int64_t>(1000, secs_to_ms(rng.lognormal(o.handle_median_s, o.handle_sigma)));
        if (rng.unit() <= o.hold_probability) {
          const std::int64_t hold = secs_to_ms(rng.uniform(10, 60));
          schedule(now + talk * 2 / 5, Ev::hold_start, c.id);
          schedule(now + talk * 2 / 5 + hold, Ev::hold_end, c.id);
          schedule(now + talk + hold, Ev::talk_end, c.id);
        } else {
          schedule(now + talk, Ev::talk_end, c.id);
        }
        return;
      }
      case Ev::hold_start:
      case Ev::hold_end: {
        auto it = contacts.find(e.id);
        if (it == contacts.end() || it->second.end) return;
        it->second.state = e.kind == Ev::hold_start ? "Holding" : "Active";
        it->second.last_update = now;
        return;
      }
      case Ev::talk_end: {
        auto it = contacts.find(e.id);
        if (it == contacts.end() || it->second.end) return;
        const Contact& c = it->second;
        set_agent(agents[static_cast<std::size_t>(c.agent)], "Unavailable", "ACW", kAcwOutStateId, true, c.id, c.skill);
        schedule(now + secs_to_ms(rng.uniform(o.acw_min_s, o.acw_max_s)), Ev::acw_end, c.id);
        return;
      }
      case Ev::acw_end: {
        auto it = contacts.find(e.id);
        if (it == contacts.end() || it->second.end) return;
        end_contact(it->second, false, false);
        return;
      }
      case Ev::remove:
        contacts.erase(e.id);
        return;
      case Ev::break_end: {
        Agent& a = agents[static_cast<std::size_t>(e.id & 0xffff)];
        if (a.break_epoch != static_cast<std::uint64_t>(e.id >> 16) || a.state != "Unavailable" || a.acw) return;
        set_agent(a, "Available", "", 0, false, 0, -1);
        assign();
        return;
      }
    }
  }

  Contact& arrive(int skill) {
    Contact c;
    c.id = next_contact_id++;
    c.skill = skill;
    c.start = c.last_update = now;
    ++t.contacts_arrived;
    ++t.contacts_active;
    schedule(now + std::max<std::int64_t>(1000, secs_to_ms(rng.exponential(o.patience_mean_s))), Ev::patience, c.id);
    Contact& ref = contacts.emplace(c.id, c).first->second;
    assign();
    return ref;
  }

  // Ends a contact now: abandoned (never answered) or handled (after ACW, or cut short by a fault).
  // `vanish` removes the row at once whatever the linger option says.
  void end_contact(Contact& c, bool abandoned, bool vanish) {
    c.end = now;
    c.abandoned = abandoned;
    c.state = "EndContact";
    c.last_update = now;
    --t.contacts_active;
    RtdContact r;
    r.contact_id = c.id;
    r.skill_id = skills[static_cast<std::size_t>(c.skill)].id;
    r.skill = skills[static_cast<std::size_t>(c.skill)].name;
    r.contact_start_ms = c.start;
    r.agent_start_ms = c.agent_start;
    r.end_ms = now;
    r.abandoned = abandoned;
    if (c.agent >= 0) {
      Agent& a = agents[static_cast<std::size_t>(c.agent)];
      if (c.agent_start) r.agent_id = a.id;
      if (!vanish && rng.unit() <= o.break_probability) {
        const Reason& why = kBreakReasons[rng.next() % 4];
        set_agent(a, "Unavailable", why.name, why.id, false, 0, -1);
        ++a.break_epoch;
        schedule(now + secs_to_ms(rng.uniform(o.break_min_s, o.break_max_s)), Ev::break_end,
                 static_cast<std::int64_t>(a.break_epoch << 16) | c.agent);
      } else {
        set_agent(a, "Available", "", 0, false, 0, -1);
      }
    }
    t.ended.push_back(r);
    const std::int64_t id = c.id;
    if (vanish || o.end_state_linger_ms <= 0)
      contacts.erase(id);
    else
      schedule(now + o.end_state_linger_ms, Ev::remove, id);
    assign();
  }

  // Queued contacts (oldest first) go to free agents (longest idle first); the contact waits on
  // while the agent's phone rings.
  void assign() {
    for (;;) {
      Contact* oldest = nullptr;
      for (auto& [id, c] : contacts)
        if (!c.end && c.agent < 0 && (!oldest || c.start < oldest->start)) oldest = &c;
      if (!oldest) return;
      int best = -1;
      for (std::size_t i = 0; i < agents.size(); ++i)
        if (agents[i].state == "Available" &&
            (best < 0 || agents[i].idle_since < agents[static_cast<std::size_t>(best)].idle_since))
          best = static_cast<int>(i);
      if (best < 0) return;
      oldest->agent = best;
      set_agent(agents[static_cast<std::size_t>(best)], "InboundContact", "", 0, false, oldest->id, oldest->skill);
      schedule(now + secs_to_ms(rng.uniform(o.ring_min_s, o.ring_max_s)), Ev::answer, oldest->id);
    }
  }

  json skill_row(std::size_t s, std::int64_t server_time) const {
    const Skill& k = skills[s];
    int available = 0, unavailable = 0, working = 0, acw = 0;
    for (const Agent& a : agents) {
      if (a.acw)
        ++acw;
      else if (a.state == "Available")
        ++available;
      else if (a.state == "Unavailable")
        ++unavailable;
      else if (a.skill == static_cast<int>(s))
        ++working;
    }
    int active = 0, queued = 0;
    std::optional<std::int64_t> earliest;
    for (const auto& [id, c] : contacts) {
      if (c.skill != static_cast<int>(s) || c.end) continue;
      ++active;
      if (!c.agent_start) {
        ++queued;
        if (!earliest || c.start < *earliest) earliest = c.start;
      }
    }
    const std::uint64_t answered = k.in_sla + k.out_sla;
    json r;
    r["serverTime"] = format_iso8601_ms(server_time);
    r["businessUnitId"] = o.business_unit_id;
    r["skillId"] = k.id;
    r["skillName"] = k.name;
    r["mediaTypeId"] = 4;
    r["mediaTypeName"] = "Call";
    r["isOutbound"] = false;
    r["isActive"] = true;
    r["agentsLoggedIn"] = static_cast<int>(agents.size());
    r["agentsAvailable"] = available;
    r["agentsUnavailable"] = unavailable;
    r["agentsWorking"] = working;
    r["agentsACW"] = acw;
    r["agentsIdle"] = available;
    r["contactsActive"] = active;
    r["queueCount"] = queued;
    r["skillQueueCount"] = queued;
    r["personalQueueCount"] = 0;
    r["parkedCount"] = 0;
    r["earliestQueueTime"] = iso_or_null(earliest);
    r["inSLA"] = k.in_sla;
    r["outSLA"] = k.out_sla;
    r["serviceLevel"] =
        answered ? static_cast<int>(std::lround(100.0 * static_cast<double>(k.in_sla) / static_cast<double>(answered)))
                 : 100;
    r["serviceLevelGoal"] = o.service_level_goal;
    r["serviceLevelThreshold"] = o.service_level_threshold_s;
    r["lastUpdateTime"] = format_iso8601_ms(k.last_update);
    return r;
  }

  void refresh_skills() {
    for (std::size_t s = 0; s < skills.size(); ++s) {
      json r = skill_row(s, 0);
      r.erase("serverTime");
      r.erase("lastUpdateTime");
      std::string sig = r.dump();
      if (sig != skills[s].signature) {
        skills[s].signature = std::move(sig);
        skills[s].last_update = now;
      }
    }
  }

  json agent_row(const Agent& a) const {
    json r;
    r["agentId"] = a.id;
    r["userName"] = a.user;
    r["firstName"] = a.first;
    r["lastName"] = a.last;
    r["businessUnitId"] = o.business_unit_id;
    r["teamId"] = a.team_id;
    r["teamName"] = a.team;
    r["agentStateId"] = a.state == "Available" ? 1 : a.state == "Unavailable" ? 2 : 3;
    r["agentStateName"] = a.state;
    r["outStateId"] = a.out_state_id;
    r["outStateDescription"] = a.reason;
    r["isACW"] = a.acw;
    r["isActive"] = true;
    r["isOutbound"] = false;
    r["contactId"] = a.contact ? json(a.contact) : json(nullptr);
    r["skillId"] = a.skill >= 0 ? json(skills[static_cast<std::size_t>(a.skill)].id) : json(nullptr);
    r["skillName"] = a.skill >= 0 ? json(skills[static_cast<std::size_t>(a.skill)].name) : json(nullptr);
    r["mediaTypeName"] = a.contact ? json("Call") : json(nullptr);
    r["stationId"] = 7000 + (a.id - kFirstAgentId);
    r["startDate"] = format_iso8601_ms(a.start_date);
    r["lastUpdateTime"] = format_iso8601_ms(a.last_update);
    return r;
  }

  json contact_row(const Contact& c) const {
    const Skill& k = skills[static_cast<std::size_t>(c.skill)];
    json r;
    r["contactId"] = c.id;
    r["masterContactId"] = c.id;
    r["agentId"] = c.agent_start ? json(agents[static_cast<std::size_t>(c.agent)].id) : json(nullptr);
    r["teamId"] = c.agent_start ? json(agents[static_cast<std::size_t>(c.agent)].team_id) : json(nullptr);
    r["skillId"] = k.id;
    r["skillName"] = k.name;
    r["mediaTypeId"] = 4;
    r["mediaTypeName"] = "Call";
    r["stateId"] = c.state == "InQueue" ? 4 : c.state == "Active" ? 5 : c.state == "Holding" ? 6 : 12;
    r["stateName"] = c.state;
    r["contactStateCategory"] = c.end ? "Ended" : c.state == "InQueue" ? "Queued" : "Active";
    r["contactStartDate"] = format_iso8601_ms(c.start);
    r["agentStartDate"] = iso_or_null(c.agent_start);
    r["lastUpdateTime"] = format_iso8601_ms(c.last_update);
    r["isOutbound"] = false;
    r["isLogged"] = true;
    r["fromAddress"] = "+1555" + std::to_string(1000000 + c.id % 9000000);
    r["toAddress"] = "+18005550" + std::to_string(100 + c.skill);
    return r;
  }

  // The "shift" fault, between two pages of one read: a row the earlier pages returned (`ids`)
  // leaves the active set and a new contact arrives, so the next page's skip lands one row further
  // and a row is never returned by this read. A lingering ended contact leaves early (its end was
  // already on an earlier page, the truth does not change); with end_state_linger_ms 0 the lowest
  // answered or queued contact ends now and vanishes. Returns false (nothing done, the fault stays
  // armed) when ended rows linger but none is on the earlier pages yet.
  bool shift(const std::vector<std::int64_t>& ids) {
    const auto lingering = std::find_if(ids.begin(), ids.end(), [&](std::int64_t id) {
      const auto it = contacts.find(id);
      return it != contacts.end() && it->second.end;
    });
    if (lingering != ids.end()) {
      contacts.erase(*lingering);
      arrive(0);
      refresh_skills();
      return true;
    }
    if (o.end_state_linger_ms > 0) return false;
    for (std::int64_t id : ids) {
      auto it = contacts.find(id);
      if (it == contacts.end() || it->second.end) continue;
      Contact& c = it->second;
      if (c.agent >= 0 && !c.agent_start) continue;  // ringing: leave it
      end_contact(c, !c.agent_start, true);
      break;
    }
    arrive(0);
    refresh_skills();
    return true;
  }
};
}  // namespace

// ---------------------------------------------------------------- the server
struct FakeRtd::Impl {
  explicit Impl(RtdOptions opts)
      : o(std::move(opts)), tls(ssl::context::tls_server), acceptor(io), ticker(io), model(o, t) {}

  RtdOptions o;
  ssl::context tls;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer ticker;
  std::thread thread;
  unsigned short bound_port = 0;
  std::int64_t wall_start_ms = steady_ms();

  mutable std::mutex m;  // guards everything below
  RtdTruth t;
  Model model;
  std::int64_t manual_ms = 0;
  std::map<std::string, std::int64_t> access_tokens;  // token -> steady ms it expires
  std::set<std::string> refresh_tokens;
  std::uint64_t token_serial = 0;
  int pending_429 = 0, pending_500 = 0, pending_hang = 0, pending_shift = 0;
  std::optional<int> pending_retry_after_s;
  std::vector<std::uint64_t> revoke_at;

  std::string base() const {
    return std::string(o.tls ? "https" : "http") + "://localhost:" + std::to_string(bound_port);
  }

  // Simulated now (caller holds m).
  std::int64_t sim_now() const {
    return o.start_time_ms + manual_ms +
           static_cast<std::int64_t>(o.speed * static_cast<double>(steady_ms() - wall_start_ms));
  }
  void sync() { model.advance_to(sim_now()); }

  void tick() {
    ticker.expires_after(std::chrono::milliseconds(100));
    ticker.async_wait([this](error_code ec) {
      if (ec) return;
      {
        std::lock_guard<std::mutex> lock(m);
        sync();
      }
      tick();
    });
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      sock.set_option(tcp::no_delay(true));
      if (o.tls)
        asio::co_spawn(io, tls_session(std::make_shared<ssl::stream<tcp::socket>>(std::move(sock), tls)),
                       asio::detached);
      else
        asio::co_spawn(io, serve(std::make_shared<tcp::socket>(std::move(sock))), asio::detached);
    }
  }

  asio::awaitable<void> tls_session(std::shared_ptr<ssl::stream<tcp::socket>> s) {
    auto [ec] = co_await s->async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec) co_await serve(s);
  }

  // Keep-alive HTTP/1.1: one request after another until the client closes. A hung request
  // holds the connection open without an answer.
  template <class S>
  asio::awaitable<void> serve(std::shared_ptr<S> s) {
    boost::beast::flat_buffer buf;
    for (;;) {
      Request req;
      auto [ec, n] = co_await http::async_read(*s, buf, req, use_tuple);
      if (ec) break;
      std::optional<Response> res = route(req);
      if (!res) {
        asio::steady_timer hold(io, std::chrono::minutes(10));
        co_await hold.async_wait(use_tuple);
        break;
      }
      res->keep_alive(req.keep_alive());
      res->prepare_payload();
      auto [wec, wn] = co_await http::async_write(*s, *res, use_tuple);
      if (wec || !req.keep_alive()) break;
    }
    error_code ignored;
    lowest(*s).shutdown(tcp::socket::shutdown_both, ignored);
    lowest(*s).close(ignored);
  }

  std::optional<Response> route(const Request& req) {
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const auto query = parse_form(q == std::string::npos ? std::string_view{} : std::string_view(target).substr(q + 1));
    std::lock_guard<std::mutex> lock(m);
    sync();
    std::optional<Response> res = dispatch(req, path, query);
    const std::string key =
        std::string(req.method_string()) + " " + path + " " + (res ? std::to_string(res->result_int()) : "hung");
    ++t.requests[key];
    return res;
  }

  std::optional<Response> dispatch(const Request& req, const std::string& path,
                                   const std::map<std::string, std::string>& query) {
    const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
    if (get && path == "/.well-known/openid-configuration") {
      json j;
      j["issuer"] = base();
      j["authorization_endpoint"] = base() + "/auth/authorize";
      j["token_endpoint"] = base() + "/auth/token";
      j["jwks_uri"] = base() + "/auth/jwks";
      j["response_types_supported"] = {"code", "id_token"};
      j["grant_types_supported"] = {"password", "refresh_token", "authorization_code"};
      j["token_endpoint_auth_methods_supported"] = {"client_secret_basic", "client_secret_post"};
      j["scopes_supported"] = {"openid"};
      return json_reply(200, j.dump(), req);
    }
    if (get && path == "/.well-known/cxone-configuration") {
      const auto it = query.find("tenantId");
      if (it == query.end() || it->second != o.tenant_id)
        return json_reply(404, R"({"error":"not_found","error_description":"unknown tenantId"})", req);
      json j;
      j["private"] = false;
      j["ui_endpoint"] = base();
      j["auth_endpoint"] = base();
      j["api_endpoint"] = base();
      j["area"] = o.area;
      j["cluster"] = o.cluster;
      j["domain"] = "localhost";
      j["tenantId"] = o.tenant_id;
      return json_reply(200, j.dump(), req);
    }
    if (post && path == "/auth/token") return token_endpoint(req);
    if (post && path == "/authentication/v1/token/access-key") return access_key_endpoint(req);
    static const std::regex api(R"(^/inContactAPI/services/v[0-9]+\.[0-9]+/(.+)$)");
    std::smatch mt;
    if (std::regex_match(path, mt, api)) return api_endpoint(req, mt[1].str(), path, query);
    return json_reply(404, R"({"error":"not_found"})", req);
  }

  std::optional<Response> token_429(const Request& req) {
    ++t.token_requests;
    if (t.token_429_sent >= static_cast<std::uint64_t>(std::max(0, o.token_429))) return std::nullopt;
    ++t.token_429_sent;
    auto res = json_reply(429, R"({"error":"rate_limited","error_description":"Too many token requests"})", req);
    if (o.token_retry_after_s) res.set(http::field::retry_after, std::to_string(*o.token_retry_after_s));
    return res;
  }

  Response issue(const Request& req, bool refreshed) {
    const std::uint64_t n = ++token_serial;
    (refreshed ? t.tokens_refreshed : t.tokens_issued) += 1;
    const std::int64_t exp_s = sim_now() / 1000 + o.token_lifetime_s;
    json claims;
    claims["iss"] = base();
    claims["sub"] = "user:" + o.access_key_id;
    claims["aud"] = o.client_id;
    claims["tenantId"] = o.tenant_id;
    claims["icBUId"] = o.business_unit_id;
    claims["area"] = o.area;
    claims["icClusterId"] = o.cluster;
    claims["exp"] = exp_s;
    claims["jti"] = "fake-" + std::to_string(n);
    const std::string access = jwt(claims);
    claims["token_use"] = "id";
    const std::string refresh = "rt-" + std::to_string(n) + "-" + std::to_string(o.seed);
    access_tokens[access] = steady_ms() + o.token_lifetime_s * 1000;
    refresh_tokens.insert(refresh);
    json j;
    j["access_token"] = access;
    j["token_type"] = "Bearer";
    j["expires_in"] = o.token_lifetime_s;
    j["refresh_token"] = refresh;
    j["id_token"] = jwt(claims);
    return json_reply(200, j.dump(), req);
  }

  std::optional<Response> token_endpoint(const Request& req) {
    if (auto r = token_429(req)) return r;
    const auto form = parse_form(req.body());
    const auto get = [&](const char* k) { return form.count(k) ? form.at(k) : std::string(); };
    bool client_ok = false;
    if (o.client_auth != "post") {
      const auto it = req.find(http::field::authorization);
      if (it != req.end() && it->value().starts_with("Basic "))
        client_ok = base64_decode(std::string(it->value().substr(6))) == o.client_id + ":" + o.client_secret;
    }
    if (!client_ok && o.client_auth != "basic")
      client_ok = get("client_id") == o.client_id && get("client_secret") == o.client_secret;
    if (!client_ok) {
      ++t.token_401;
      return json_reply(401, R"({"error":"invalid_client","error_description":"client authentication failed"})", req);
    }
    const std::string grant = get("grant_type");
    if (grant == "password") {
      if (get("username") == o.access_key_id && get("password") == o.access_key_secret) return issue(req, false);
      ++t.token_400;
      return json_reply(400, R"({"error":"invalid_grant","error_description":"invalid access key"})", req);
    }
    if (grant == "refresh_token") {
      if (refresh_tokens.erase(get("refresh_token"))) return issue(req, true);
      ++t.token_400;
      return json_reply(400, R"({"error":"invalid_grant","error_description":"unknown or used refresh token"})", req);
    }
    ++t.token_400;
    return json_reply(400, R"({"error":"unsupported_grant_type"})", req);
  }

  std::optional<Response> access_key_endpoint(const Request& req) {
    if (auto r = token_429(req)) return r;
    const auto j = nlohmann::json::parse(req.body(), nullptr, false);
    if (j.is_object() && j.value("accessKeyId", "") == o.access_key_id &&
        j.value("accessKeySecret", "") == o.access_key_secret)
      return issue(req, false);
    ++t.token_401;
    return json_reply(401, R"({"error":"invalid_client","error_description":"invalid access key"})", req);
  }

  bool authorized(const Request& req) {
    const auto it = req.find(http::field::authorization);
    if (it == req.end() || !it->value().starts_with("Bearer ")) return false;
    const auto tok = access_tokens.find(std::string(it->value().substr(7)));
    if (tok == access_tokens.end()) return false;
    if (steady_ms() >= tok->second) {
      ++t.expired_token_uses;
      return false;
    }
    return true;
  }

  std::optional<Response> api_endpoint(const Request& req, const std::string& rest, const std::string& path,
                                       const std::map<std::string, std::string>& query) {
    const std::uint64_t n = t.api_requests++;
    for (auto it = revoke_at.begin(); it != revoke_at.end();) {
      if (*it == n) {
        access_tokens.clear();
        ++t.revocations;
        it = revoke_at.erase(it);
      } else
        ++it;
    }
    if (!authorized(req)) {
      ++t.api_401;
      return json_reply(401, R"({"error":"invalid_token","error_description":"token expired or revoked"})", req);
    }
    const auto accept = req.find(http::field::accept);
    if (accept == req.end() || accept->value().find("application/json") == std::string_view::npos) {
      ++t.api_406;
      return json_reply(406, R"({"message":"No known way to render data"})", req);
    }
    if (n >= o.api_fault_after && (pending_429 > 0 || pending_500 > 0)) {
      if (pending_429 > 0) {
        --pending_429;
        ++t.api_429_sent;
        auto res = json_reply(429, R"({"error":"too_many_requests","message":"Rate limit exceeded"})", req);
        if (pending_retry_after_s) res.set(http::field::retry_after, std::to_string(*pending_retry_after_s));
        return res;
      }
      --pending_500;
      ++t.api_500_sent;
      return json_reply(500, R"({"error":"internal_error","message":"An unexpected error occurred"})", req);
    }
    if (req.method() != http::verb::get) return json_reply(405, R"({"error":"method_not_allowed"})", req);
    if (rest == "contact-state-descriptions") {
      json rows = json::array();
      const std::tuple<int, const char*, const char*> states[] = {
          {1, "PreQueue", "Queued"}, {4, "InQueue", "Queued"},    {5, "Active", "Active"},
          {6, "Holding", "Active"},  {12, "EndContact", "Ended"}, {13, "Abandoned", "Ended"}};
      for (const auto& [id, name, cat] : states)
        rows.push_back({{"ContactStateId", id}, {"ContactStateDescription", name}, {"ContactStateCategory", cat}});
      return json_reply(200, json{{"contactStateDescriptions", rows}}.dump(), req);
    }
    if (rest == "agents/states" || rest == "contacts/active" || rest == "skills/activity")
      return list(req, rest, path, query);
    return json_reply(404, R"({"error":"not_found"})", req);
  }

  static std::optional<std::int64_t> int_param(const std::map<std::string, std::string>& q, const char* k, bool& bad) {
    const auto it = q.find(k);
    if (it == q.end()) return std::nullopt;
    try {
      std::size_t used = 0;
      const long long v = std::stoll(it->second, &used);
      if (used == it->second.size() && v >= 0) return v;
    } catch (const std::exception&) {
    }
    bad = true;
    return std::nullopt;
  }

  std::string link(const std::string& path, std::map<std::string, std::string> q, std::int64_t skip) const {
    q["skip"] = std::to_string(skip);
    std::string s = base() + path;
    char sep = '?';
    for (const auto& [k, v] : q) {
      s += sep + k + "=";
      for (char c : v) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':')
          s += c;
        else {
          char hex[4];
          std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
          s += hex;
        }
      }
      sep = '&';
    }
    return s;
  }

  std::optional<Response> list(const Request& req, const std::string& rest, const std::string& path,
                               std::map<std::string, std::string> query) {
    bool bad = false;
    const auto top_q = int_param(query, "top", bad);
    const std::int64_t skip = int_param(query, "skip", bad).value_or(0);
    std::optional<std::int64_t> since;
    if (query.count("updatedSince")) {
      since = parse_iso8601_ms(query.at("updatedSince"));
      bad = bad || !since;
    }
    std::optional<std::int64_t> poll_time;
    if (query.count("lastPollTime")) {
      poll_time = parse_iso8601_ms(query.at("lastPollTime"));
      bad = bad || !poll_time;
    }
    if (bad)
      return json_reply(400, R"({"error":"invalid_request","message":"bad updatedSince, top, skip or lastPollTime"})",
                        req);
    const std::int64_t top = top_q.value_or(o.default_top);
    if (skip == 0 && !since) ++t.full_reads[rest];
    if (skip > 0 && pending_hang > 0) {
      --pending_hang;
      ++t.hung;
      return std::nullopt;
    }
    const std::int64_t now = model.now;
    if (!poll_time) poll_time = now;
    const auto fresh = [&](std::int64_t updated) { return !since || updated >= *since; };
    const bool contacts = rest == "contacts/active";
    if (contacts && skip > 0 && pending_shift > 0) {
      std::vector<std::int64_t> ids;  // the rows of the earlier pages
      for (const auto& [id, c] : model.contacts)
        if (fresh(c.last_update) && static_cast<std::int64_t>(ids.size()) < skip) ids.push_back(id);
      if (model.shift(ids)) {
        --pending_shift;
        ++t.shifted;
      }
    }
    json rows = json::array();
    if (rest == "agents/states") {
      for (const auto& a : model.agents)
        if (fresh(a.last_update)) rows.push_back(model.agent_row(a));
    } else if (contacts) {
      for (const auto& [id, c] : model.contacts)
        if (fresh(c.last_update)) rows.push_back(model.contact_row(c));
    } else {
      for (std::size_t s = 0; s < model.skills.size(); ++s)
        if (fresh(model.skills[s].last_update)) rows.push_back(model.skill_row(s, now));
    }
    const auto total = static_cast<std::int64_t>(rows.size());
    if (total == 0 && since && skip == 0 && o.no_change_status != 200) {
      ++t.no_change;
      Response res{static_cast<http::status>(o.no_change_status), req.version()};
      return res;
    }
    if (total == 0 && since) ++t.no_change;
    const std::int64_t end = top > 0 ? std::min(total, skip + top) : total;
    json page = json::array();
    for (std::int64_t i = skip; i < end; ++i)
      page.push_back(o.legacy_layout ? pascal_keys(rows[static_cast<std::size_t>(i)])
                                     : rows[static_cast<std::size_t>(i)]);
    std::map<std::string, std::string> carried = query;
    carried["lastPollTime"] = format_iso8601_ms(*poll_time);
    if (top > 0) carried["top"] = std::to_string(top);
    json links;
    links["self"] = base() + std::string(req.target());
    links["next"] = end < total ? json(link(path, carried, end)) : json(nullptr);
    links["previous"] =
        skip > 0 && top > 0 ? json(link(path, carried, std::max<std::int64_t>(0, skip - top))) : json(nullptr);
    const char* array = rest == "agents/states" ? "agentStates" : contacts ? "activeContacts" : "skillActivity";
    json body;
    body["totalRecords"] = total;
    body["_links"] = links;
    if (contacts) body[o.legacy_layout ? "BusinessUnitId" : "businessUnitId"] = o.business_unit_id;
    body[o.legacy_layout ? "LastPollTime" : "lastPollTime"] = format_iso8601_ms(*poll_time);
    body[array] = std::move(page);
    ++t.pages;
    if (skip > 0) ++t.pages_after_first;
    return json_reply(200, (o.legacy_layout ? json{{"resultSet", body}} : body).dump(), req);
  }

  // Runs f on the io thread (under m) and waits; directly when the thread is gone.
  template <class F>
  void on_io(F f) {
    if (!thread.joinable()) {
      std::lock_guard<std::mutex> lock(m);
      f();
      return;
    }
    std::promise<void> done;
    asio::post(io, [&] {
      {
        std::lock_guard<std::mutex> lock(m);
        f();
      }
      done.set_value();
    });
    done.get_future().wait();
  }
};

FakeRtd::FakeRtd(RtdOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& i = *impl_;
  i.pending_429 = i.o.api_429;
  i.pending_500 = i.o.api_500;
  i.pending_retry_after_s = i.o.api_retry_after_s;
  i.pending_hang = i.o.hang_pages;
  i.pending_shift = i.o.shift_pages;
  i.revoke_at = i.o.revoke_after_api_requests;
  if (i.o.tls) load_server_certificate(i.tls, i.o.cert_file, i.o.key_file);
  i.bound_port = open_acceptor(i.acceptor, i.o.bind, i.o.port);
  i.wall_start_ms = steady_ms();
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  if (i.o.speed > 0) i.tick();
  i.thread = run_io_thread(i.io, i.o.cpu);
}

FakeRtd::~FakeRtd() { stop(); }

void FakeRtd::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short FakeRtd::port() const { return impl_->bound_port; }
std::string FakeRtd::base_url() const { return impl_->base(); }
const RtdOptions& FakeRtd::options() const { return impl_->o; }

void FakeRtd::advance_ms(std::int64_t ms) {
  impl_->on_io([&] {
    impl_->manual_ms += ms;
    impl_->sync();
  });
}

std::int64_t FakeRtd::now_ms() const {
  std::lock_guard<std::mutex> lock(impl_->m);
  return impl_->model.now;
}

void FakeRtd::revoke_tokens() {
  impl_->on_io([&] {
    impl_->access_tokens.clear();
    ++impl_->t.revocations;
  });
}

void FakeRtd::fail_next(int status, int n, std::optional<int> retry_after_s) {
  impl_->on_io([&] {
    if (status == 429) {
      impl_->pending_429 += n;
      impl_->pending_retry_after_s = retry_after_s;
    } else {
      impl_->pending_500 += n;
    }
  });
}

void FakeRtd::hang_next_pages(int n) {
  impl_->on_io([&] { impl_->pending_hang += n; });
}
void FakeRtd::shift_next_pages(int n) {
  impl_->on_io([&] { impl_->pending_shift += n; });
}
void FakeRtd::stop_arrivals() {
  impl_->on_io([&] { impl_->model.arrivals = false; });
}

RtdTruth FakeRtd::truth() const {
  std::lock_guard<std::mutex> lock(impl_->m);
  RtdTruth t = impl_->t;
  t.now_ms = impl_->model.now;
  return t;
}

std::string rtd_truth_json(const RtdTruth& t) {
  nlohmann::ordered_json j;
  j["now"] = format_iso8601_ms(t.now_ms);
  j["contacts_arrived"] = t.contacts_arrived;
  j["contacts_ended"] = t.ended.size();
  j["contacts_active"] = t.contacts_active;
  j["api_requests"] = t.api_requests;
  j["pages"] = t.pages;
  j["pages_after_first"] = t.pages_after_first;
  j["no_change"] = t.no_change;
  j["tokens_issued"] = t.tokens_issued;
  j["tokens_refreshed"] = t.tokens_refreshed;
  j["token_requests"] = t.token_requests;
  j["token_429_sent"] = t.token_429_sent;
  j["token_401"] = t.token_401;
  j["token_400"] = t.token_400;
  j["api_401"] = t.api_401;
  j["api_406"] = t.api_406;
  j["api_429_sent"] = t.api_429_sent;
  j["api_500_sent"] = t.api_500_sent;
  j["hung"] = t.hung;
  j["shifted"] = t.shifted;
  j["revocations"] = t.revocations;
  j["expired_token_uses"] = t.expired_token_uses;
  j["requests"] = t.requests;
  auto& ended = j["ended"] = nlohmann::ordered_json::array();
  for (const auto& c : t.ended) {
    nlohmann::ordered_json r;
    r["contactId"] = c.contact_id;
    r["skillId"] = c.skill_id;
    r["skill"] = c.skill;
    r["contactStart"] = format_iso8601_ms(c.contact_start_ms);
    r["agentStart"] = iso_or_null(c.agent_start_ms);
    r["end"] = format_iso8601_ms(c.end_ms);
    r["abandoned"] = c.abandoned;
    if (c.agent_id) r["agentId"] = c.agent_id;
    ended.push_back(std::move(r));
  }
  auto& changes = j["agent_changes"] = nlohmann::ordered_json::array();
  for (const auto& a : t.agent_changes)
    changes.push_back({{"agentId", a.agent_id},
                       {"time", format_iso8601_ms(a.time_ms)},
                       {"state", a.state},
                       {"reason", a.reason},
                       {"isACW", a.acw}});
  return j.dump();
}

}  // namespace cxflow::fake
