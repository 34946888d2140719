// Deterministic generator of seed-shaped CXone events (one JSON object per line), shared by
// cxflow-gen-events and cxflow-json-bench.
//
// Shape (the CXone seed tutorial's events, normalized schema of docs/DESIGN):
//   {"eventType":"interaction","timestamp":"2026-01-05T08:00:01.250Z","interactionId":"c-123",
//    "agentId":"agent-7","metrics":{"handleTime":245.5,"waitTime":12.0,"state":"ended","queueTime":3},
//    "metadata":{"queue":"sales","skill":"sales"}}
// Mix: ~90% interaction events (a pool of ~800 open contacts, each walking queued -> active ->
// [hold -> active] -> wrapup -> ended, or queued -> abandoned), ~6% agent events, ~4% queue
// snapshots; 4 queues, 50 agents; event time starts at 2026-01-05T08:00:00Z and advances 0..10 ms
// per event (~200 events per simulated second, non-decreasing).
//
// Everything is computed from a splitmix64/xorshift stream with integer arithmetic (no <random>
// distributions, whose output differs between standard libraries), so a seed gives the same
// bytes everywhere.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace cxflow::bench {

class SeedEventGenerator {
 public:
  explicit SeedEventGenerator(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    for (int i = 0; i < 8; ++i) next();
    open_.reserve(kOpenContacts + 1);
  }

  // Appends one event and a '\n' to `out`.
  void append(std::string& out) {
    time_ms_ += static_cast<std::int64_t>(below(11));
    const std::uint32_t kind = below(100);
    if (kind < 6)
      agent_event(out);
    else if (kind < 10)
      queue_event(out);
    else
      interaction_event(out);
  }

  std::int64_t time_ms() const noexcept { return time_ms_; }

 private:
  static constexpr std::size_t kOpenContacts = 800;
  static constexpr int kAgents = 50;
  static constexpr const char* kQueues[] = {"sales", "support", "billing", "retention"};
  static constexpr std::uint32_t kQueueWeights[] = {35, 40, 15, 10};  // percent
  static constexpr const char* kAgentStates[] = {"available", "busy", "wrapup", "unavailable", "logged_out"};
  static constexpr const char* kReasons[] = {"", "", "", "break", "end_of_shift"};

  enum class State : std::uint8_t { queued, active, hold, wrapup };
  struct Contact {
    std::uint64_t id;
    std::uint8_t queue;
    std::uint8_t agent;
    State state;
    bool will_abandon;
    bool will_hold;
    std::uint32_t wait_tenths;    // final wait time, 0.1 s
    std::uint32_t handle_tenths;  // final handle time, 0.1 s
    std::uint32_t steps;          // events emitted so far
  };

  std::uint64_t next() noexcept {  // splitmix64
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) noexcept { return static_cast<std::uint32_t>((next() >> 32) * n >> 32); }

  // Roughly exponential with the given mean, integer-only: sum of a geometric-ish draw.
  std::uint32_t skewed(std::uint32_t mean) noexcept {
    // Mixture of three uniforms gives a right-skewed shape with the requested mean.
    const std::uint32_t r = below(100);
    if (r < 60) return below(mean + 1);             // mean/2
    if (r < 90) return mean / 2 + below(mean * 2);  // 1.5 mean
    return mean * 2 + below(mean * 2 + 1);          // 3 mean
  }

  std::uint8_t pick_queue() noexcept {
    std::uint32_t r = below(100);
    for (std::uint8_t q = 0; q < 4; ++q) {
      if (r < kQueueWeights[q]) return q;
      r -= kQueueWeights[q];
    }
    return 0;
  }

  // --- formatting -------------------------------------------------------------------------
  static void put(std::string& out, const char* s) { out.append(s); }
  static void put_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
  static void put_tenths(std::string& out, std::uint32_t tenths) {  // 245.5, 12.0
    put_uint(out, tenths / 10);
    out.push_back('.');
    out.push_back(static_cast<char>('0' + tenths % 10));
  }
  static void put_2(char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  static void civil(std::int64_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe + era * 400 + (m <= 2));
  }
  void put_time(std::string& out) {
    const std::int64_t sec = time_ms_ / 1000;
    if (sec != cached_sec_) {  // "2026-01-05T08:00:01" changes once per second
      cached_sec_ = sec;
      int y;
      unsigned m, d;
      civil(sec / 86400, y, m, d);
      const unsigned s = static_cast<unsigned>(sec % 86400);
      char* p = cached_prefix_;
      put_2(p, static_cast<unsigned>(y / 100));
      put_2(p + 2, static_cast<unsigned>(y % 100));
      p[4] = '-';
      put_2(p + 5, m);
      p[7] = '-';
      put_2(p + 8, d);
      p[10] = 'T';
      put_2(p + 11, s / 3600);
      p[13] = ':';
      put_2(p + 14, s / 60 % 60);
      p[16] = ':';
      put_2(p + 17, s % 60);
    }
    const unsigned ms = static_cast<unsigned>(time_ms_ % 1000);
    char tail[6] = {'.',
                    static_cast<char>('0' + ms / 100),
                    static_cast<char>('0' + ms / 10 % 10),
                    static_cast<char>('0' + ms % 10),
                    'Z',
                    '"'};
    out.append(cached_prefix_, 19);
    out.append(tail, 6);
  }
  void head(std::string& out, const char* type) {
    put(out, "{\"eventType\":\"");
    put(out, type);
    put(out, "\",\"timestamp\":\"");
    put_time(out);
  }
  void put_agent(std::string& out, unsigned agent) {
    put(out, ",\"agentId\":\"agent-");
    put_uint(out, agent);
    out.push_back('"');
  }
  void put_metadata(std::string& out, std::uint8_t q) {
    put(out, ",\"metadata\":{\"queue\":\"");
    put(out, kQueues[q]);
    put(out, "\",\"skill\":\"");
    put(out, kQueues[q]);
    put(out, "\"}}\n");
  }

  // --- events -----------------------------------------------------------------------------
  void agent_event(std::string& out) {
    const unsigned agent = 1 + below(kAgents);
    const std::uint32_t s = below(100);
    const unsigned st = s < 40 ? 0 : s < 75 ? 1 : s < 90 ? 2 : s < 97 ? 3 : 4;
    head(out, "agent");
    put_agent(out, agent);
    put(out, ",\"metrics\":{\"state\":\"");
    put(out, kAgentStates[st]);
    put(out, "\",\"reason\":\"");
    put(out, kReasons[st]);
    put(out, "\"}");
    put_metadata(out, static_cast<std::uint8_t>(agent % 4));
  }

  void queue_event(std::string& out) {
    const std::uint8_t q = pick_queue();
    head(out, "queue");
    put(out, ",\"metrics\":{\"queueLength\":");
    put_uint(out, below(25));
    put(out, ",\"agentsAvailable\":");
    put_uint(out, below(12));
    put(out, ",\"longestWait\":");
    put_tenths(out, skewed(300));
    put(out, ",\"serviceLevel\":0.");
    const unsigned sl = 50 + below(50);
    put_2(sl_buf_, sl);
    out.append(sl_buf_, 2);
    out.push_back('}');
    put_metadata(out, q);
  }

  void interaction_event(std::string& out) {
    if (open_.size() < kOpenContacts) {
      Contact c{};
      c.id = ++last_contact_;
      c.queue = pick_queue();
      c.agent = static_cast<std::uint8_t>(1 + below(kAgents));
      c.state = State::queued;
      c.will_abandon = below(100) < 9;
      c.will_hold = below(100) < 20;
      c.wait_tenths = skewed(c.will_abandon ? 600 : 180);  // ~60 s / ~18 s
      c.handle_tenths = 300 + skewed(2400);                // ~4 min
      c.steps = 0;
      write_interaction(out, c, "queued", false);
      open_.push_back(c);
      return;
    }
    const std::size_t i = below(static_cast<std::uint32_t>(open_.size()));
    Contact& c = open_[i];
    bool done = false;
    switch (c.state) {
      case State::queued:
        if (c.will_abandon) {
          write_interaction(out, c, "abandoned", true);
          done = true;
        } else {
          c.state = State::active;
          write_interaction(out, c, "active", false);
        }
        break;
      case State::active:
        if (c.will_hold) {
          c.will_hold = false;
          c.state = State::hold;
          write_interaction(out, c, "hold", false);
        } else {
          c.state = State::wrapup;
          write_interaction(out, c, "wrapup", false);
        }
        break;
      case State::hold:
        c.state = State::active;
        write_interaction(out, c, "active", false);
        break;
      case State::wrapup:
        write_interaction(out, c, "ended", true);
        done = true;
        break;
    }
    if (done) {
      open_[i] = open_.back();
      open_.pop_back();
    }
  }

  void write_interaction(std::string& out, Contact& c, const char* state, bool final) {
    ++c.steps;
    head(out, "interaction");
    put(out, ",\"interactionId\":\"c-");
    put_uint(out, c.id);
    out.push_back('"');
    if (c.state != State::queued) put_agent(out, c.agent);  // answered: the agent is known
    // Running times on intermediate events (the seed stream's habit), final ones on the last.
    std::uint32_t wait = c.wait_tenths, handle = 0;
    if (!final) {
      if (c.state == State::queued) wait = c.wait_tenths * c.steps / 4;
      handle = c.state == State::queued ? 0 : c.handle_tenths * (c.steps - 1) / 5;
    } else if (std::strcmp(state, "ended") == 0) {
      handle = c.handle_tenths;
    }
    put(out, ",\"metrics\":{\"handleTime\":");
    put_tenths(out, handle);
    put(out, ",\"waitTime\":");
    put_tenths(out, wait);
    put(out, ",\"state\":\"");
    put(out, state);
    put(out, "\",\"queueTime\":");
    put_uint(out, wait / 10);
    out.push_back('}');
    put_metadata(out, c.queue);
  }

  std::uint64_t state_;
  std::int64_t time_ms_ = 1'767'600'000'000;  // 2026-01-05T08:00:00Z
  std::int64_t cached_sec_ = -1;
  char cached_prefix_[19] = {};
  char sl_buf_[2] = {};
  std::uint64_t last_contact_ = 0;
  std::vector<Contact> open_;
};

}  // namespace cxflow::bench
