#include "runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "dispatch.hpp"
#include "log.hpp"
#include "status.hpp"
#include "time_service.hpp"

namespace cxflow::host {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

struct Item {
  std::shared_ptr<Batch> batch;
  std::size_t slot = 0;  // which of the consumer's inputs it came from
  std::size_t bytes = 0;
};

}  // namespace

struct Node;
class Watchdog;

// One io_context and the threads that run it. `placement: local` gives each worker thread a
// lane of its own (an io_context run by that thread alone); `placement: shared` has one lane run
// by every thread.
struct Lane {
  explicit Lane(int concurrency_hint) : io(concurrency_hint), work(asio::make_work_guard(io)) {}
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
};

struct Runtime::Impl {
  Impl(Pipeline& p, RunOptions o);

  Pipeline& pipeline;
  RunOptions options;
  TimeService& time;                         // options.time, else the system's
  std::vector<std::size_t> lane_of;          // per component
  std::vector<std::unique_ptr<Lane>> lanes;  // the components' lanes
  Lane control{1};                           // signals, status line, watchdogs: no component runs here
  std::atomic<bool> stopped{false};
  std::vector<std::unique_ptr<Node>> nodes;
  std::atomic<bool> draining{false};
  std::atomic<int> exit_code{0};
  std::atomic<std::size_t> sinks_open{0};
  std::atomic<bool> drain_timed_out{false};
  std::atomic<bool> lanes_joined{false};
  std::atomic<Watchdog*> watchdog{nullptr};  // while run() runs

  void start_drain(const char* why);
  void node_failed(Node& n, std::string_view message);
  void sink_finished();
  void stop_lanes();

  // The parts of run(), in order.
  void start_components();
  void run_lanes();  // until every sink finished or the drain timed out
  void release_timers();
  void stop_components();
};

// How long a small batch (a watermark alone, or a few window rows: fewer than a quarter of
// batch_events) may wait before its consumer on another thread is woken for it. Waking a sleeping
// thread costs more than most sinks spend on such a batch, and a chain emits one per input batch.
// Full batches, end-of-stream and a half-full queue wake the consumer at once.
constexpr std::chrono::milliseconds kSmallBatchDelay{10};

struct Node final : SourceContext, DispatchHost {
  Node(Runtime::Impl& rt, Component& c, std::size_t lane, asio::io_context& io)
      : rt(rt),
        c(c),
        lane(lane),
        strand(asio::make_strand(io)),
        nudge_timer(rt.time.make_timer(strand)),
        prefix(c.prefix()),
        in_count(c.counters->get("events_in")),
        out_count(c.counters->get("events_out")),
        depth(c.counters->get("queue_depth")),
        depth_bytes(c.counters->get("queue_bytes")),
        depth_peak(c.counters->get("queue_peak")),
        driver(*c.instance, c.inputs.size(), static_cast<std::size_t>(rt.pipeline.runtime.batch_events), *this,
               DispatchCounters{in_count, out_count, c.counters->get("dropped"), c.counters->get("errors"),
                                c.counters->get("copied")}) {}

  Runtime::Impl& rt;
  Component& c;
  std::size_t lane;  // the worker thread's io_context it runs on
  Strand strand;
  std::unique_ptr<Timer> nudge_timer;  // wakes the consumers of small batches (strand-only)
  bool nudge_armed = false;
  std::vector<Node*> to_nudge;
  std::string prefix;
  Counter& in_count;
  Counter& out_count;
  Counter& depth;
  Counter& depth_bytes;
  Counter& depth_peak;  // high-water mark of queue_depth: proves the queue stayed bounded
  std::vector<Node*> outputs;
  std::vector<std::size_t> output_slot;  // our slot index at each output

  // Input queue, shared with producers.
  std::mutex mutex;
  std::deque<Item> queue;
  std::size_t queued_bytes = 0;
  bool drain_scheduled = false;
  std::vector<std::function<void()>> room_waiters;

  // Strand-only state.
  ComponentDriver driver;  // the dispatch rules (dispatch.hpp)
  std::map<TimerId, std::unique_ptr<Timer>> timers;
  TimerId next_timer = 1;

  Kind kind() const { return c.spec.kind; }

  // ---- capacity ----
  bool has_room_locked() const {
    return queue.size() < static_cast<std::size_t>(rt.pipeline.runtime.queue_batches) &&
           queued_bytes < rt.pipeline.runtime.queue_bytes.bytes;
  }
  // Registers `fn` to run when this queue has room; returns false (without registering) if it has room now.
  bool wait_for_room(std::function<void()> fn) {
    std::lock_guard lock(mutex);
    if (has_room_locked()) return false;
    room_waiters.push_back(std::move(fn));
    return true;
  }
  // Called from `producer` (any strand); never blocks on capacity. Returns whether the queue
  // still has room, read under the same lock. With `wake` false the item waits, unscheduled, for
  // the next item that wakes us or for nudge().
  bool enqueue(std::shared_ptr<Batch> b, std::size_t slot, bool wake = true) {
    const std::size_t bytes = b->approx_bytes();
    bool schedule = false, room = false;
    {
      std::lock_guard lock(mutex);
      queue.push_back(Item{std::move(b), slot, bytes});
      queued_bytes += bytes;
      depth.set(queue.size());
      if (queue.size() > depth_peak.value()) depth_peak.set(queue.size());
      depth_bytes.set(queued_bytes);
      wake = wake || queue.size() * 2 >= static_cast<std::size_t>(rt.pipeline.runtime.queue_batches) ||
             queued_bytes * 2 >= rt.pipeline.runtime.queue_bytes.bytes;
      if (wake && !drain_scheduled) drain_scheduled = schedule = true;
      room = has_room_locked();
    }
    if (schedule) asio::post(strand, [this] { drain(); });
    return room;
  }
  // Schedules a drain for items enqueued without waking us (any thread).
  void nudge() {
    {
      std::lock_guard lock(mutex);
      if (drain_scheduled || queue.empty()) return;
      drain_scheduled = true;
    }
    asio::post(strand, [this] { drain(); });
  }

  // ---- DispatchHost ----
  // Sends a batch to every output. Returns true if every output still has room.
  // A small batch bound for another thread does not wake it: it waits for the next batch that
  // does, or for kSmallBatchDelay, whichever comes first; it keeps its place in the queue.
  bool deliver(Batch&& b) override {
    if (outputs.empty()) return true;
    const bool quiet =
        !b.end_of_stream && b.events.size() * 4 < static_cast<std::size_t>(rt.pipeline.runtime.batch_events);
    auto shared = std::make_shared<Batch>(std::move(b));
    bool room = true;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      Node* o = outputs[i];
      const bool wake = !quiet || o->lane == lane;
      room = o->enqueue(shared, output_slot[i], wake) && room;
      if (!wake) nudge_later(o);
    }
    return room;
  }
  void failed(const char* call, std::string_view message) override {
    rt.node_failed(*this, call ? std::string(call) + ": " + std::string(message) : std::string(message));
  }
  void sink_finished() override { rt.sink_finished(); }
  void source_ended() override { cancel_timers(); }
  void cancel_timers() {
    for (auto& [id, t] : timers) t->cancel();
    timers.clear();
    nudge_timer->cancel();
  }

  // On the strand.
  void nudge_later(Node* o) {
    if (std::find(to_nudge.begin(), to_nudge.end(), o) == to_nudge.end()) to_nudge.push_back(o);
    if (nudge_armed) return;
    nudge_armed = true;
    nudge_timer->start(kSmallBatchDelay.count(), [this] {
      nudge_armed = false;
      for (Node* n : to_nudge) n->nudge();
      to_nudge.clear();
    });
  }

  // Runs `fn` on our strand once every output has room.
  void on_outputs_ready(std::function<void()> fn) {
    for (Node* o : outputs) {
      auto retry = [this, fn]() { asio::post(strand, [this, fn] { on_outputs_ready(fn); }); };
      if (o->wait_for_room(retry)) return;
    }
    asio::post(strand, [this, fn = std::move(fn)] {
      if (driver.failed()) return;
      ComponentDriver::InCall in(driver, "a when_ready callback");
      fn();
    });
  }

  // ---- consuming (strand) ----
  void drain() {
    for (int n = 0; n < 16; ++n) {
      if (!outputs_have_room()) return;  // resumed by a room waiter
      Item item;
      std::vector<std::function<void()>> wake;
      {
        std::lock_guard lock(mutex);
        if (queue.empty()) {
          drain_scheduled = false;
          return;
        }
        item = std::move(queue.front());
        queue.pop_front();
        queued_bytes -= item.bytes;
        depth.set(queue.size());
        depth_bytes.set(queued_bytes);
        if (has_room_locked()) wake.swap(room_waiters);
      }
      for (auto& w : wake) w();
      // The batch is ours to modify only if no other consumer shares it.
      const bool exclusive = item.batch.use_count() == 1;
      driver.receive(item.slot, *item.batch, exclusive);
    }
    asio::post(strand, [this] { drain(); });
  }

  bool outputs_have_room() {
    for (Node* o : outputs) {
      auto resume = [this] { asio::post(strand, [this] { drain(); }); };
      if (o->wait_for_room(resume)) return false;
    }
    return true;
  }

  // ---- Context ----
  const std::string& component_name() const noexcept override { return c.spec.name; }
  void log(LogLevel level, std::string_view message) override { log_line(level, prefix, message); }
  Counter& counter(std::string_view name) override { return c.counters->get(name); }
  const Clock& clock() const noexcept override { return rt.time.clock(); }
  const FieldTable& fields() const noexcept override { return rt.pipeline.fields; }
  void cancel_timer(TimerId id) override {
    auto it = timers.find(id);
    if (it == timers.end()) return;
    it->second->cancel();
    timers.erase(it);
  }
  void fail(std::string_view message) override { driver.fail(message); }
  TimerId start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) override {
    const TimerId id = next_timer++;
    Timer& t = *timers.emplace(id, rt.time.make_timer(strand)).first->second;
    t.start(delay_ms, [this, id, fn = std::move(fn)] {
      auto it = timers.find(id);
      if (it == timers.end()) return;     // cancelled
      auto keep = std::move(it->second);  // the timer outlives its own handler
      timers.erase(it);
      if (driver.failed()) return;
      ComponentDriver::InCall in(driver, "a timer callback");
      fn();
    });
    return id;
  }
  void post_raw(std::function<void()> fn) override {
    asio::post(strand, [this, fn = std::move(fn)] {
      if (driver.failed()) return;
      ComponentDriver::InCall in(driver, "a posted callback");
      fn();
    });
  }

  // ---- SourceContext ----
  bool emit(Batch&& b) override { return driver.source_emit(std::move(b)); }
  void when_ready_raw(std::function<void()> fn) override { on_outputs_ready(std::move(fn)); }
  const std::vector<KeepCondition>& keep_conditions() const noexcept override { return c.pushed; }
  const std::optional<std::vector<FieldId>>& projection() const noexcept override { return c.projection; }
  void end_of_stream() override { driver.source_end_of_stream(); }
};

namespace {

// SIGINT/SIGTERM on the control lane: the first starts a drain, the second exits at once (130),
// whatever the components are doing.
class SignalWatch {
 public:
  SignalWatch(Runtime::Impl& rt, asio::io_context& control) : rt_(rt), signals_(control) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    wait();
  }
  ~SignalWatch() { signals_.cancel(); }

 private:
  void wait() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (seen_++ >= 1) {
        clear_status_line();
        log_line(LogLevel::Warn, "[host]", "second signal: exiting at once, without draining");
        std::_Exit(130);
      }
      rt_.start_drain(signo == SIGINT ? "SIGINT" : "SIGTERM");
      wait();
    });
  }
  Runtime::Impl& rt_;
  asio::signal_set signals_;
  int seen_ = 0;
};

// The status line (or progress lines) every interval, on the control lane.
class StatusTicker {
 public:
  StatusTicker(Runtime::Impl& rt, StatusReport& report, asio::io_context& control, std::int64_t interval_ms)
      : rt_(rt), report_(report), timer_(rt.time.make_timer(control.get_executor())), interval_ms_(interval_ms) {
    if (interval_ms_ > 0) arm();
  }
  ~StatusTicker() { timer_->cancel(); }

 private:
  void arm() {
    timer_->start(interval_ms_, [this] {
      report_.tick(rt_.draining, rt_.options.status_line);
      arm();
    });
  }
  Runtime::Impl& rt_;
  StatusReport& report_;
  std::unique_ptr<Timer> timer_;
  std::int64_t interval_ms_;
};

}  // namespace

// "component 'pass' (plugin test-transform) is inside process()"
static std::string describe_call(const Node& n, const char* call) {
  std::string what(call);
  if (what.find(' ') == std::string::npos) what += "()";
  return "component '" + n.c.spec.name + "' (plugin " + n.c.spec.plugin + ") is inside " + what;
}

// On the control lane, so that a component stuck in a call cannot stop it:
// - once draining, the pipeline gets drain_timeout to finish; then its lanes are stopped. If their
//   threads still do not return (a component stuck inside a call), the process exits with 2
//   after kStuckGraceMs, whatever the components do, naming what it was waiting for;
// - every stall_warning / 4, a component found inside the same call for stall_warning is named
//   in a warning (once per call), so a user knows why the pipeline stalled.
constexpr std::int64_t kStuckGraceMs = 2000;

class Watchdog {
 public:
  Watchdog(Runtime::Impl& rt, asio::io_context& control)
      : rt_(rt),
        drain_timer_(rt.time.make_timer(control.get_executor())),
        stall_timer_(rt.time.make_timer(control.get_executor())),
        seen_(rt.nodes.size()) {
    rt_.watchdog = this;
    if (rt_.draining) drain_started();
    // Under virtual time every component runs on the thread that runs this: none can be stuck elsewhere.
    if (rt_.pipeline.runtime.stall_warning.ms > 0 && !rt_.time.is_virtual()) arm_stall_check();
  }
  ~Watchdog() {
    rt_.watchdog = nullptr;
    drain_timer_->cancel();
    stall_timer_->cancel();
  }
  // On the control lane (Runtime::Impl::start_drain posts it).
  void drain_started() {
    if (armed_) return;
    armed_ = true;
    drain_timer_->start(rt_.pipeline.runtime.drain_timeout.ms, [this] { timed_out(); });
  }

 private:
  void timed_out() {
    if (rt_.stopped) return;
    rt_.drain_timed_out = true;
    log_line(
        LogLevel::Error, "[host]",
        "drain did not finish within " + format_duration(rt_.pipeline.runtime.drain_timeout) + "; stopping anyway");
    rt_.stop_lanes();
    if (rt_.time.is_virtual()) return;
    drain_timer_->start(kStuckGraceMs, [this] {
      if (rt_.lanes_joined) return;
      std::string stuck;
      for (const auto& n : rt_.nodes)
        if (const char* call = n->driver.current_call()) stuck += (stuck.empty() ? "" : "; ") + describe_call(*n, call);
      clear_status_line();
      log_line(LogLevel::Error, "[host]",
               (stuck.empty() ? std::string("a component did not return") : stuck) + " " +
                   std::to_string(kStuckGraceMs) + " ms after the drain timeout; exiting without waiting for it");
      std::_Exit(2);
    });
  }

  void arm_stall_check() {
    stall_timer_->start(std::max<std::int64_t>(10, rt_.pipeline.runtime.stall_warning.ms / 4), [this] {
      check_stalls();
      arm_stall_check();
    });
  }
  void check_stalls() {
    const std::int64_t now = rt_.time.clock().steady_ms();
    const std::int64_t limit = rt_.pipeline.runtime.stall_warning.ms;
    for (std::size_t i = 0; i < rt_.nodes.size(); ++i) {
      const ComponentDriver& d = rt_.nodes[i]->driver;
      const char* call = d.current_call();
      const std::uint64_t calls = d.calls();
      Seen& s = seen_[i];
      if (call == nullptr || calls != s.calls || call != s.call) {
        s = Seen{call, calls, now, false};
        continue;
      }
      if (!s.warned && now - s.since_ms >= limit) {
        s.warned = true;
        log_line(LogLevel::Warn, rt_.nodes[i]->prefix,
                 describe_call(*rt_.nodes[i], call) + " for " + format_duration(Duration{now - s.since_ms}) +
                     " (stall_warning " + format_duration(rt_.pipeline.runtime.stall_warning) +
                     "); the pipeline waits for it");
      }
    }
  }

  struct Seen {
    const char* call = nullptr;
    std::uint64_t calls = 0;
    std::int64_t since_ms = 0;  // when this call was first seen
    bool warned = false;
  };
  Runtime::Impl& rt_;
  std::unique_ptr<Timer> drain_timer_;
  std::unique_ptr<Timer> stall_timer_;
  std::vector<Seen> seen_;
  bool armed_ = false;
};

void Runtime::Impl::start_drain(const char* why) {
  if (draining.exchange(true)) return;
  if (Watchdog* w = watchdog.load()) asio::post(control.io, [w] { w->drain_started(); });
  log_line(LogLevel::Info, "[host]",
           std::string("draining (") + why + "): stopping sources, flushing open windows, committing sinks");
  for (auto& n : nodes)
    if (n->kind() == Kind::Source) {
      Node* node = n.get();
      asio::post(node->strand, [node] { node->driver.stop_source(); });
    }
}

void Runtime::Impl::node_failed(Node& n, std::string_view message) {
  log_line(LogLevel::Error, n.prefix,
           std::string(message) + " (component '" + n.c.spec.name + "' failed; draining the pipeline)");
  int expected = 0;
  exit_code.compare_exchange_strong(expected, 1);
  start_drain("component failure");
}

void Runtime::Impl::sink_finished() {
  if (sinks_open.fetch_sub(1) == 1) stop_lanes();
}

// Stops the components' lanes (not the control lane: its watchdog still watches the threads
// return).
void Runtime::Impl::stop_lanes() {
  stopped = true;
  for (auto& l : lanes) {
    l->work.reset();
    l->io.stop();
  }
}

static std::vector<std::size_t> place_components(const Pipeline& p) {
  const std::size_t n = p.components.size();
  const auto threads = static_cast<std::size_t>(std::max(1, p.runtime.threads));
  std::vector<std::size_t> lane(n, 0);
  if (p.runtime.placement == Placement::shared) return lane;
  // Sources take the lanes in turn; a transform runs on the lane of its first input, so the
  // events of a chain stay in one core's cache; sinks (whose writes and commits may wait on I/O)
  // run beside it on the lanes the sources leave free.
  std::size_t next = 0;
  std::vector<bool> placed(n, false);
  for (std::size_t i = 0; i < n; ++i)
    if (p.components[i].spec.kind == Kind::Source) {
      lane[i] = next++ % threads;
      placed[i] = true;
    }
  // Transforms in dependency order (the graph is acyclic; its inputs come first).
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < n; ++i) {
      const Component& c = p.components[i];
      if (placed[i] || c.spec.kind != Kind::Transform || c.inputs.empty() || !placed[c.inputs[0]]) continue;
      lane[i] = lane[c.inputs[0]];
      placed[i] = progress = true;
    }
  }
  // Sinks take the threads left after the sources' in turn; when none is left, every thread in turn.
  const std::size_t sources = next;
  std::size_t sinks = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (p.components[i].spec.kind == Kind::Sink)
      lane[i] = sources < threads ? sources + sinks++ % (threads - sources) : next++ % threads;
  return lane;
}

static std::vector<std::unique_ptr<Lane>> make_lanes(const Pipeline& p, const std::vector<std::size_t>& lane_of) {
  std::vector<std::unique_ptr<Lane>> lanes;
  if (p.runtime.placement == Placement::shared) {
    lanes.push_back(std::make_unique<Lane>(std::max(1, p.runtime.threads)));
    return lanes;
  }
  // A lane is run by one thread: its handlers post to it without a lock or a wake-up.
  const std::size_t used = lane_of.empty() ? 1 : *std::max_element(lane_of.begin(), lane_of.end()) + 1;
  for (std::size_t i = 0; i < used; ++i) lanes.push_back(std::make_unique<Lane>(1));
  return lanes;
}

// "placement local: thread 1 runs replay, completed; thread 2 runs history"
static std::string describe_placement(const Runtime::Impl& rt) {
  if (rt.pipeline.runtime.placement == Placement::shared)
    return "placement shared: " + std::to_string(rt.pipeline.runtime.threads) + " thread(s) run every component";
  std::string line = "placement local:";
  for (std::size_t lane = 0; lane < rt.lanes.size(); ++lane) {
    line += std::string(lane == 0 ? " " : "; ") + "thread " + std::to_string(lane + 1) + " runs";
    bool first = true;
    for (std::size_t i = 0; i < rt.lane_of.size(); ++i)
      if (rt.lane_of[i] == lane) {
        line += std::string(first ? " " : ", ") + rt.pipeline.components[i].spec.name;
        first = false;
      }
  }
  return line;
}

Runtime::Impl::Impl(Pipeline& p, RunOptions o)
    : pipeline(p),
      options(o),
      time(o.time ? *o.time : real_time()),
      lane_of(place_components(p)),
      lanes(make_lanes(p, lane_of)) {}

Runtime::Runtime(Pipeline& pipeline, RunOptions options) : impl_(std::make_unique<Impl>(pipeline, options)) {
  auto& rt = *impl_;
  for (std::size_t i = 0; i < pipeline.components.size(); ++i)
    rt.nodes.push_back(std::make_unique<Node>(rt, pipeline.components[i], rt.lane_of[i], rt.lanes[rt.lane_of[i]]->io));
  for (std::size_t i = 0; i < pipeline.components.size(); ++i) {
    const auto& comp = pipeline.components[i];
    for (std::size_t slot = 0; slot < comp.inputs.size(); ++slot) {
      Node* producer = rt.nodes[comp.inputs[slot]].get();
      producer->outputs.push_back(rt.nodes[i].get());
      producer->output_slot.push_back(slot);
    }
  }
}

Runtime::~Runtime() = default;

void Runtime::request_stop() { impl_->start_drain("stop requested"); }

// Posts every component's start to its strand: downstream first, so nothing is emitted into a
// component that is not ready; a source that would start after a drain began ends at once.
void Runtime::Impl::start_components() {
  for (auto& n : nodes)
    if (n->kind() == Kind::Sink) ++sinks_open;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* n = it->get();
    if (n->kind() != Kind::Source) asio::post(n->strand, [n] { n->driver.start(*n); });
  }
  log_line(LogLevel::Info, "[host]", describe_placement(*this));
  for (auto& n : nodes)
    if (n->kind() == Kind::Source) {
      Node* node = n.get();
      if (!node->c.pushed.empty())
        log_line(LogLevel::Info, node->prefix,
                 "pushdown from '" + pipeline.components[node->c.pushed_from].spec.name + "': only events with " +
                     describe_conditions(node->c.pushed) + " have any effect downstream");
      asio::post(node->strand, [node] {
        if (node->rt.draining) return node->driver.source_end_of_stream();
        node->driver.start_source(*node);
      });
    }
}

// The worker threads: one per lane (placement local) or `threads` on the one lane (shared); this
// thread runs the first. Under virtual time this thread runs every lane, and when none has
// anything ready, the clock jumps to the next timer.
void Runtime::Impl::run_lanes() {
  if (time.is_virtual()) {
    auto& vt = static_cast<VirtualTime&>(time);
    while (!stopped) {
      std::size_t ran = control.io.poll();
      for (auto& l : lanes) ran += l->io.poll();
      if (ran > 0 || stopped) continue;
      if (vt.auto_advance() && vt.fire_next()) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // waiting for a plugin's own thread, or the test
    }
    return;
  }
  std::vector<std::thread> threads;
  if (pipeline.runtime.placement == Placement::shared)
    for (int i = 1; i < pipeline.runtime.threads; ++i) threads.emplace_back([this] { lanes[0]->io.run(); });
  else
    for (std::size_t i = 1; i < lanes.size(); ++i) threads.emplace_back([this, i] { lanes[i]->io.run(); });
  lanes[0]->io.run();
  for (auto& t : threads) t.join();
}

// Cancels every timer the components registered (the lanes no longer run).
void Runtime::Impl::release_timers() {
  for (auto& n : nodes) n->cancel_timers();
}

// The final stop() of every transform and sink that started.
void Runtime::Impl::stop_components() {
  for (auto& n : nodes) {
    const Status s = n->driver.stop_instance();
    if (!s.ok) log_line(LogLevel::Error, n->prefix, "stop: " + s.message);
  }
}

int Runtime::run() {
  auto& rt = *impl_;
  StatusReport report(rt.pipeline, rt.time.clock());
  rt.start_components();
  std::thread control_thread;
  {
    std::optional<SignalWatch> signals;
    if (rt.options.handle_signals) signals.emplace(rt, rt.control.io);
    StatusTicker ticker(
        rt, report, rt.control.io,
        rt.options.status_line ? rt.pipeline.runtime.status_interval.ms : rt.pipeline.runtime.log_interval.ms);
    Watchdog watchdog(rt, rt.control.io);
    if (!rt.time.is_virtual()) control_thread = std::thread([&rt] { rt.control.io.run(); });
    rt.run_lanes();
    rt.lanes_joined = true;
    rt.control.work.reset();
    rt.control.io.stop();
    if (control_thread.joinable()) control_thread.join();
  }
  if (rt.options.status_line) clear_status_line();
  rt.release_timers();
  rt.stop_components();
  report.summary();
  if (rt.drain_timed_out) return 2;
  return rt.exit_code.load();
}

}  // namespace cxflow::host
