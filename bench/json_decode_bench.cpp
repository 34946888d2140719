// cxflow-json-bench [N] [--seed S]
// Decodes N seed-shaped event lines held in memory with cxflow::JsonEventDecoder on one core and
// prints events/s (target: >= 1.5M/s with the replay pipeline's projection). For scale it also
// times a bare simdjson On-Demand walk of the same lines (every key visited, the five fields the
// pipeline uses read, nothing stored): the decoder's overhead is the difference.
//
// Each measurement runs 3 passes over the lines and reports the median pass, by wall time and by
// the thread's CPU time (on a shared machine the CPU-time rate is the one to compare: it does not
// count the time the thread waited for a core).
#include <simdjson.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/event.hpp"
#include "cxflow/json_events.hpp"
#include "seed_events.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Lines {
  std::string text;                                            // all lines, '\n'-separated, followed by kPadding bytes
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // offset, length
};

Lines make_lines(std::size_t n, std::uint64_t seed) {
  Lines l;
  cxflow::bench::SeedEventGenerator gen(seed);
  l.spans.reserve(n);
  l.text.reserve(n * 230);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = l.text.size();
    gen.append(l.text);
    l.spans.emplace_back(static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(l.text.size() - at - 1));
  }
  l.text.append(cxflow::JsonEventDecoder::kPadding, '\0');
  return l;
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Timing {
  double wall_s, cpu_s;
};

// Runs `pass` 3 times; returns the median wall and the median CPU seconds.
Timing median_pass(const std::function<std::uint64_t()>& pass, std::uint64_t& check) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_s();
    check += pass();
    cpu.push_back(thread_cpu_s() - c0);
    wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[1], cpu[1]};
}

void report(const char* what, std::size_t n, std::size_t bytes, Timing t) {
  std::printf("%-46s %6.2f M/s wall %6.2f M/s CPU %7.0f MB/s CPU\n", what, static_cast<double>(n) / t.wall_s / 1e6,
              static_cast<double>(n) / t.cpu_s / 1e6, static_cast<double>(bytes) / t.cpu_s / 1e6);
}

namespace od = simdjson::ondemand;

std::uint64_t bare_simdjson(const Lines& l) {
  od::parser parser;
  std::uint64_t sum = 0;
  for (auto [off, len] : l.spans) {
    const char* p = l.text.data() + off;
    od::document doc;
    if (parser.iterate(p, len, len + simdjson::SIMDJSON_PADDING).get(doc)) continue;
    od::object obj;
    if (doc.get_object().get(obj)) continue;
    for (auto f : obj) {
      od::field field;
      if (std::move(f).get(field)) break;
      const auto key = field.key();
      if (key.unsafe_is_equal("eventType") || key.unsafe_is_equal("timestamp")) {
        std::string_view s;
        if (!field.value().get_string().get(s)) sum += s.size();
      } else if (key.unsafe_is_equal("metrics") || key.unsafe_is_equal("metadata")) {
        od::object m;
        if (field.value().get_object().get(m)) break;
        for (auto mf : m) {
          od::field f2;
          if (std::move(mf).get(f2)) break;
          const auto k2 = f2.key();
          if (k2.unsafe_is_equal("state") || k2.unsafe_is_equal("queue")) {
            std::string_view s;
            if (!f2.value().get_string().get(s)) sum += s.size();
          } else if (k2.unsafe_is_equal("handleTime") || k2.unsafe_is_equal("waitTime")) {
            double d;
            if (!f2.value().get_double().get(d)) sum += static_cast<std::uint64_t>(d);
          }
        }
      }
    }
  }
  return sum;
}

std::uint64_t decode_all(const Lines& l, cxflow::JsonEventDecoder& dec, bool padded, std::uint64_t& errors) {
  cxflow::Event ev;
  std::uint64_t sum = 0;
  for (auto [off, len] : l.spans) {
    const std::string_view line(l.text.data() + off, len);
    const auto r = padded ? dec.decode_padded(line, ev) : dec.decode(line, ev);
    if (r != cxflow::JsonDecodeResult::ok) {
      ++errors;
      continue;
    }
    sum += ev.fields.size() + static_cast<std::uint64_t>(ev.time_ms & 0xff);
  }
  return sum;
}

// A realistic batch loop: decode into the events of a 1024-event batch, reusing them (the
// capacity of each event's field vector and strings survives), like source-replay does.
std::uint64_t decode_batches(const Lines& l, cxflow::JsonEventDecoder& dec) {
  std::vector<cxflow::Event> batch(1024);
  std::size_t i = 0;
  std::uint64_t sum = 0;
  for (auto [off, len] : l.spans) {
    if (dec.decode_padded(std::string_view(l.text.data() + off, len), batch[i]) == cxflow::JsonDecodeResult::ok) ++i;
    if (i == batch.size()) {
      sum += batch.back().fields.size();
      i = 0;
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 1'000'000;
  std::uint64_t seed = 42;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    std::uint64_t v = 0;
    const bool num = std::from_chars(a.data(), a.data() + a.size(), v).ec == std::errc();
    if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (num && v > 0) {
      n = v;
    } else {
      std::fprintf(stderr, "usage: cxflow-json-bench [N] [--seed S]\n");
      return 64;
    }
  }
  const Lines lines = make_lines(n, seed);
  const std::size_t bytes = lines.text.size() - cxflow::JsonEventDecoder::kPadding;
  std::printf("cxflow-json-bench: %zu seed-shaped lines, %.1f MB (%.0f bytes/line), one thread, median of 3 passes\n",
              n, static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / static_cast<double>(n));

  // The replay pipeline's field table: what filter-interaction, aggregate-window and sink-sqlite
  // intern (input fields plus the aggregate's output names, which never occur in the input).
  cxflow::FieldTable pipeline_fields;
  for (const char* f : {"eventType", "metrics.state", "metrics.handleTime", "metrics.waitTime", "metadata.queue",
                        "contacts", "avg_handle_time", "avg_wait_time", "service_level"})
    pipeline_fields.intern(f);
  pipeline_fields.freeze();
  // Every field of the seed shape kept.
  cxflow::FieldTable all_fields;
  for (const char* f :
       {"eventType", "interactionId", "agentId", "metrics.state", "metrics.handleTime", "metrics.waitTime",
        "metrics.queueTime", "metrics.reason", "metrics.queueLength", "metrics.agentsAvailable", "metrics.longestWait",
        "metrics.serviceLevel", "metadata.queue", "metadata.skill"})
    all_fields.intern(f);
  all_fields.freeze();

  std::uint64_t check = 0, errors = 0;
  report("bare simdjson On-Demand walk (yardstick)", n, bytes,
         median_pass([&] { return bare_simdjson(lines); }, check));
  {
    cxflow::JsonEventDecoder dec(pipeline_fields);
    report("JsonEventDecoder.decode_padded, 5 fields", n, bytes,
           median_pass([&] { return decode_all(lines, dec, true, errors); }, check));
    report("JsonEventDecoder.decode (copying), 5 fields", n, bytes,
           median_pass([&] { return decode_all(lines, dec, false, errors); }, check));
    report("JsonEventDecoder into 1024-event batches", n, bytes,
           median_pass([&] { return decode_batches(lines, dec); }, check));
  }
  {
    cxflow::JsonEventDecoder dec(all_fields);
    report("JsonEventDecoder.decode_padded, all 14 fields", n, bytes,
           median_pass([&] { return decode_all(lines, dec, true, errors); }, check));
  }
  if (errors) std::printf("decode errors: %llu (unexpected)\n", static_cast<unsigned long long>(errors));
  std::printf("target: >= 1.5 M events/s for the 5-field decode_padded (checksum %llu)\n",
              static_cast<unsigned long long>(check));
  return errors ? 1 : 0;
}
