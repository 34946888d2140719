// Throughput of aggregate-window through the harness (the real .so), on the per_minute
// transform of DESIGN.md. Not a test: run it by hand, it prints events per CPU second spent in the
// plugin calls (event generation excluded; destroying the input batch included).
//
//   build-x/bin/aggregate_window_bench [events] [queues]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cxflow/testing.hpp"

using cxflow::Event;
using cxflow::Value;
using cxflow::testing::Harness;

namespace {

// CPU time of this thread: robust on a shared machine where wall time depends on the neighbours.
std::chrono::nanoseconds cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

double run(const std::string& name, const std::string& yaml, long events, int queues) {
  Harness h = Harness::load("aggregate-window", yaml,
                            {"eventType", "timestamp", "interactionId", "agentId", "metadata.queue", "metadata.skill",
                             "metrics.state", "metrics.waitTime", "metrics.handleTime"});
  h.start();
  const std::int64_t t0 = 1'767'225'600'000;
  const char* states[] = {"ended", "ended", "ended", "abandoned"};
  std::vector<std::string> queue_names, agent_names;
  for (int q = 0; q < queues; ++q) queue_names.push_back("queue-" + std::to_string(q));
  for (int a = 0; a < 300; ++a) agent_names.push_back("agent-" + std::to_string(a));
  std::chrono::nanoseconds spent{0};
  std::size_t out = 0;
  std::uint64_t x = 88172645463325252ULL;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (long i = 0; i < events;) {
    std::vector<Event> batch;
    batch.reserve(256);
    for (int k = 0; k < 256 && i < events; ++k, ++i) {
      const std::uint64_t r = rnd();
      const char* state = states[r % 4];
      auto b = h.event(t0 + i * 2);  // 500 events/s of event time: 30k per 60s window
      b.set("eventType", "interaction")
          .set("timestamp", "2026-01-01T00:00:00Z")
          .set("interactionId", "c-" + std::to_string(i))
          .set("agentId", agent_names[(r >> 8) % agent_names.size()])
          .set("metadata.queue", queue_names[(r >> 20) % queue_names.size()])
          .set("metadata.skill", "en")
          .set("metrics.state", state)
          .set("metrics.waitTime", Value(static_cast<double>((r >> 32) % 120)));
      if (state[0] == 'e') b.set("metrics.handleTime", static_cast<int>((r >> 40) % 600));
      batch.push_back(b.build());
    }
    const std::int64_t wm = batch.back().time_ms;
    const auto start = cpu_now();
    h.push(std::move(batch));
    h.watermark(wm);
    spent += cpu_now() - start;
    out += h.take().size();
  }
  const auto start = cpu_now();
  h.end_of_stream();
  spent += cpu_now() - start;
  out += h.take().size();
  const double secs = std::chrono::duration<double>(spent).count();
  const double rate = static_cast<double>(events) / secs;
  std::printf("%-34s %9ld events, %3d queues: %6.3f s CPU in the plugin, %6.2f M events/s, %zu rows out\n",
              name.c_str(), events, queues, secs, rate / 1e6, out);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  const int queues = argc > 2 ? std::atoi(argv[2]) : 8;
  run("count only", "window: 60s\nmetrics: {n: count}\n", events, queues);
  run("count by queue", "window: 60s\ngroup_by: [metadata.queue]\nmetrics: {n: count}\n", events, queues);
  run("DESIGN.md per_minute (7 metrics)",
      "window: 60s\n"
      "group_by: [metadata.queue]\n"
      "metrics:\n"
      "  contacts: count\n"
      "  avg_handle_time: avg(metrics.handleTime) where metrics.state == ended\n"
      "  avg_wait_time: avg(metrics.waitTime)\n"
      "  p90_wait_time: p90(metrics.waitTime)\n"
      "  service_level: ratio(metrics.waitTime <= 20)\n"
      "  abandon_rate: ratio(metrics.state == abandoned)\n"
      "  active_agents: count_distinct(agentId)\n",
      events, queues);
  run("count_distinct(interactionId)",
      "window: 60s\ngroup_by: [metadata.queue]\nmetrics: {n: count_distinct(interactionId)}\n", events, queues);
  return 0;
}
