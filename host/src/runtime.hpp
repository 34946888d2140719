// Runs a configured pipeline on Boost.Asio: one strand per component, placed on the io_context
// of one worker thread (placement local) or of a shared pool (placement shared); bounded queues of
// batches between them, backpressure to the sources, in-band watermarks and end-of-stream,
// and a clean drain on shutdown.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "pipeline.hpp"

namespace cxflow::host {

struct RunOptions {
  bool status_line = false;   // live status line on a terminal
  bool handle_signals = true; // SIGINT/SIGTERM drain; a second one exits at once
};

class Runtime {
 public:
  Runtime(Pipeline& pipeline, RunOptions options);
  ~Runtime();
  // Runs until every sink has finished. Returns the process exit code: 0 after a clean end or
  // drain, 1 after a component failure, 2 when the drain timed out.
  int run();
  // Starts a drain as a signal would (thread-safe).
  void request_stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxflow::host
