// Decode throughput of JsonEventDecoder on seed-shaped events (one core). Not a timed test:
// run it by hand, e.g. build-*/bin/json_decode_measure 1000000.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cxflow/json_events.hpp"

// CPU time of this thread: the machine is shared, wall time would measure the neighbours.
static double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  cxflow::FieldTable table;
  for (const char* f : {"eventType", "interactionId", "agentId", "metadata.queue", "metadata.skill", "metrics.state",
                        "metrics.waitTime", "metrics.handleTime"})
    table.intern(f);
  table.freeze();
  cxflow::JsonEventDecoder decoder(table);

  // A buffer of distinct lines, as a file read into memory would be (padding at the end).
  const char* states[] = {"queued", "active", "hold", "wrapup", "ended", "abandoned"};
  const char* queues[] = {"sales", "support", "billing", "vip"};
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> lines;
  const long distinct = 10'000;
  char buf[512];
  for (long i = 0; i < distinct; ++i) {
    const int len = std::snprintf(
        buf, sizeof buf,
        "{\"eventType\":\"interaction\",\"timestamp\":\"2026-01-05T08:%02ld:%02ld.%03ldZ\",\"interactionId\":\"c-%ld\","
        "\"agentId\":\"agent-%ld\",\"metrics\":{\"handleTime\":%ld.5,\"waitTime\":%ld.0,\"state\":\"%s\",\"queueTime\":"
        "3},"
        "\"metadata\":{\"queue\":\"%s\",\"skill\":\"%s\"}}",
        (i / 60) % 60, i % 60, i % 1000, i, i % 50, 100 + i % 300, i % 90, states[i % 6], queues[i % 4], queues[i % 4]);
    lines.emplace_back(text.size(), static_cast<std::size_t>(len));
    text.append(buf, static_cast<std::size_t>(len));
    text.push_back('\n');
  }
  text.append(cxflow::JsonEventDecoder::kPadding, ' ');

  std::vector<cxflow::Event> events(1024);
  std::size_t bytes = 0, fields = 0;
  long failures = 0;
  const double t0 = cpu_seconds();
  for (long i = 0; i < n; ++i) {
    const auto& [off, len] = lines[static_cast<std::size_t>(i % distinct)];
    cxflow::Event& e = events[static_cast<std::size_t>(i) % events.size()];
    e = cxflow::Event{};  // a fresh event per line, as a source emitting batches has
    if (decoder.decode_padded(std::string_view(text.data() + off, len), e) != cxflow::JsonDecodeResult::ok) ++failures;
    bytes += len;
    fields += e.fields.size();
  }
  const double s = cpu_seconds() - t0;
  std::printf("decode_padded: %ld events in %.3f s CPU = %.2f M events/s, %.0f MB/s, %.1f fields/event, %ld failures\n",
              n, s, n / s / 1e6, bytes / s / 1e6, double(fields) / n, failures);

  // The copying entry point, for comparison.
  const double t1 = cpu_seconds();
  for (long i = 0; i < n; ++i) {
    const auto& [off, len] = lines[static_cast<std::size_t>(i % distinct)];
    cxflow::Event& e = events[static_cast<std::size_t>(i) % events.size()];
    e = cxflow::Event{};
    if (decoder.decode(std::string_view(text.data() + off, len), e) != cxflow::JsonDecodeResult::ok) ++failures;
  }
  const double s2 = cpu_seconds() - t1;
  std::printf("decode (copy): %ld events in %.3f s = %.2f M events/s\n", n, s2, n / s2 / 1e6);
  return failures == 0 ? 0 : 1;
}
