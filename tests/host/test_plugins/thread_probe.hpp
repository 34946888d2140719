// Which threads call a test plugin, as counters the host prints in its summary: `thread` = the
// kernel thread id of the latest call, `threads_seen` = how many different threads made calls.
// A component is called by one thread at a time (its strand), so no lock is needed here.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cxflow/plugin.hpp>

#include <cstdint>
#include <set>

class ThreadProbe {
 public:
  explicit ThreadProbe(cxflow::Setup& s) : thread_(s.counter("thread")), seen_(s.counter("threads_seen")) {}
  void touch() {
    const auto tid = static_cast<std::uint64_t>(::gettid());
    thread_.set(tid);
    if (tids_.insert(tid).second) seen_.set(tids_.size());
  }

 private:
  cxflow::Counter& thread_;
  cxflow::Counter& seen_;
  std::set<std::uint64_t> tids_;
};
