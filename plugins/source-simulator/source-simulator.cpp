// source-simulator: discrete-event contact-center simulation (see README.md for the model).
//
// Everything runs in simulated time from a priority queue of future happenings (arrivals,
// abandons, ends of handling and wrap-up, breaks, scenario steps, queue snapshots). Each one is
// processed at its time and appends the events it causes to the batch being built, so events
// come out in event-time order. Times are integer milliseconds; wait and handle times are
// derived from them, so the emitted doubles and the ground-truth file carry the same numbers.
//
// Determinism: a private xoshiro256** generator per purpose (arrivals and contact attributes
// per queue, breaks per agent), seeded from `seed`, and ties in the queue broken by insertion
// order. The same config and seed give the same events on every run and every machine with the
// same libm; a scenario step that changes staffing does not change the arrivals (common random
// numbers), so runs with and without a step are directly comparable.
#include "source-simulator.hpp"

#include <cxflow/time.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string_view>

namespace cxflow::sim {

namespace {

constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// ---- Random numbers -------------------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna): fast, small, and the same sequence everywhere.
class Rng {
 public:
  Rng() : Rng(0, 0, 0) {}
  Rng(std::int64_t seed, std::uint64_t purpose, std::uint64_t index) {
    std::uint64_t x = static_cast<std::uint64_t>(seed);
    x ^= splitmix64(purpose) + 0x632be59bd9b4e019ULL * (index + 1);
    for (auto& w : s_) w = splitmix64(x);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in (0, 1): never 0, so log() is safe.
  double open01() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  double exponential(double mean) { return -std::log(open01()) * mean; }
  double normal() {  // Box-Muller
    const double u1 = open01(), u2 = open01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

enum Purpose : std::uint64_t { kArrivals = 1, kAttributes = 2, kBreaks = 3 };

std::int64_t to_ms(double v) {
  if (!(v < 9e15)) return static_cast<std::int64_t>(9e15);
  return static_cast<std::int64_t>(std::llround(v));
}

// ---- Small text helpers -----------------------------------------------------------------------

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Shortest text that reads back as the same double (so the ground truth round-trips exactly).
void append_double(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// ---- The built-in center ------------------------------------------------------------------------

std::vector<QueueConfig> builtin_queues() {
  auto q = [](const char* name, double per_hour, std::int64_t patience_s, std::int64_t handle_s, double sigma,
              std::int64_t wrapup_s) {
    QueueConfig c;
    c.name = name;
    c.arrivals_per_hour = per_hour;
    c.patience = Duration{patience_s * 1000};
    c.handle_time = Duration{handle_s * 1000};
    c.handle_time_sigma = sigma;
    c.wrapup = Duration{wrapup_s * 1000};
    return c;
  };
  return {q("sales", 180, 90, 120, 0.6, 15), q("support", 300, 120, 100, 0.5, 20), q("billing", 120, 60, 80, 0.5, 10)};
}

std::vector<AgentGroupConfig> builtin_agents() {
  return {AgentGroupConfig{"sales", 7, "sales", {"sales"}}, AgentGroupConfig{"support", 11, "support", {"support"}},
          AgentGroupConfig{"billing", 3, "billing", {"billing"}},
          AgentGroupConfig{"flex", 4, "flex", {"support", "sales", "billing"}}};
}

}  // namespace

// ---- Config resolution ------------------------------------------------------------------------

std::string check_scenario_step(const ScenarioStepConfig& s) {
  if (s.arrivals < 0 && s.handle_factor < 0 && s.logout == 0 && s.login == 0)
    return "scenario step has no action: set at least one of 'arrivals' (rate multiplier), 'handle_factor' "
           "(talk-time multiplier), 'logout' or 'login' (number of agents)";
  if (!s.queue.empty() && s.arrivals < 0 && s.handle_factor < 0)
    return "'queue' only applies to 'arrivals' and 'handle_factor'; add one of them";
  if (!s.group.empty() && s.logout == 0 && s.login == 0) return "'group' only applies to 'logout' and 'login'";
  return {};
}

std::string resolve_model(const Config& cfg, Model& m) {
  m = Model{};
  std::vector<std::string> errors;  // every problem, not just the first
  auto error = [&](std::string msg) { errors.push_back(std::move(msg)); };
  // speed
  if (cfg.speed == "max") {
    m.speed_factor = 0;
  } else {
    double f = 0;
    const char* b = cfg.speed.data();
    const char* e = b + cfg.speed.size();
    auto r = std::from_chars(b, e, f);
    if (r.ec != std::errc{} || r.ptr != e || !(f > 0) || !std::isfinite(f))
      error(
          "speed: expected 'max' or a positive factor (1 = real time, 60 = one simulated minute per second), found '" +
          cfg.speed + "'");
    else
      m.speed_factor = f;
  }
  // start time
  if (cfg.start_time != "now") {
    if (auto t = parse_iso8601_ms(cfg.start_time))
      m.start_ms = *t;
    else
      error("start_time: expected an ISO 8601 time with a zone (e.g. 2026-01-05T08:00:00Z) or 'now', found '" +
            cfg.start_time + "'");
  }
  // event types
  if (cfg.event_types.empty()) error("event_types: list at least one of interaction, agent, queue");
  m.emit_interaction = m.emit_agent = m.emit_queue = false;
  const std::vector<std::string> types{"interaction", "agent", "queue"};
  for (const auto& t : cfg.event_types) {
    if (t == "interaction")
      m.emit_interaction = true;
    else if (t == "agent")
      m.emit_agent = true;
    else if (t == "queue")
      m.emit_queue = true;
    else
      error("event_types: unknown event type '" + t + "'; expected interaction, agent or queue" +
            did_you_mean(t, types));
  }
  // arrival curve
  if (!cfg.arrival_curve.empty() && cfg.arrival_curve.size() != 24) {
    error("arrival_curve: expected 24 hourly multipliers (hours 0..23 of the simulated UTC day), found " +
          std::to_string(cfg.arrival_curve.size()));
  } else {
    for (std::size_t i = 0; i < cfg.arrival_curve.size(); ++i) {
      const std::string& s = cfg.arrival_curve[i];
      double v = -1;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || !(v >= 0) || !std::isfinite(v))
        error("arrival_curve[" + std::to_string(i) + "]: expected a non-negative number, found '" + s + "'");
      m.arrival_curve.push_back(v);
    }
  }
  // queues
  const bool builtin = cfg.queues.empty();
  const std::vector<QueueConfig> queues = builtin ? builtin_queues() : cfg.queues;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < queues.size(); ++i) {
    const auto& q = queues[i];
    if (q.name.empty())
      error("queues[" + std::to_string(i) + "].name: must not be empty");
    else if (std::find(names.begin(), names.end(), q.name) != names.end())
      error("queues[" + std::to_string(i) + "].name: duplicate queue name '" + q.name + "'");
    names.push_back(q.name);
    ModelQueue mq;
    mq.name = q.name;
    mq.skill = q.skill.empty() ? q.name : q.skill;
    mq.arrivals_per_hour = q.arrivals_per_hour;
    mq.patience_ms = q.patience.ms;
    mq.handle_median_ms = std::max<std::int64_t>(1, q.handle_time.ms);
    mq.handle_sigma = q.handle_time_sigma;
    mq.wrapup_mean_ms = q.wrapup.ms;
    mq.sl_threshold_ms = q.service_level_threshold.ms;
    m.queues.push_back(std::move(mq));
  }
  auto queue_index = [&](const std::string& n) -> int {
    auto it = std::find(names.begin(), names.end(), n);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  };
  // agent groups
  std::vector<AgentGroupConfig> groups = cfg.agents;
  if (groups.empty()) {
    if (builtin) {
      groups = builtin_agents();
    } else {
      // One group per queue, staffed for its offered load (Erlangs) plus one.
      for (const auto& q : m.queues) {
        const double mean_handle_s =
            static_cast<double>(q.handle_median_ms) / 1000.0 * std::exp(q.handle_sigma * q.handle_sigma / 2);
        const double erlangs =
            q.arrivals_per_hour / 3600.0 * (mean_handle_s + static_cast<double>(q.wrapup_mean_ms) / 1000.0);
        groups.push_back(AgentGroupConfig{q.name, static_cast<std::int64_t>(std::ceil(erlangs)) + 1, q.name, {q.name}});
      }
    }
  }
  std::vector<std::string> group_names, prefixes;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    const std::string where = "agents[" + std::to_string(i) + "]";
    if (g.name.empty())
      error(where + ".name: must not be empty");
    else if (std::find(group_names.begin(), group_names.end(), g.name) != group_names.end())
      error(where + ".name: duplicate agent group name '" + g.name + "'");
    group_names.push_back(g.name);
    ModelGroup mg;
    mg.name = g.name;
    mg.prefix = g.prefix.empty() ? g.name : g.prefix;
    if (std::find(prefixes.begin(), prefixes.end(), mg.prefix) != prefixes.end())
      error(where + ".prefix: '" + mg.prefix + "' is already used by another group, so agent ids would collide");
    prefixes.push_back(mg.prefix);
    mg.count = g.count;
    if (g.queues.empty()) {
      for (std::uint32_t q = 0; q < m.queues.size(); ++q) mg.queues.push_back(q);
    } else {
      for (const auto& qn : g.queues) {
        const int qi = queue_index(qn);
        if (qi < 0)
          error(where + ".queues: unknown queue '" + qn + "' (queues: " + join(names) + ")" + did_you_mean(qn, names));
        else if (std::find(mg.queues.begin(), mg.queues.end(), static_cast<std::uint32_t>(qi)) == mg.queues.end())
          mg.queues.push_back(static_cast<std::uint32_t>(qi));
      }
    }
    m.groups.push_back(std::move(mg));
  }
  // scenario
  for (std::size_t i = 0; i < cfg.scenario.size(); ++i) {
    const auto& s = cfg.scenario[i];
    const std::string where = "scenario[" + std::to_string(i) + "]";
    if (std::string msg = check_scenario_step(s); !msg.empty()) {
      error(where + ": " + msg);
      continue;
    }
    ModelStep ms;
    ms.at_ms = s.at.ms;
    ms.arrivals = s.arrivals;
    ms.handle_factor = s.handle_factor;
    ms.logout = s.logout;
    ms.login = s.login;
    if (!s.queue.empty()) {
      ms.queue = queue_index(s.queue);
      if (ms.queue < 0)
        error(where + ".queue: unknown queue '" + s.queue + "' (queues: " + join(names) + ")" +
              did_you_mean(s.queue, names));
    }
    if (!s.group.empty()) {
      auto it = std::find(group_names.begin(), group_names.end(), s.group);
      if (it == group_names.end())
        error(where + ".group: unknown agent group '" + s.group + "' (groups: " + join(group_names) + ")" +
              did_you_mean(s.group, group_names));
      else
        ms.group = static_cast<int>(it - group_names.begin());
    }
    if (ms.login > 0 && m.groups.empty()) error(where + ".login: there is no agent group to log agents into");
    m.steps.push_back(ms);
  }
  std::stable_sort(m.steps.begin(), m.steps.end(),
                   [](const ModelStep& a, const ModelStep& b) { return a.at_ms < b.at_ms; });
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
  return all;
}

// ---- The simulation -----------------------------------------------------------------------------

struct SimulatorSource::Impl {
  enum class Kind : std::uint8_t {
    Arrival,
    Abandon,
    HandleEnd,
    WrapupEnd,
    BreakRequest,
    BreakEnd,
    Step,
    RateChange,
    Snapshot
  };
  struct Scheduled {
    std::int64_t t;
    std::uint64_t seq;  // insertion order: ties are processed first-in first-out
    std::uint64_t b;
    std::uint32_t a;
    Kind kind;
  };
  struct Later {
    bool operator()(const Scheduled& x, const Scheduled& y) const { return x.t != y.t ? x.t > y.t : x.seq > y.seq; }
  };

  enum class ContactState : std::uint8_t { Free, Queued, Active, Wrapup };
  struct Contact {
    std::uint64_t serial = 0;
    std::int64_t arrival_ms = 0;
    std::int64_t answer_ms = 0;
    std::int64_t patience_ms = 0;
    std::int64_t handle_ms = 0;
    std::int64_t wrapup_ms = 0;
    std::uint32_t queue = 0;
    std::uint32_t agent = 0;
    ContactState state = ContactState::Free;
  };
  struct Waiting {
    std::uint32_t slot;
    std::uint64_t serial;
  };
  struct Queue {
    ModelQueue cfg;
    double multiplier = 1;     // from scenario steps
    double handle_factor = 1;  // from scenario steps: scales talk time of contacts arriving from then on
    double rate_per_hour = 0;  // current rate: configured x multiplier x arrival curve
    std::uint64_t arrival_gen = 0;
    std::deque<Waiting> waiting;  // FIFO; abandoned entries are skipped lazily
    std::uint32_t waiting_count = 0;
    std::uint32_t available_agents = 0;
    std::vector<std::uint32_t> agents;  // agents serving this queue
    // Since the last snapshot.
    std::uint32_t answered = 0, answered_in_sl = 0, abandoned = 0;
    Rng arrivals_rng, attr_rng;
  };
  enum class AgentState : std::uint8_t { Available, Busy, Wrapup, Unavailable, LoggedOut };
  struct Agent {
    std::string id;
    std::uint32_t group = 0;
    AgentState state = AgentState::LoggedOut;
    std::int64_t since = 0;
    std::uint32_t contact = 0;
    std::uint64_t contact_serial = 0;
    bool logout_pending = false;
    bool break_pending = false;
    std::uint64_t break_gen = 0;
    Rng rng;
  };

  Impl(const Config& c, Setup& setup)
      : cfg(c),
        f_event_type(setup.produces("eventType", FieldType::String)),
        f_interaction_id(setup.produces("interactionId", FieldType::String)),
        f_agent_id(setup.produces("agentId", FieldType::String)),
        f_queue(setup.produces("metadata.queue", FieldType::String)),
        f_skill(setup.produces("metadata.skill", FieldType::String)),
        f_team(setup.produces("metadata.team", FieldType::String)),
        f_state(setup.produces("metrics.state", FieldType::String)),
        f_reason(setup.produces("metrics.reason", FieldType::String)),
        f_wait(setup.produces("metrics.waitTime", FieldType::Number)),
        f_handle(setup.produces("metrics.handleTime", FieldType::Number)),
        f_queue_length(setup.produces("metrics.queueLength", FieldType::Number)),
        f_agents_available(setup.produces("metrics.agentsAvailable", FieldType::Number)),
        f_longest_wait(setup.produces("metrics.longestWait", FieldType::Number)),
        f_service_level(setup.produces("metrics.serviceLevel", FieldType::Number)),
        c_arrived(setup.declare_counter({"contacts_arrived",
                                         CounterKind::Counter,
                                         "contacts",
                                         {},
                                         CounterRole::None,
                                         "simulated contacts that arrived"})),
        c_answered(setup.declare_counter({"contacts_answered",
                                          CounterKind::Counter,
                                          "contacts",
                                          {},
                                          CounterRole::None,
                                          "simulated contacts answered by an agent"})),
        c_abandoned(setup.declare_counter({"contacts_abandoned",
                                           CounterKind::Counter,
                                           "contacts",
                                           {},
                                           CounterRole::None,
                                           "simulated contacts that hung up while queued"})),
        c_ended(setup.declare_counter({"contacts_ended",
                                       CounterKind::Counter,
                                       "contacts",
                                       {},
                                       CounterRole::None,
                                       "simulated contacts completed"})),
        c_gt_lines(setup.declare_counter({"ground_truth_lines",
                                          CounterKind::Counter,
                                          "lines",
                                          {},
                                          CounterRole::None,
                                          "lines written to the ground_truth file"})) {
    if (std::string err = resolve_model(cfg, model); !err.empty()) throw ConfigException({}, err);
    batch_size = static_cast<std::size_t>(cfg.batch_size);
    id_prefix = "sim-" + std::to_string(cfg.seed) + "-";
    queues.resize(model.queues.size());
    for (std::size_t q = 0; q < queues.size(); ++q) {
      queues[q].cfg = model.queues[q];
      queues[q].arrivals_rng = Rng(cfg.seed, kArrivals, q);
      queues[q].attr_rng = Rng(cfg.seed, kAttributes, q);
    }
    group_next_number.assign(model.groups.size(), 1);
    for (std::uint32_t g = 0; g < model.groups.size(); ++g)
      for (std::int64_t i = 0; i < model.groups[g].count; ++i) add_agent(g);
    pending.reserve(batch_size + 16);
  }

  // ---- setup helpers ----
  std::uint32_t add_agent(std::uint32_t g) {
    const auto& grp = model.groups[g];
    Agent a;
    a.group = g;
    const std::int64_t n = group_next_number[g]++;
    std::string num = std::to_string(n);
    const std::size_t width = std::max<std::size_t>(2, std::to_string(std::max<std::int64_t>(grp.count, n)).size());
    if (num.size() < width) num.insert(0, width - num.size(), '0');
    a.id = grp.prefix + "-" + num;
    const auto idx = static_cast<std::uint32_t>(agents.size());
    a.rng = Rng(cfg.seed, kBreaks, idx);
    agents.push_back(std::move(a));
    for (std::uint32_t q : grp.queues) queues[q].agents.push_back(idx);
    return idx;
  }

  // ---- scheduling ----
  void schedule(std::int64_t t, Kind k, std::uint32_t a, std::uint64_t b = 0) {
    heap.push_back(Scheduled{t, seq++, b, a, k});
    std::push_heap(heap.begin(), heap.end(), Later{});
  }

  double curve_at(std::int64_t t) const {
    if (model.arrival_curve.empty()) return 1.0;
    std::int64_t in_day = t % kDayMs;
    if (in_day < 0) in_day += kDayMs;
    return model.arrival_curve[static_cast<std::size_t>(in_day / kHourMs)];
  }

  // Arrivals are Poisson with a piecewise-constant rate: whenever the rate changes, the next
  // arrival is drawn afresh from now (exact, because the exponential is memoryless).
  void reschedule_arrivals(std::uint32_t q) {
    Queue& Q = queues[q];
    ++Q.arrival_gen;
    Q.rate_per_hour = Q.cfg.arrivals_per_hour * Q.multiplier * curve_at(now);
    if (!(Q.rate_per_hour > 0)) return;
    const double mean_ms = 3'600'000.0 / Q.rate_per_hour;
    schedule(now + std::max<std::int64_t>(0, to_ms(Q.arrivals_rng.exponential(mean_ms))), Kind::Arrival, q,
             Q.arrival_gen);
  }

  void initialize(std::int64_t t0) {
    start_ms = t0;
    now = t0;
    end_ms = cfg.duration.ms > 0 ? t0 + cfg.duration.ms : 0;
    for (std::uint32_t a = 0; a < agents.size(); ++a) login(a);
    for (std::uint32_t q = 0; q < queues.size(); ++q) reschedule_arrivals(q);
    if (cfg.queue_snapshot_interval.ms > 0) schedule(t0 + cfg.queue_snapshot_interval.ms, Kind::Snapshot, 0);
    for (std::uint32_t i = 0; i < model.steps.size(); ++i) schedule(t0 + model.steps[i].at_ms, Kind::Step, i);
    if (!model.arrival_curve.empty()) schedule(next_hour(t0), Kind::RateChange, 0);
  }

  static std::int64_t next_hour(std::int64_t t) {
    std::int64_t h = t / kHourMs;
    if (t < 0 && t % kHourMs != 0) --h;
    return (h + 1) * kHourMs;
  }

  void process_next() {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    const Scheduled ev = heap.back();
    heap.pop_back();
    now = ev.t;
    switch (ev.kind) {
      case Kind::Arrival:
        on_arrival(ev.a, ev.b);
        break;
      case Kind::Abandon:
        on_abandon(ev.a, ev.b);
        break;
      case Kind::HandleEnd:
        on_handle_end(ev.a, ev.b);
        break;
      case Kind::WrapupEnd:
        on_wrapup_end(ev.a, ev.b);
        break;
      case Kind::BreakRequest:
        on_break_request(ev.a, ev.b);
        break;
      case Kind::BreakEnd:
        on_break_end(ev.a, ev.b);
        break;
      case Kind::Step:
        on_step(ev.a);
        break;
      case Kind::RateChange:
        for (std::uint32_t q = 0; q < queues.size(); ++q) reschedule_arrivals(q);
        schedule(next_hour(now), Kind::RateChange, 0);
        break;
      case Kind::Snapshot:
        on_snapshot();
        schedule(now + cfg.queue_snapshot_interval.ms, Kind::Snapshot, 0);
        break;
    }
  }

  // ---- contacts ----
  std::uint32_t alloc_contact() {
    if (!free_slots.empty()) {
      const std::uint32_t s = free_slots.back();
      free_slots.pop_back();
      return s;
    }
    contacts.emplace_back();
    return static_cast<std::uint32_t>(contacts.size() - 1);
  }
  void free_contact(std::uint32_t slot) {
    contacts[slot].state = ContactState::Free;
    contacts[slot].serial = 0;
    free_slots.push_back(slot);
  }

  void on_arrival(std::uint32_t q, std::uint64_t gen) {
    Queue& Q = queues[q];
    if (gen != Q.arrival_gen) return;                      // the rate changed since this was drawn
    const double mean_ms = 3'600'000.0 / Q.rate_per_hour;  // unchanged since this arrival was drawn
    schedule(now + std::max<std::int64_t>(0, to_ms(Q.arrivals_rng.exponential(mean_ms))), Kind::Arrival, q, gen);

    const std::uint32_t slot = alloc_contact();
    Contact& c = contacts[slot];
    c.serial = ++serial;
    c.arrival_ms = now;
    c.answer_ms = 0;
    c.queue = q;
    c.state = ContactState::Queued;
    // Every attribute is drawn at arrival, whatever happens later (common random numbers).
    c.patience_ms =
        Q.cfg.patience_ms > 0
            ? std::max<std::int64_t>(1, to_ms(Q.attr_rng.exponential(static_cast<double>(Q.cfg.patience_ms))))
            : 0;
    c.handle_ms = std::max<std::int64_t>(1, to_ms(static_cast<double>(Q.cfg.handle_median_ms) * Q.handle_factor *
                                                  std::exp(Q.cfg.handle_sigma * Q.attr_rng.normal())));
    c.wrapup_ms =
        Q.cfg.wrapup_mean_ms > 0 ? to_ms(Q.attr_rng.exponential(static_cast<double>(Q.cfg.wrapup_mean_ms))) : 0;
    c_arrived.add();
    interaction_event(c, "queued");

    if (Q.available_agents > 0) {
      // Longest-idle available agent serving this queue.
      std::uint32_t best = UINT32_MAX;
      for (std::uint32_t a : Q.agents) {
        const Agent& A = agents[a];
        if (A.state == AgentState::Available && (best == UINT32_MAX || A.since < agents[best].since)) best = a;
      }
      if (best != UINT32_MAX) {
        answer(slot, best);
        return;
      }
    }
    Q.waiting.push_back(Waiting{slot, c.serial});
    ++Q.waiting_count;
    if (c.patience_ms > 0) schedule(now + c.patience_ms, Kind::Abandon, slot, c.serial);
  }

  void on_abandon(std::uint32_t slot, std::uint64_t ser) {
    Contact& c = contacts[slot];
    if (c.serial != ser || c.state != ContactState::Queued) return;  // answered meanwhile
    Queue& Q = queues[c.queue];
    --Q.waiting_count;
    ++Q.abandoned;
    c_abandoned.add();
    final_event(c, false);
    free_contact(slot);
  }

  void answer(std::uint32_t slot, std::uint32_t a) {
    Contact& c = contacts[slot];
    Queue& Q = queues[c.queue];
    c.state = ContactState::Active;
    c.answer_ms = now;
    c.agent = a;
    ++Q.answered;
    if (now - c.arrival_ms <= Q.cfg.sl_threshold_ms) ++Q.answered_in_sl;
    c_answered.add();
    Agent& A = agents[a];
    A.contact = slot;
    A.contact_serial = c.serial;
    interaction_event(c, "active");
    set_agent_state(a, AgentState::Busy, "inbound");
    schedule(now + c.handle_ms, Kind::HandleEnd, a, c.serial);
  }

  void on_handle_end(std::uint32_t a, std::uint64_t ser) {
    Agent& A = agents[a];
    if (A.contact_serial != ser) return;
    Contact& c = contacts[A.contact];
    if (c.wrapup_ms > 0) {
      c.state = ContactState::Wrapup;
      interaction_event(c, "wrapup");
      set_agent_state(a, AgentState::Wrapup, "after_call_work");
      schedule(now + c.wrapup_ms, Kind::WrapupEnd, a, ser);
    } else {
      complete(a);
    }
  }

  void on_wrapup_end(std::uint32_t a, std::uint64_t ser) {
    if (agents[a].contact_serial != ser) return;
    complete(a);
  }

  void complete(std::uint32_t a) {
    Agent& A = agents[a];
    Contact& c = contacts[A.contact];
    c_ended.add();
    final_event(c, true);
    free_contact(A.contact);
    A.contact_serial = 0;
    agent_free(a, "ready");
  }

  // The oldest waiting contact among the agent's queues (FIFO per queue), or UINT32_MAX.
  std::uint32_t take_waiting(const Agent& A) {
    int best_q = -1;
    std::int64_t best_arrival = 0;
    std::uint64_t best_serial = 0;
    for (std::uint32_t q : model.groups[A.group].queues) {
      Queue& Q = queues[q];
      if (Q.waiting_count == 0) continue;
      drop_stale(Q);
      const Waiting& w = Q.waiting.front();
      const Contact& c = contacts[w.slot];
      if (best_q < 0 || c.arrival_ms < best_arrival || (c.arrival_ms == best_arrival && c.serial < best_serial)) {
        best_q = static_cast<int>(q);
        best_arrival = c.arrival_ms;
        best_serial = c.serial;
      }
    }
    if (best_q < 0) return UINT32_MAX;
    Queue& Q = queues[static_cast<std::size_t>(best_q)];
    const std::uint32_t slot = Q.waiting.front().slot;
    Q.waiting.pop_front();
    --Q.waiting_count;
    return slot;
  }

  void drop_stale(Queue& Q) {
    while (!Q.waiting.empty()) {
      const Waiting& w = Q.waiting.front();
      const Contact& c = contacts[w.slot];
      if (c.serial == w.serial && c.state == ContactState::Queued) return;
      Q.waiting.pop_front();
    }
  }

  // ---- agents ----
  void set_agent_state(std::uint32_t a, AgentState s, const char* reason) {
    Agent& A = agents[a];
    if (A.state == AgentState::Available && s != AgentState::Available)
      for (std::uint32_t q : model.groups[A.group].queues) --queues[q].available_agents;
    if (A.state != AgentState::Available && s == AgentState::Available)
      for (std::uint32_t q : model.groups[A.group].queues) ++queues[q].available_agents;
    A.state = s;
    A.since = now;
    agent_event(A, reason);
  }

  // The agent has nothing to do: log out or go on break if asked to, else take the oldest
  // waiting contact, else become available.
  void agent_free(std::uint32_t a, const char* reason) {
    Agent& A = agents[a];
    if (A.logout_pending) {
      A.logout_pending = false;
      A.break_pending = false;
      ++A.break_gen;
      set_agent_state(a, AgentState::LoggedOut, "logout");
      return;
    }
    if (A.break_pending) {
      go_on_break(a);
      return;
    }
    const std::uint32_t slot = take_waiting(A);
    if (slot != UINT32_MAX) {
      // Straight from wrap-up or a break to the next contact: no zero-length "available". A
      // login is still announced, so consumers see the agent arrive.
      if (A.state == AgentState::LoggedOut) set_agent_state(a, AgentState::Available, reason);
      answer(slot, a);
      return;
    }
    set_agent_state(a, AgentState::Available, reason);
  }

  void login(std::uint32_t a) {
    Agent& A = agents[a];
    A.logout_pending = false;
    A.break_pending = false;
    ++A.break_gen;
    schedule_break_request(a);
    agent_free(a, "login");
  }

  void logout_now(std::uint32_t a) {
    Agent& A = agents[a];
    A.logout_pending = false;
    A.break_pending = false;
    ++A.break_gen;
    set_agent_state(a, AgentState::LoggedOut, "logout");
  }

  void schedule_break_request(std::uint32_t a) {
    if (!(cfg.break_rate_per_hour > 0)) return;
    Agent& A = agents[a];
    const double mean_ms = 3'600'000.0 / cfg.break_rate_per_hour;
    schedule(now + std::max<std::int64_t>(1, to_ms(A.rng.exponential(mean_ms))), Kind::BreakRequest, a, A.break_gen);
  }

  void on_break_request(std::uint32_t a, std::uint64_t gen) {
    Agent& A = agents[a];
    if (gen != A.break_gen) return;
    if (A.state == AgentState::Available)
      go_on_break(a);
    else if (A.state == AgentState::Busy || A.state == AgentState::Wrapup)
      A.break_pending = true;
  }

  void go_on_break(std::uint32_t a) {
    Agent& A = agents[a];
    A.break_pending = false;
    set_agent_state(a, AgentState::Unavailable, "break");
    const std::int64_t d =
        std::max<std::int64_t>(0, to_ms(A.rng.exponential(static_cast<double>(cfg.break_duration.ms))));
    schedule(now + d, Kind::BreakEnd, a, A.break_gen);
  }

  void on_break_end(std::uint32_t a, std::uint64_t gen) {
    Agent& A = agents[a];
    if (gen != A.break_gen || A.state != AgentState::Unavailable) return;
    schedule_break_request(a);
    agent_free(a, "break_over");
  }

  // ---- scenario ----
  void on_step(std::uint32_t i) {
    const ModelStep& s = model.steps[i];
    if (s.arrivals >= 0) {
      for (std::uint32_t q = 0; q < queues.size(); ++q) {
        if (s.queue >= 0 && static_cast<std::uint32_t>(s.queue) != q) continue;
        queues[q].multiplier = s.arrivals;
        reschedule_arrivals(q);
      }
    }
    if (s.handle_factor >= 0)
      for (std::uint32_t q = 0; q < queues.size(); ++q)
        if (s.queue < 0 || static_cast<std::uint32_t>(s.queue) == q) queues[q].handle_factor = s.handle_factor;
    if (s.logout > 0) step_logout(s);
    if (s.login > 0) step_login(s);
  }

  bool in_group(const Agent& A, int group) const { return group < 0 || A.group == static_cast<std::uint32_t>(group); }

  void step_logout(const ModelStep& s) {
    std::int64_t left = s.logout;
    // Available agents first (longest idle first), then agents on a break, then busy agents
    // (they log out when their contact is done).
    std::vector<std::uint32_t> idle;
    for (std::uint32_t a = 0; a < agents.size(); ++a)
      if (in_group(agents[a], s.group) && agents[a].state == AgentState::Available) idle.push_back(a);
    std::stable_sort(idle.begin(), idle.end(),
                     [&](std::uint32_t x, std::uint32_t y) { return agents[x].since < agents[y].since; });
    for (std::uint32_t a : idle) {
      if (left == 0) return;
      logout_now(a);
      --left;
    }
    for (std::uint32_t a = 0; a < agents.size() && left > 0; ++a)
      if (in_group(agents[a], s.group) && agents[a].state == AgentState::Unavailable) {
        logout_now(a);
        --left;
      }
    for (std::uint32_t a = 0; a < agents.size() && left > 0; ++a) {
      Agent& A = agents[a];
      if (in_group(A, s.group) && (A.state == AgentState::Busy || A.state == AgentState::Wrapup) && !A.logout_pending) {
        A.logout_pending = true;
        --left;
      }
    }
    if (left > 0) ++logout_shortfall;
  }

  void step_login(const ModelStep& s) {
    std::int64_t left = s.login;
    // Agents about to log out stay; then logged-out agents come back; then new agents join.
    for (std::uint32_t a = 0; a < agents.size() && left > 0; ++a)
      if (in_group(agents[a], s.group) && agents[a].logout_pending) {
        agents[a].logout_pending = false;
        --left;
      }
    for (std::uint32_t a = 0; a < agents.size() && left > 0; ++a)
      if (in_group(agents[a], s.group) && agents[a].state == AgentState::LoggedOut) {
        login(a);
        --left;
      }
    const std::uint32_t g = s.group >= 0 ? static_cast<std::uint32_t>(s.group) : 0;
    for (; left > 0; --left) login(add_agent(g));
  }

  // ---- queue snapshots ----
  void on_snapshot() {
    for (Queue& Q : queues) {
      const std::uint32_t left_queue = Q.answered + Q.abandoned;
      if (model.emit_queue) {
        drop_stale(Q);
        Event* e = new_event();
        if (e != nullptr) {
          const double longest =
              Q.waiting.empty() ? 0.0 : static_cast<double>(now - contacts[Q.waiting.front().slot].arrival_ms) / 1000.0;
          e->fields.reserve(7);
          put(*e, f_event_type, s_queue);
          put(*e, f_queue, Q.cfg.name);
          put(*e, f_skill, Q.cfg.skill);
          e->fields.push_back(FieldValue{f_queue_length, Value(static_cast<std::int64_t>(Q.waiting_count))});
          e->fields.push_back(FieldValue{f_agents_available, Value(static_cast<std::int64_t>(Q.available_agents))});
          e->fields.push_back(FieldValue{f_longest_wait, Value(longest)});
          e->fields.push_back(FieldValue{
              f_service_level, left_queue == 0 ? Value() : Value(static_cast<double>(Q.answered_in_sl) / left_queue)});
        }
      }
      Q.answered = Q.answered_in_sl = Q.abandoned = 0;
    }
  }

  // ---- event construction ----
  // A new event in the batch being built, or nullptr once max_events is reached.
  Event* new_event() {
    if (cfg.max_events > 0 && accepted >= static_cast<std::uint64_t>(cfg.max_events)) {
      limit_reached = true;
      return nullptr;
    }
    ++accepted;
    pending.emplace_back();
    Event& e = pending.back();
    e.time_ms = now;
    return &e;
  }
  static void put(Event& e, FieldId id, const std::string& s) { e.fields.push_back(FieldValue{id, Value(s)}); }
  static void put(Event& e, FieldId id, const char* s) { e.fields.push_back(FieldValue{id, Value(std::string(s))}); }

  std::string interaction_id(std::uint64_t ser) const {
    std::string s;
    s.reserve(id_prefix.size() + 20);
    s = id_prefix;
    append_int(s, static_cast<std::int64_t>(ser));
    return s;
  }

  void interaction_event(const Contact& c, const char* state) {
    if (!model.emit_interaction) return;
    Event* e = new_event();
    if (e == nullptr) return;
    const Queue& Q = queues[c.queue];
    e->fields.reserve(7);
    put(*e, f_event_type, s_interaction);
    e->fields.push_back(FieldValue{f_interaction_id, Value(interaction_id(c.serial))});
    put(*e, f_queue, Q.cfg.name);
    put(*e, f_skill, Q.cfg.skill);
    put(*e, f_state, state);
    if (c.state != ContactState::Queued) {
      put(*e, f_agent_id, agents[c.agent].id);
      if (c.state == ContactState::Active)
        e->fields.push_back(FieldValue{f_wait, Value(static_cast<double>(c.answer_ms - c.arrival_ms) / 1000.0)});
    }
  }

  // The one `ended` or `abandoned` event of a contact, and its ground-truth line.
  void final_event(const Contact& c, bool ended) {
    if (!model.emit_interaction) return;
    Event* e = new_event();
    if (e == nullptr) return;
    const Queue& Q = queues[c.queue];
    const double wait_s = static_cast<double>((ended ? c.answer_ms : now) - c.arrival_ms) / 1000.0;
    const double handle_s = ended ? static_cast<double>(now - c.answer_ms) / 1000.0 : 0.0;
    std::string id = interaction_id(c.serial);
    e->fields.reserve(8);
    put(*e, f_event_type, s_interaction);
    e->fields.push_back(FieldValue{f_interaction_id, Value(id)});
    put(*e, f_queue, Q.cfg.name);
    put(*e, f_skill, Q.cfg.skill);
    put(*e, f_state, ended ? "ended" : "abandoned");
    if (ended) put(*e, f_agent_id, agents[c.agent].id);
    e->fields.push_back(FieldValue{f_wait, Value(wait_s)});
    if (ended) e->fields.push_back(FieldValue{f_handle, Value(handle_s)});
    if (gt_file == nullptr) return;
    std::string& o = gt_buf;
    o += "{\"interactionId\":";
    append_json_string(o, id);
    o += ",\"queue\":";
    append_json_string(o, Q.cfg.name);
    o += ",\"skill\":";
    append_json_string(o, Q.cfg.skill);
    o += ",\"agentId\":";
    if (ended)
      append_json_string(o, agents[c.agent].id);
    else
      o += "null";
    o += ended ? ",\"state\":\"ended\",\"arrival_ms\":" : ",\"state\":\"abandoned\",\"arrival_ms\":";
    append_int(o, c.arrival_ms);
    o += ",\"answer_ms\":";
    if (ended)
      append_int(o, c.answer_ms);
    else
      o += "null";
    o += ",\"end_ms\":";
    append_int(o, now);
    o += ",\"wait_s\":";
    append_double(o, wait_s);
    o += ",\"handle_s\":";
    if (ended)
      append_double(o, handle_s);
    else
      o += "null";
    o += ",\"event_time_ms\":";
    append_int(o, e->time_ms);
    o += "}\n";
    c_gt_lines.add();
    if (gt_buf.size() >= (1u << 20)) write_ground_truth();
  }

  void agent_event(const Agent& A, const char* reason) {
    if (!model.emit_agent) return;
    Event* e = new_event();
    if (e == nullptr) return;
    e->fields.reserve(8);
    put(*e, f_event_type, s_agent);
    put(*e, f_agent_id, A.id);
    put(*e, f_team, model.groups[A.group].name);
    put(*e, f_state, agent_state_name(A.state));
    put(*e, f_reason, reason);
    if (A.state == AgentState::Busy || A.state == AgentState::Wrapup) {
      const Contact& c = contacts[A.contact];
      e->fields.push_back(FieldValue{f_interaction_id, Value(interaction_id(c.serial))});
      put(*e, f_queue, queues[c.queue].cfg.name);
      put(*e, f_skill, queues[c.queue].cfg.skill);
    }
  }

  static const char* agent_state_name(AgentState s) {
    switch (s) {
      case AgentState::Available:
        return "available";
      case AgentState::Busy:
        return "busy";
      case AgentState::Wrapup:
        return "wrapup";
      case AgentState::Unavailable:
        return "unavailable";
      case AgentState::LoggedOut:
        return "logged_out";
    }
    return "?";
  }

  // ---- ground truth ----
  void open_ground_truth() {
    if (cfg.ground_truth.empty()) return;
    gt_file = std::fopen(cfg.ground_truth.c_str(), "w");
    if (gt_file == nullptr)
      throw std::runtime_error("ground_truth: cannot open '" + cfg.ground_truth +
                               "' for writing: " + std::strerror(errno));
    gt_buf.reserve(1u << 20);
  }
  void write_ground_truth() {
    if (gt_file == nullptr || gt_buf.empty()) return;
    const std::size_t n = std::fwrite(gt_buf.data(), 1, gt_buf.size(), gt_file);
    gt_buf.clear();
    if (n == 0 || std::ferror(gt_file)) {
      std::fclose(gt_file);
      gt_file = nullptr;
      throw std::runtime_error("ground_truth: writing '" + cfg.ground_truth + "' failed: " + std::strerror(errno));
    }
  }
  void close_ground_truth() {
    if (gt_file == nullptr) return;
    write_ground_truth();
    const bool bad = std::fflush(gt_file) != 0;
    std::fclose(gt_file);
    gt_file = nullptr;
    if (bad)
      throw std::runtime_error("ground_truth: flushing '" + cfg.ground_truth + "' failed: " + std::strerror(errno));
  }

  // ---- driving ----
  std::int64_t target_time() const {
    if (model.speed_factor <= 0) return kForever;
    const double elapsed = static_cast<double>(ctx->clock().steady_ms() - steady_start_ms);
    const double sim = elapsed * model.speed_factor;
    if (sim >= 9e15) return kForever;
    return start_ms + static_cast<std::int64_t>(sim);
  }

  // Cuts the first batch_size pending events into a batch; the rest stays pending.
  Batch cut_batch(std::int64_t watermark) {
    Batch b;
    if (pending.size() > batch_size) {
      std::vector<Event> rest(std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(batch_size)),
                              std::make_move_iterator(pending.end()));
      pending.resize(batch_size);
      b.events = std::move(pending);
      pending = std::move(rest);
    } else {
      b.events = std::move(pending);
      pending = {};
    }
    pending.reserve(batch_size + 16);
    b.watermark_ms = watermark;
    return b;
  }

  // One batch per call: it goes back through the strand between batches, so other work (and
  // stop()) interleaves, and the harness sees one batch per step.
  void step() {
    if (stopped || done) return;
    timer_armed = false;
    const std::int64_t target = target_time();
    bool caught_up = false;
    std::int64_t next = kForever;
    while (pending.size() < batch_size) {
      if (limit_reached) return finish(now);
      if (heap.empty() && end_ms == 0) return finish(now);  // nothing can ever happen again
      next = heap.empty() ? kForever : heap.front().t;
      if (end_ms != 0 && next >= end_ms) {
        if (end_ms <= target) return finish(end_ms);
        next = end_ms;
        caught_up = true;
        break;
      }
      if (next > target) {
        caught_up = true;
        break;
      }
      process_next();
    }
    if (limit_reached) return finish(now);
    // Every event still to come is at or after the watermark: `now` when the batch is full,
    // the paced target time when the simulation has caught up with the clock.
    std::int64_t wm = now;
    if (caught_up) {
      wm = std::max(now, target);
      if (pending.empty() && wm <= last_watermark) return arm_timer(next, target);
    }
    last_watermark = wm;
    if (!ctx->emit(cut_batch(wm))) return ctx->when_ready([this] { step(); });
    if (caught_up) return arm_timer(next, target);
    ctx->post([this] { step(); });
  }

  // Paced mode: wake up when the next event falls due, at least every 100 ms.
  void arm_timer(std::int64_t next, std::int64_t target) {
    std::int64_t delay = 100;
    if (next != kForever) {
      const double wall = static_cast<double>(next - target) / model.speed_factor;
      delay = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(wall)), 1, 100);
    }
    timer = ctx->start_timer(delay, [this] { step(); });
    timer_armed = true;
  }

  void finish(std::int64_t end_time) {
    done = true;
    now = std::max(now, end_time);
    while (pending.size() > batch_size) ctx->emit(cut_batch(now));
    Batch last = cut_batch(now);
    last.end_of_stream = true;
    close_ground_truth();
    log_summary("simulation finished");
    ctx->emit(std::move(last));
  }

  void log_summary(const char* what) {
    std::string m = std::string(what) + " at " + format_iso8601_ms(now) + ": " + std::to_string(c_arrived.value()) +
                    " contacts arrived, " + std::to_string(c_ended.value()) + " ended, " +
                    std::to_string(c_abandoned.value()) + " abandoned, " + std::to_string(accepted) + " events";
    if (logout_shortfall > 0)
      m += "; " + std::to_string(logout_shortfall) + " scenario logout step(s) found fewer agents than asked";
    ctx->log(LogLevel::Info, m);
  }

  void start(SourceContext& c) {
    ctx = &c;
    open_ground_truth();
    steady_start_ms = c.clock().steady_ms();
    initialize(model.start_ms ? *model.start_ms : c.clock().wall_ms());
    c.post([this] { step(); });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    if (done || ctx == nullptr) return;
    if (timer_armed) ctx->cancel_timer(timer);
    if (!pending.empty()) {
      while (!pending.empty()) ctx->emit(cut_batch(now));
    }
    close_ground_truth();
    log_summary("simulation stopped");
  }

  ~Impl() {
    if (gt_file != nullptr) std::fclose(gt_file);
  }

  Config cfg;
  Model model;
  FieldId f_event_type, f_interaction_id, f_agent_id, f_queue, f_skill, f_team, f_state, f_reason, f_wait, f_handle,
      f_queue_length, f_agents_available, f_longest_wait, f_service_level;
  Counter &c_arrived, &c_answered, &c_abandoned, &c_ended, &c_gt_lines;
  const std::string s_interaction = "interaction", s_agent = "agent", s_queue = "queue";
  std::string id_prefix;
  std::size_t batch_size = 512;

  std::vector<Queue> queues;
  std::vector<Agent> agents;
  std::vector<std::int64_t> group_next_number;
  std::vector<Contact> contacts;
  std::vector<std::uint32_t> free_slots;
  std::vector<Scheduled> heap;
  std::uint64_t seq = 0;
  std::uint64_t serial = 0;
  std::int64_t start_ms = 0, now = 0, end_ms = 0;
  std::uint64_t logout_shortfall = 0;

  SourceContext* ctx = nullptr;
  std::vector<Event> pending;
  std::uint64_t accepted = 0;
  bool limit_reached = false;
  bool done = false, stopped = false;
  std::int64_t steady_start_ms = 0;
  std::int64_t last_watermark = kNoWatermark;
  TimerId timer = 0;
  bool timer_armed = false;

  std::FILE* gt_file = nullptr;
  std::string gt_buf;
};

SimulatorSource::SimulatorSource(const Config& cfg, Setup& setup) : impl_(std::make_unique<Impl>(cfg, setup)) {}
SimulatorSource::~SimulatorSource() = default;
void SimulatorSource::start(SourceContext& ctx) { impl_->start(ctx); }
void SimulatorSource::stop() { impl_->stop(); }

}  // namespace cxflow::sim
