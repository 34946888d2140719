// The interfaces a plugin implements (Source, Transform, Sink) and the services the host gives
// it (Setup at configure time, Context at run time).
//
// Threading: the host calls each component instance from one logical thread at a time (its own
// strand), including the callbacks it registered (timers, post, when_ready). A plugin needs no
// locks for its own state. From a thread of the plugin's own, only Context::post(),
// Context::log() and Counter operations may be used; everything else belongs on the strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/config.hpp"
#include "cxflow/event.hpp"

namespace cxflow {

enum class Kind { Source, Transform, Sink };
const char* kind_name(Kind k);  // "source" | "transform" | "sink"

enum class LogLevel { Debug, Info, Warn, Error };

// A monotonically increasing counter, readable from any thread.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::uint64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Declared counters: what `cxflow plugins describe` lists and what the status line and summary
// read, by role rather than by name.
enum class CounterKind { Counter, Gauge, Histogram };
// What the host understands a counter to mean. None: the component's own business.
enum class CounterRole {
  None,
  RowsCommitted,  // data rows made durable by a sink (not alert rows: those are Alerts)
  Alerts,         // alert notifications raised
  Dropped,        // events dropped on purpose (filtered, late, over a limit)
  Malformed,      // input that could not be decoded
  Retries,        // retried operations (reconnects, commit retries, webhook retries)
  Errors,         // failed operations
};
const char* counter_kind_name(CounterKind k);  // "counter" | "gauge" | "histogram"
const char* counter_role_name(CounterRole r);  // "none" | "rows_committed" | "alerts" | ...
struct CounterLabel {
  std::string name;   // e.g. "reason"
  std::string value;  // e.g. "invalid_json"
};
struct CounterSpec {
  std::string name;  // "malformed"
  CounterKind kind = CounterKind::Counter;
  std::string unit;                  // "events", "rows", "lines", "bytes", "ms"...
  std::vector<CounterLabel> labels;  // one series per label value: {{"reason", "invalid_json"}}
  CounterRole role = CounterRole::None;
  std::string help;  // one line for `describe`
  // The series' key in summaries: "malformed{reason=invalid_json}", or the name without labels.
  std::string key() const;
};

// Time as the component sees it. Tests replace it with a fake that they advance by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t wall_ms() const noexcept = 0;    // Unix epoch, for wall-clock timestamps
  virtual std::int64_t steady_ms() const noexcept = 0;  // monotonic, for intervals and timeouts
};

using TimerId = std::uint64_t;

// Predicate pushdown. A transform may promise, while it is configured, that it discards every
// event whose value at `path` is not a string equal to one of `values`, and that such an event
// has no other effect on it (no output, no state, no watermark of its own). When a source's only
// consumer made such promises, the host hands them to the source (SourceContext::
// keep_conditions()), which may then drop failing events before decoding them in full, and
// count them. The transform still applies its own filter, so a source that ignores the
// conditions changes nothing but speed. An event dropped at the source does not advance the
// source's watermark. Hosts may switch pushdown off (`runtime: {pushdown: false}`).
struct KeepCondition {
  std::string path;                 // dotted field path, e.g. "metrics.state"
  std::vector<std::string> values;  // allowed string values (exact, case-sensitive)
};

// The type a component expects of a field it reads, or promises of a field it produces.
// Number covers integers and floating point. Any: no expectation (or not known).
enum class FieldType { Any, String, Number, Bool };
const char* field_type_name(FieldType t);  // "any" | "string" | "number" | "bool"

// Configure-time services. No I/O may be started here: `cxflow validate` configures every
// component and then throws them away.
//
// Data interface. A component declares the fields it reads and the fields its output carries;
// `cxflow validate` (and `run`, before anything starts) resolves every read against what the
// component's inputs produce and refuses a read no input produces, or one whose produced type
// differs from the expected one, at the config position of the key that names it. A source
// projects its input onto the fields its downstream reads. A component that declares nothing
// is not checked, and one that declares no output is treated as passing everything through.
// The defaults below are for hosts that do not check (test harnesses): they only intern.
class Setup {
 public:
  virtual ~Setup() = default;
  // Registers (or finds) a dotted field name and returns its id. Only valid while configuring.
  // A field named only here is kept by the sources upstream but not checked: prefer reads(),
  // reads_if_present() or produces().
  virtual FieldId field(std::string_view name) = 0;
  // The component reads `name` and expects `type`. `pos` is where the config names the field;
  // when unknown (line 0), the host points at the first config value that names it.
  virtual FieldId reads(std::string_view name, FieldType type = FieldType::Any, const SourcePos& pos = {}) {
    (void)type, (void)pos;
    return field(name);
  }
  // Like reads(), but the field may be absent upstream (the component copes without it).
  virtual FieldId reads_if_present(std::string_view name, FieldType type = FieldType::Any) {
    (void)type;
    return field(name);
  }
  // The component's output carries `name`. Sources: the fields they emit; transforms: the
  // fields they add or compute.
  virtual FieldId produces(std::string_view name, FieldType type = FieldType::Any) {
    (void)type;
    return field(name);
  }
  // Transforms: the output carries every field of the input as well (a filter).
  virtual void passes_through() {}
  // Sources: besides the declared fields, the output carries whatever else the input data holds
  // (a JSON file replayed as is); a read of an undeclared field is then accepted.
  virtual void produces_open() {}
  // Sinks and transforms that use every field they get (write whole events): sources upstream
  // keep every field.
  virtual void reads_all() {}
  virtual const std::string& component_name() const noexcept = 0;
  // Counters are registered up front so `describe` and the status line can list them.
  virtual Counter& counter(std::string_view name) = 0;
  // A declared counter (kind, unit, labels, role); the series is counter(spec.key()). Bump it
  // once per batch, not per event.
  virtual Counter& declare_counter(const CounterSpec& spec) { return counter(spec.key()); }
  virtual void log(LogLevel level, std::string_view message) = 0;
  // Transforms: the promise described at KeepCondition. Other kinds: ignored.
  virtual void promise_keep_only(KeepCondition condition) = 0;
};

// Run-time services, one per component instance.
class Context {
 public:
  virtual ~Context() = default;

  virtual const std::string& component_name() const noexcept = 0;
  // Writes one line prefixed "[kind:plugin:component]". Never pass secrets.
  virtual void log(LogLevel level, std::string_view message) = 0;
  virtual Counter& counter(std::string_view name) = 0;
  virtual const Clock& clock() const noexcept = 0;
  // The frozen field table: sources use it to project input onto the fields the pipeline uses.
  virtual const FieldTable& fields() const noexcept = 0;

  // Runs `fn` on this component's strand after `delay_ms` (steady clock). Returns an id for
  // cancel_timer(). Exceptions thrown by `fn` are caught and reported as a component failure.
  TimerId start_timer(std::int64_t delay_ms, std::function<void()> fn) {
    return start_timer_raw(delay_ms, guard(std::move(fn)));
  }
  virtual void cancel_timer(TimerId id) = 0;
  // Runs `fn` on this component's strand soon. The one call that is safe from any thread.
  void post(std::function<void()> fn) { post_raw(guard(std::move(fn))); }

  // Reports a fatal error from asynchronous code: the pipeline drains and exits non-zero.
  virtual void fail(std::string_view message) = 0;

 protected:
  virtual TimerId start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) = 0;
  virtual void post_raw(std::function<void()> fn) = 0;

  // Compiled into the plugin (inline), so an exception is caught on the plugin's side of the
  // boundary, never by the host.
  std::function<void()> guard(std::function<void()> fn) {
    return [this, fn = std::move(fn)]() noexcept {
      try {
        fn();
      } catch (const std::exception& e) {
        fail(e.what());
      } catch (...) {
        fail("unknown exception in callback");
      }
    };
  }
};

class SourceContext : public Context {
 public:
  // Hands a batch to the pipeline; the pipeline always takes it. Returns false when a
  // downstream queue is now full: stop producing (stop reading the socket) until the callback
  // given to when_ready() runs.
  virtual bool emit(Batch&& batch) = 0;
  // `fn` runs on this strand once every downstream queue has room again (at once if it has).
  void when_ready(std::function<void()> fn) { when_ready_raw(guard(std::move(fn))); }
  // This source will emit nothing more. The host sends end-of-stream downstream.
  virtual void end_of_stream() = 0;
  // Conditions every event must meet to have any effect downstream (see KeepCondition); all
  // must hold. Empty when there are none or pushdown is off. Valid from start() on.
  virtual const std::vector<KeepCondition>& keep_conditions() const noexcept = 0;
  // The fields this source's downstream reads (the declared reads of every component fed by
  // it, through pass-through transforms, and its own), as sorted ids; nullopt when every field
  // of fields() may be needed. A source that decodes input keeps only these
  // (JsonDecodeOptions::only). Valid from start() on.
  virtual const std::optional<std::vector<FieldId>>& projection() const noexcept {
    static const std::optional<std::vector<FieldId>> every;
    return every;
  }

 protected:
  virtual void when_ready_raw(std::function<void()> fn) = 0;
};

// Where a transform puts its output. The host batches what is emitted during one call and
// sends it downstream when the call returns, followed by the watermark.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void emit(Event&& event) = 0;
  // Emits every event of `batch` (its control fields are ignored).
  virtual void emit(Batch&& batch) = 0;
};

// ---- What plugins implement ------------------------------------------------------------------
// Every method may throw; the export wrapper turns exceptions into errors with the component's
// name. Constructors receive the bound config and a Setup, and must not start I/O.

class Source {
 public:
  virtual ~Source() = default;
  // Start producing: emit from this call, from timers, from posts. Return promptly.
  virtual void start(SourceContext& ctx) = 0;
  // Stop producing. Emit (ctx.emit) everything already accepted before returning; the host
  // then sends end-of-stream. Not called if the source already ended by itself.
  virtual void stop() {}
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual void start(Context& /*ctx*/) {}
  // Process a batch of data events. The batch is this call's own: it may be modified or moved
  // to the output with out.emit(std::move(in)).
  virtual void process(Batch& in, Emitter& out) = 0;
  // The (minimum over inputs) watermark advanced: events older than `watermark_ms` will not
  // arrive any more. The host forwards the watermark downstream after this call.
  virtual void on_watermark(std::int64_t /*watermark_ms*/, Emitter& /*out*/) {}
  // Every input ended (or the pipeline is draining): emit what is still held (open windows).
  virtual void on_end_of_stream(Emitter& /*out*/) {}
  virtual void stop() {}
};

// A transform that only reads its input (an aggregate: it reads every event and emits new ones)
// derives from this instead and implements process(const Batch&, Emitter&). The host may then
// hand it a batch that other consumers share (a fan-out of one filter to several aggregates)
// instead of copying that batch for it.
class ReadOnlyTransform : public Transform {
 public:
  virtual void process(const Batch& in, Emitter& out) = 0;

 private:
  void process(Batch& in, Emitter& out) final { process(static_cast<const Batch&>(in), out); }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void start(Context& /*ctx*/) {}
  virtual void write(const Batch& in) = 0;
  // Everything before `watermark_ms` has been written: a natural commit point.
  virtual void on_watermark(std::int64_t /*watermark_ms*/) {}
  // Every input ended: commit everything. Nothing may be left uncommitted after this returns.
  virtual void on_end_of_stream() {}
  virtual void stop() {}
};

}  // namespace cxflow
