// cxflow-gen-events N OUT.jsonl [--seed S]
// Writes N deterministic seed-shaped CXone events (see seed_events.hpp), one JSON object per line.
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "seed_events.hpp"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: cxflow-gen-events N OUT.jsonl [--seed S]\n"
               "  writes N deterministic seed-shaped events (JSON lines); OUT '-' is stdout\n");
  return 64;
}

bool parse_u64(std::string_view s, std::uint64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 0, seed = 42;
  const char* out_path = nullptr;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      if (!parse_u64(argv[++i], seed)) return usage();
    } else if (positional == 0) {
      if (!parse_u64(a, n)) return usage();
      ++positional;
    } else if (positional == 1) {
      out_path = argv[i];
      ++positional;
    } else {
      return usage();
    }
  }
  if (positional != 2) return usage();

  std::FILE* f = std::strcmp(out_path, "-") == 0 ? stdout : std::fopen(out_path, "wb");
  if (!f) {
    std::fprintf(stderr, "cxflow-gen-events: cannot open %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  cxflow::bench::SeedEventGenerator gen(seed);
  std::string buf;
  constexpr std::size_t kFlushBytes = 4 << 20;
  buf.reserve(kFlushBytes + 4096);
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    gen.append(buf);
    if (buf.size() >= kFlushBytes) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) break;
      bytes += buf.size();
      buf.clear();
    }
  }
  if (!buf.empty() && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size()) bytes += buf.size();
  const bool ok = std::ferror(f) == 0 && (f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0);
  if (!ok) {
    std::fprintf(stderr, "cxflow-gen-events: write to %s failed: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "cxflow-gen-events: %llu events, %.1f MB, %.2f s simulated, in %.2f s\n",
               static_cast<unsigned long long>(n), static_cast<double>(bytes) / 1e6,
               static_cast<double>(gen.time_ms() - 1'767'600'000'000) / 1000.0, secs);
  return 0;
}
