// The dispatch core: the rules by which the host calls one component, shared by the runtime
// (host/src/runtime.cpp, on a strand) and the plugin test harness (host/src/testing, on the
// caller's thread), so a plugin's unit tests see exactly the call sequences a pipeline produces.
//
// - Watermarks: each input's watermark only rises; the component sees the minimum over the inputs
//   that have not ended, and only when that minimum increases. A transform's output carries it on.
// - End of stream: counted per input; when every input ended, the component is flushed
//   (on_end_of_stream) and end-of-stream goes downstream.
// - Output: what a transform emits during one call goes downstream in batches of at most
//   `batch_events` (a larger emit is split), then the watermark.
// - Failure: a failed call (or Context::fail) stops the component at once: downstream gets
//   end-of-stream (so it commits what it accepted), later input is counted as dropped, and the
//   plugin gets no more calls except the final stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cxflow/plugin.hpp"

namespace cxflow::host {

// What a driver needs from whoever runs it. Called on the component's logical thread.
class DispatchHost {
 public:
  virtual ~DispatchHost() = default;
  // Sends a batch downstream (events, and/or a watermark, and/or end-of-stream). Returns whether
  // every consumer still has room.
  virtual bool deliver(Batch&& batch) = 0;
  // The component failed in `call` ("process", "start"...; nullptr for Context::fail()).
  virtual void failed(const char* call, std::string_view message) = 0;
  // A sink has finished: every input ended and it committed, or it failed.
  virtual void sink_finished() {}
  // A source has ended (end-of-stream sent downstream): its timers may go.
  virtual void source_ended() {}
};

// The counters the host keeps for every component.
struct DispatchCounters {
  Counter& events_in;
  Counter& events_out;
  Counter& dropped;
  Counter& errors;
  Counter& copied;  // events copied because a transform that may modify its batch shares it
};

class ComponentDriver {
 public:
  ComponentDriver(InstanceBase& instance, std::size_t inputs, std::size_t batch_events, DispatchHost& host,
                  DispatchCounters counters);
  ComponentDriver(const ComponentDriver&) = delete;
  ComponentDriver& operator=(const ComponentDriver&) = delete;

  Kind kind() const noexcept { return kind_; }
  bool started() const noexcept { return started_; }
  bool failed() const noexcept { return failed_; }
  bool finished() const noexcept { return finished_; }
  std::int64_t watermark() const noexcept { return current_wm_; }

  // Starts a transform or sink with `ctx`, a source with `source_ctx`.
  void start(Context& ctx);
  void start_source(SourceContext& ctx);

  // One batch from input `slot`. With `exclusive`, the batch is this call's own and a transform
  // may modify or move it; otherwise a transform gets a copy, unless it is a ReadOnlyTransform.
  void receive(std::size_t slot, Batch& in, bool exclusive);

  // Context::fail() from the component's own code.
  void fail(std::string_view message);

  // Sources: SourceContext::emit() and end_of_stream(); the source's watermarks go on as given.
  bool source_emit(Batch&& batch);
  void source_end_of_stream();
  // Sources, on drain: stop() (unless it ended or failed), then end-of-stream.
  void stop_source();
  // The final stop() of a transform or sink that started (also after a failure), once the
  // pipeline finished. Returns its status.
  Status stop_instance();

  Emitter& emitter() noexcept { return output_; }

  // Which call into the plugin runs now ("process", "write", "timer"...; nullptr: none) and how
  // many calls began so far: written only on the component's logical thread, read by the
  // runtime's stall watchdog from another.
  const char* current_call() const noexcept { return call_.load(std::memory_order_relaxed); }
  std::uint64_t calls() const noexcept { return calls_.load(std::memory_order_relaxed); }
  // Marks a call into plugin code the host makes outside the driver (timer and posted callbacks).
  class InCall {
   public:
    InCall(ComponentDriver& d, const char* call) noexcept : d_(d), prev_(d.call_.load(std::memory_order_relaxed)) {
      d_.calls_.store(d_.calls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      d_.call_.store(call, std::memory_order_relaxed);
    }
    ~InCall() { d_.call_.store(prev_, std::memory_order_relaxed); }
    InCall(const InCall&) = delete;
    InCall& operator=(const InCall&) = delete;

   private:
    ComponentDriver& d_;
    const char* prev_;
  };

 private:
  struct Output final : Emitter {
    explicit Output(ComponentDriver& d) : d(d) {}
    ComponentDriver& d;
    void emit(Event&& e) override;
    void emit(Batch&& b) override;
    void spill();
  };

  void check(const Status& s, const char* call);
  void fail_here();
  void advance_watermark();
  void finish();
  void flush_output();
  bool send(Batch&& b);
  TransformInstance& transform() { return static_cast<TransformInstance&>(instance_); }
  SinkInstance& sink() { return static_cast<SinkInstance&>(instance_); }
  SourceInstance& source() { return static_cast<SourceInstance&>(instance_); }

  InstanceBase& instance_;
  const Kind kind_;
  const bool reads_only_;  // a ReadOnlyTransform
  const std::size_t batch_events_;
  DispatchHost& host_;
  DispatchCounters counters_;
  std::vector<std::int64_t> input_wm_;
  std::vector<bool> input_eos_;
  std::int64_t current_wm_ = kNoWatermark;
  bool started_ = false;
  bool finished_ = false;  // end-of-stream sent downstream (or the sink is done)
  bool failed_ = false;
  Batch out_;  // transform output being assembled
  Output output_{*this};
  std::atomic<const char*> call_{nullptr};
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace cxflow::host
