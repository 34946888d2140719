// Runs a configured pipeline on Boost.Asio: one strand per component, placed on the io_context
// of one worker thread (placement local) or of a shared pool (placement shared); bounded queues of
// batches between them, backpressure to the sources, in-band watermarks and end-of-stream,
// and a clean drain on shutdown. Each component is called through the dispatch core
// (dispatch.hpp); signals, the status line and the watchdog run on a control thread of their own
// that no component runs on. Time comes from a TimeService (time_service.hpp): the system's, or
// virtual time for tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "pipeline.hpp"

namespace cxflow::host {

class TimeService;

struct RunOptions {
  bool status_line = false;     // live status line on a terminal
  bool handle_signals = true;   // SIGINT/SIGTERM drain; a second one exits at once
  TimeService* time = nullptr;  // the clock and timers; nullptr: the system's (real_time())
};

class Runtime {
 public:
  Runtime(Pipeline& pipeline, RunOptions options);
  ~Runtime();
  // Runs until every sink has finished. Returns the process exit code: 0 after a clean end or
  // drain, 1 after a component failure, 2 when the drain timed out. (If a component does not
  // return from its call even then, the process exits with 2 by itself; a second signal exits
  // with 130.)
  int run();
  // Starts a drain as a signal would (thread-safe).
  void request_stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxflow::host
