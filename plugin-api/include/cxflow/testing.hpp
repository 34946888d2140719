// cxflow plugin test harness: load one plugin .so, configure it from YAML, push batches,
// drive a fake clock, read what it emits. No threads: everything runs on the caller's thread,
// in order, so tests are deterministic.
//
// The plugin is driven by the runtime's own dispatch core, so it sees only call sequences a
// pipeline produces: a watermark reaches it only when the minimum over its inputs rises (a
// repeated or lower one is not forwarded), end-of-stream once every input ended, what it emits in
// one call goes downstream in batches of at most batch_events, and after a failed call (or
// Context::fail) it gets no more calls but stop(): later input is counted as `dropped` and
// end-of-stream goes downstream at once.
//
//   auto h = cxflow::testing::Harness::load("aggregate-window", "window: 60s\nmetrics: {n: count}\n");
//   h.start();
//   h.push({h.event(1000).set("metadata.queue", "sales").build()});
//   h.watermark(61'000);
//   auto out = h.take();
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/plugin.hpp"

namespace cxflow::testing {

class FakeClock final : public Clock {
 public:
  std::int64_t wall_ms() const noexcept override { return wall_ms_; }
  std::int64_t steady_ms() const noexcept override { return steady_ms_; }
  void set_wall_ms(std::int64_t v) { wall_ms_ = v; }
  void advance(std::int64_t ms) {
    wall_ms_ += ms;
    steady_ms_ += ms;
  }

 private:
  std::int64_t wall_ms_ = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::int64_t steady_ms_ = 1'000'000;
};

class Harness;

class EventBuilder {
 public:
  EventBuilder(Harness& h, std::int64_t time_ms) : h_(h) { e_.time_ms = time_ms; }
  // Fields the pipeline does not use are skipped, as a source would.
  EventBuilder& set(std::string_view field, Value v);
  EventBuilder& set(std::string_view field, const char* v) { return set(field, Value(std::string(v))); }
  EventBuilder& set(std::string_view field, std::string v) { return set(field, Value(std::move(v))); }
  EventBuilder& set(std::string_view field, int v) { return set(field, Value(static_cast<std::int64_t>(v))); }
  EventBuilder& set(std::string_view field, std::int64_t v) { return set(field, Value(v)); }
  EventBuilder& set(std::string_view field, double v) { return set(field, Value(v)); }
  EventBuilder& set(std::string_view field, bool v) { return set(field, Value(v)); }
  Event build() { return std::move(e_); }
  operator Event() { return build(); }

 private:
  Harness& h_;
  Event e_;
};

class Harness {
 public:
  // The folder plugins are loaded from: set_plugin_dir(), else CXFLOW_TEST_PLUGIN_DIR from the
  // environment, else the cxflow build tree's plugin folder compiled into the harness.
  static std::string plugin_dir();
  // Overrides where plugins are loaded from (call before the first load()).
  static void set_plugin_dir(std::string dir);

  // Loads `plugin` and configures it with `yaml` (the component's keys, without plugin/inputs).
  // `extra_fields` are registered before configuring, as other components would. Throws
  // std::runtime_error listing every config error.
  static Harness load(const std::string& plugin, const std::string& yaml, std::vector<std::string> extra_fields = {});
  // Configures and returns the errors instead of throwing ("" file name).
  static std::vector<ConfigError> config_errors(const std::string& plugin, const std::string& yaml);
  // The loaded plugin's descriptor API (schema, example...).
  static const PluginApi& api(const std::string& plugin);

  Harness(Harness&&) noexcept;
  Harness& operator=(Harness&&) noexcept;
  ~Harness();

  FakeClock& clock();
  const FieldTable& fields() const;
  // Id of a field; throws if the pipeline does not know it.
  FieldId field(std::string_view name) const;
  EventBuilder event(std::int64_t time_ms) { return EventBuilder(*this, time_ms); }

  // Before start(): how many inputs a transform or sink has (default 1), and the pipeline's
  // `runtime: batch_events` (default 1024) at which its output is split.
  void set_inputs(std::size_t inputs);
  void set_batch_events(std::size_t batch_events);

  void start();  // freezes the field table and starts the component (once)
  // A source that has not ended is stopped and then ends; a transform or sink gets its final
  // stop() (also after a failure). The destructor does the same if stop() was not called.
  void stop();

  // Transforms and sinks, from start() on: a batch arriving on `input` (0-based). Events, then
  // watermark, then end of stream, as the runtime does. A failed call throws std::runtime_error.
  void push(std::vector<Event> events, std::size_t input = 0);
  void push(Batch batch, std::size_t input = 0);
  void watermark(std::int64_t watermark_ms, std::size_t input = 0);
  void end_of_stream(std::size_t input = 0);

  // Runs posted work and due timers; for sources, advances the fake clock to the next timer
  // when nothing else is runnable, until the source ends or `max_events` were emitted.
  // Never advances the clock more than `max_advance_ms` in one call (a source that re-arms a
  // timer forever, like a file follower, would otherwise never return).
  // Returns the number of events emitted during the call.
  std::size_t run(std::size_t max_events = SIZE_MAX, std::int64_t max_advance_ms = 7 * 86'400'000LL);
  // Runs posted work and timers due now, without advancing the clock.
  void run_ready();
  // Advances the fake clock by `ms`, running timers as they fall due.
  void advance(std::int64_t ms);

  // Pushdown (see cxflow::KeepCondition). Transforms: what the component promised while it was
  // configured. Sources: the conditions it is handed from start() on (call before start()).
  const std::vector<KeepCondition>& promises() const;
  void set_keep_conditions(std::vector<KeepCondition> conditions);

  // Sources: when true, emit() reports a full pipeline; setting it false runs when_ready callbacks.
  void set_backpressure(bool full);

  std::vector<Event> take();                            // emitted since the last take()
  std::vector<Batch> take_batches();                    // the same, as the batches sent downstream
  const std::vector<std::int64_t>& watermarks() const;  // watermarks emitted/forwarded
  bool ended() const;                                   // end of stream emitted/forwarded
  std::uint64_t counter(std::string_view name) const;   // plugin counters
  const std::vector<std::string>& logs() const;         // "LEVEL message"
  const std::string& failure() const;                   // first ctx.fail() or Status error, "" if none

  // Reads a field of an output event by name.
  std::optional<double> number(const Event& e, std::string_view field) const;
  std::string text(const Event& e, std::string_view field) const;
  bool has(const Event& e, std::string_view field) const;

  struct Impl;

 private:
  explicit Harness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class EventBuilder;
};

}  // namespace cxflow::testing
