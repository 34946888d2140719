// cxflow-baseline IN.jsonl OUT.db
//
// The no-framework yardstick for bench/pipelines/replay-bench.yaml: the same work in one loop on
// one thread, written to be fast, so that the cxflow/baseline ratio is honest.
//
//   read the file in 4 MiB chunks (read(2), no stdio, no per-line copies)
//   -> each line parsed in place, filtered, aggregated into 60 s windows per queue and upserted
//      into SQLite's queue_minutes, as queue_minutes.hpp describes (shared with
//      cxflow-cxone-baseline)
// Prints "baseline: S s, N events in (R/s), W rows written" plus details on stderr.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include "queue_minutes.hpp"

namespace {
constexpr std::size_t kChunkBytes = 4 << 20;
}  // namespace

int main(int argc, char** argv) {
  program_name = "cxflow-baseline";
  if (argc != 3) {
    std::fprintf(stderr, "usage: cxflow-baseline IN.jsonl OUT.db\n");
    return 64;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(std::string("cannot open ") + argv[1] + ": " + std::strerror(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Pipeline pipeline(argv[2]);

  // buf = [carried partial line][new data] + padding; a line longer than the buffer grows it.
  std::size_t cap = kChunkBytes;
  auto buf = std::make_unique<char[]>(cap + simdjson::SIMDJSON_PADDING);
  std::size_t have = 0;
  for (;;) {
    if (have == cap) {  // one line fills the buffer: grow
      auto bigger = std::make_unique<char[]>(cap * 2 + simdjson::SIMDJSON_PADDING);
      std::memcpy(bigger.get(), buf.get(), have);
      buf = std::move(bigger);
      cap *= 2;
    }
    const ssize_t n = ::read(fd, buf.get() + have, cap - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      die(std::string("read: ") + std::strerror(errno));
    }
    const bool eof = n == 0;
    have += static_cast<std::size_t>(n);
    const char* p = buf.get();
    const char* end = p + have;
    char* const buf_end = buf.get() + cap + simdjson::SIMDJSON_PADDING;
    for (;;) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!nl) break;
      std::size_t len = static_cast<std::size_t>(nl - p);
      if (len && p[len - 1] == '\r') --len;
      pipeline.line(p, len, static_cast<std::size_t>(buf_end - p));
      p = nl + 1;
    }
    if (eof) {
      if (p != end) {  // last line without '\n'
        std::memset(const_cast<char*>(end), 0, simdjson::SIMDJSON_PADDING);
        pipeline.line(p, static_cast<std::size_t>(end - p), static_cast<std::size_t>(buf_end - p));
      }
      break;
    }
    have = static_cast<std::size_t>(end - p);
    std::memmove(buf.get(), p, have);
  }
  ::close(fd);
  pipeline.finish();
  pipeline.report("baseline", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
