#include "runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "log.hpp"

namespace cxflow::host {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

class RealClock final : public Clock {
 public:
  std::int64_t wall_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  std::int64_t steady_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};
const RealClock g_clock;

struct Item {
  std::shared_ptr<Batch> batch;
  std::size_t slot = 0;  // which of the consumer's inputs it came from
  std::size_t bytes = 0;
};

std::string human_count(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

struct Node;

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
  std::vector<std::size_t> lane_of;          // per component
  std::vector<std::unique_ptr<Lane>> lanes;  // lanes[0] also runs signals and the status line
  asio::io_context& io;                      // lanes[0]'s
  std::atomic<bool> stopped{false};
  std::vector<std::unique_ptr<Node>> nodes;
  std::atomic<bool> draining{false};
  std::atomic<int> exit_code{0};
  std::atomic<std::size_t> sinks_open{0};
  std::atomic<int> signals_seen{0};

  void start_drain(const char* why);
  void node_failed(Node& n, std::string_view message);
  void sink_finished();
  void stop_lanes();
};

// How long a small batch (a watermark alone, or a few window rows: fewer than a quarter of
// batch_events) may wait before its consumer on another thread is woken for it. Waking a sleeping
// thread costs more than most sinks spend on such a batch, and a chain emits one per input batch.
// Full batches, end-of-stream and a half-full queue wake the consumer at once.
constexpr std::chrono::milliseconds kSmallBatchDelay{10};

struct Node final : SourceContext {
  Node(Runtime::Impl& rt, Component& c, std::size_t lane, asio::io_context& io)
      : rt(rt), c(c), lane(lane), strand(asio::make_strand(io)), nudge_timer(strand), prefix(c.prefix()),
        in_count(c.counters->get("events_in")), out_count(c.counters->get("events_out")),
        dropped(c.counters->get("dropped")), errors(c.counters->get("errors")),
        depth(c.counters->get("queue_depth")), depth_bytes(c.counters->get("queue_bytes")),
        depth_peak(c.counters->get("queue_peak")) {
    input_wm.assign(c.inputs.size(), kNoWatermark);
    input_eos.assign(c.inputs.size(), false);
  }

  Runtime::Impl& rt;
  Component& c;
  std::size_t lane;  // the worker thread's io_context it runs on
  Strand strand;
  asio::steady_timer nudge_timer;  // wakes the consumers of small batches (strand-only)
  bool nudge_armed = false;
  std::vector<Node*> to_nudge;
  std::string prefix;
  Counter& in_count;
  Counter& out_count;
  Counter& dropped;
  Counter& errors;
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
  std::vector<std::int64_t> input_wm;
  std::vector<bool> input_eos;
  std::int64_t current_wm = kNoWatermark;
  bool finished = false;  // end of stream sent downstream (or sink done)
  bool failed = false;
  bool started = false;
  Batch out;  // transform output being assembled
  std::map<TimerId, std::unique_ptr<asio::steady_timer>> timers;
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

  // Sends a batch to every output. Returns true if every output still has room.
  // A small batch bound for another thread does not wake it: it waits for the next batch that
  // does, or for kSmallBatchDelay, whichever comes first; it keeps its place in the queue.
  bool deliver(Batch&& b) {
    out_count.add(b.events.size());
    if (outputs.empty()) return true;
    const bool quiet = !b.end_of_stream && b.events.size() * 4 < static_cast<std::size_t>(rt.pipeline.runtime.batch_events);
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

  // On the strand.
  void nudge_later(Node* o) {
    if (std::find(to_nudge.begin(), to_nudge.end(), o) == to_nudge.end()) to_nudge.push_back(o);
    if (nudge_armed) return;
    nudge_armed = true;
    nudge_timer.expires_after(kSmallBatchDelay);
    nudge_timer.async_wait([this](const boost::system::error_code& ec) {
      nudge_armed = false;
      if (ec) return;
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
    asio::post(strand, fn);
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
      handle(item);
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

  void handle(Item& item) {
    Batch& in_ref = *item.batch;
    const std::int64_t wm = in_ref.watermark_ms;
    const bool eos = in_ref.end_of_stream;
    if (!in_ref.events.empty()) {
      in_count.add(in_ref.events.size());
      if (failed || finished) {
        dropped.add(in_ref.events.size());
      } else if (kind() == Kind::Transform) {
        // The batch is ours to modify only if no other consumer shares it.
        std::shared_ptr<Batch> own = item.batch.use_count() == 1 ? item.batch : std::make_shared<Batch>(in_ref);
        own->watermark_ms = kNoWatermark;
        own->end_of_stream = false;
        check(transform().process(*own, output), "process");
      } else if (kind() == Kind::Sink) {
        check(sink().write(in_ref), "write");
      }
    }
    item.batch.reset();
    if (wm != kNoWatermark && item.slot < input_wm.size()) {
      input_wm[item.slot] = std::max(input_wm[item.slot], wm);
      advance_watermark();
    }
    if (eos && item.slot < input_eos.size() && !input_eos[item.slot]) {
      input_eos[item.slot] = true;
      bool all = true;
      for (bool e : input_eos) all = all && e;
      if (all) finish();
      else advance_watermark();  // an ended input no longer holds the minimum back
    }
    flush_output();
  }

  void advance_watermark() {
    if (failed || finished) return;
    std::int64_t m = std::numeric_limits<std::int64_t>::max();
    bool any = false;
    for (std::size_t i = 0; i < input_wm.size(); ++i) {
      if (input_eos[i]) continue;
      any = true;
      m = std::min(m, input_wm[i]);
    }
    if (!any || m == kNoWatermark || m <= current_wm) return;
    current_wm = m;
    if (kind() == Kind::Transform) {
      check(transform().on_watermark(m, output), "on_watermark");
      out.watermark_ms = m;
    } else if (kind() == Kind::Sink) {
      check(sink().on_watermark(m), "on_watermark");
    }
  }

  // Every input ended: flush, forward end-of-stream, and for a sink, commit and finish.
  void finish() {
    if (finished) return;
    if (!failed) {
      if (kind() == Kind::Transform) check(transform().on_end_of_stream(output), "on_end_of_stream");
      else if (kind() == Kind::Sink) check(sink().on_end_of_stream(), "on_end_of_stream");
    }
    finished = true;
    if (kind() == Kind::Transform) {
      out.end_of_stream = true;
      flush_output();
    } else if (kind() == Kind::Sink) {
      rt.sink_finished();
    }
  }

  void flush_output() {
    if (kind() != Kind::Transform || out.empty()) return;
    Batch b = std::exchange(out, Batch{});
    deliver(std::move(b));
  }

  // On the strand: a failed call stops this component at once, before the next queued batch.
  void check(const Status& s, const char* what) {
    if (s.ok) return;
    errors.add();
    rt.node_failed(*this, std::string(what) + ": " + s.message);
    fail_here();
  }

  // On the strand, right after a failure: stop consuming; downstream gets end-of-stream so it
  // commits what it already accepted.
  void fail_here() {
    if (failed) return;
    failed = true;
    if (kind() == Kind::Transform && !finished) {
      finished = true;
      out.events.clear();
      out.end_of_stream = true;
      flush_output();
    } else if (kind() == Kind::Sink && !finished) {
      finished = true;
      rt.sink_finished();
    } else if (kind() == Kind::Source && !finished) {
      end_of_stream();
    }
  }

  TransformInstance& transform() { return static_cast<TransformInstance&>(*c.instance); }
  SinkInstance& sink() { return static_cast<SinkInstance&>(*c.instance); }
  SourceInstance& source() { return static_cast<SourceInstance&>(*c.instance); }

  // ---- Emitter (transform output) ----
  struct Output final : Emitter {
    explicit Output(Node& n) : n(n) {}
    Node& n;
    void emit(Event&& e) override {
      n.out.events.push_back(std::move(e));
      spill();
    }
    void emit(Batch&& b) override {
      if (n.out.events.empty()) n.out.events = std::move(b.events);
      else
        for (auto& e : b.events) n.out.events.push_back(std::move(e));
      spill();
    }
    // A transform that emits a lot in one call sends it on in bounded pieces.
    void spill() {
      if (n.out.events.size() < static_cast<std::size_t>(n.rt.pipeline.runtime.batch_events)) return;
      Batch full;
      full.events = std::move(n.out.events);
      n.out.events.clear();
      n.deliver(std::move(full));
    }
  };
  Output output{*this};

  // ---- Context ----
  const std::string& component_name() const noexcept override { return c.spec.name; }
  void log(LogLevel level, std::string_view message) override { log_line(level, prefix, message); }
  Counter& counter(std::string_view name) override { return c.counters->get(name); }
  const Clock& clock() const noexcept override { return g_clock; }
  const FieldTable& fields() const noexcept override { return rt.pipeline.fields; }
  void cancel_timer(TimerId id) override {
    auto it = timers.find(id);
    if (it == timers.end()) return;
    it->second->cancel();
    timers.erase(it);
  }
  void fail(std::string_view message) override {
    errors.add();
    rt.node_failed(*this, message);
    fail_here();
  }
  TimerId start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) override {
    const TimerId id = next_timer++;
    auto t = std::make_unique<asio::steady_timer>(strand, std::chrono::milliseconds(std::max<std::int64_t>(0, delay_ms)));
    t->async_wait([this, id, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = timers.find(id);
      if (it == timers.end()) return;
      auto keep = std::move(it->second);  // the timer must outlive its own handler
      timers.erase(it);
      if (!failed) fn();
    });
    timers.emplace(id, std::move(t));
    return id;
  }
  void post_raw(std::function<void()> fn) override {
    asio::post(strand, [this, fn = std::move(fn)] {
      if (!failed) fn();
    });
  }

  // ---- SourceContext ----
  bool emit(Batch&& b) override {
    if (finished) {
      dropped.add(b.events.size());
      return true;
    }
    const bool eos = b.end_of_stream;
    b.end_of_stream = false;
    const bool room = deliver(std::move(b));
    if (eos) end_of_stream();
    return room;
  }
  void when_ready_raw(std::function<void()> fn) override { on_outputs_ready(std::move(fn)); }
  const std::vector<KeepCondition>& keep_conditions() const noexcept override { return c.pushed; }
  const std::optional<std::vector<FieldId>>& projection() const noexcept override { return c.projection; }
  void end_of_stream() override {
    if (finished) return;
    finished = true;
    Batch b;
    b.end_of_stream = true;
    deliver(std::move(b));
    for (auto& [id, t] : timers) t->cancel();
    timers.clear();
  }

  // Source shutdown on drain (strand).
  void stop_source() {
    if (finished) return;
    if (started && !failed) check(source().stop(), "stop");
    end_of_stream();
  }
};

void Runtime::Impl::start_drain(const char* why) {
  if (draining.exchange(true)) return;
  log_line(LogLevel::Info, "[host]", std::string("draining (") + why + "): stopping sources, flushing open windows, committing sinks");
  for (auto& n : nodes)
    if (n->kind() == Kind::Source) {
      Node* node = n.get();
      asio::post(node->strand, [node] { node->stop_source(); });
    }
}

void Runtime::Impl::node_failed(Node& n, std::string_view message) {
  log_line(LogLevel::Error, n.prefix, std::string(message) + " (component '" + n.c.spec.name + "' failed; draining the pipeline)");
  int expected = 0;
  exit_code.compare_exchange_strong(expected, 1);
  start_drain("component failure");
}

void Runtime::Impl::sink_finished() {
  if (sinks_open.fetch_sub(1) == 1) stop_lanes();
}

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
    : pipeline(p), options(o), lane_of(place_components(p)), lanes(make_lanes(p, lane_of)), io(lanes.front()->io) {}

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

int Runtime::run() {
  auto& rt = *impl_;
  const auto& settings = rt.pipeline.runtime;
  for (auto& n : rt.nodes)
    if (n->kind() == Kind::Sink) ++rt.sinks_open;

  // Start downstream first so nothing is emitted into a component that is not ready.
  for (auto it = rt.nodes.rbegin(); it != rt.nodes.rend(); ++it) {
    Node* n = it->get();
    asio::post(n->strand, [n] {
      Status s;
      if (n->kind() == Kind::Sink) s = n->sink().start(*n);
      else if (n->kind() == Kind::Transform) s = n->transform().start(*n);
      n->started = s.ok;
      n->check(s, "start");
    });
  }
  log_line(LogLevel::Info, "[host]", describe_placement(rt));
  for (auto& n : rt.nodes)
    if (n->kind() == Kind::Source) {
      Node* node = n.get();
      if (!node->c.pushed.empty())
        log_line(LogLevel::Info, node->prefix,
                 "pushdown from '" + rt.pipeline.components[node->c.pushed_from].spec.name +
                     "': only events with " + describe_conditions(node->c.pushed) + " have any effect downstream");
      asio::post(node->strand, [node] {
        if (node->rt.draining) return node->end_of_stream();
        const Status s = node->source().start(*node);
        node->started = s.ok;
        node->check(s, "start");
      });
    }

  asio::signal_set signals(rt.io);
  std::function<void(const boost::system::error_code&, int)> on_signal;  // outlives every wait
  if (rt.options.handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    on_signal = [&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (rt.signals_seen.fetch_add(1) >= 1) {
        clear_status_line();
        log_line(LogLevel::Warn, "[host]", "second signal: exiting at once, without draining");
        std::_Exit(130);
      }
      rt.start_drain(signo == SIGINT ? "SIGINT" : "SIGTERM");
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
  }

  // Status line on a terminal, progress lines otherwise.
  asio::steady_timer status_timer(rt.io);
  auto totals = [&] {
    std::uint64_t in = 0, out = 0, rows = 0, alerts = 0;
    for (auto& n : rt.nodes) {
      if (n->kind() == Kind::Source) in += n->out_count.value();
      if (n->kind() == Kind::Sink) out += n->in_count.value();
      // By declared role, not by name: a sink's data rows, not alert rows or raw event rows.
      rows += n->c.counters->sum(CounterRole::RowsCommitted);
      alerts += n->c.counters->sum(CounterRole::Alerts);
    }
    return std::array<std::uint64_t, 4>{in, out, rows, alerts};
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  auto last_totals = totals();
  const std::int64_t interval_ms = rt.options.status_line ? settings.status_interval.ms : settings.log_interval.ms;
  std::function<void(const boost::system::error_code&)> tick;
  tick = [&](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::max(1e-3, std::chrono::duration<double>(now - last).count());
    const auto t = totals();
    const double in_rate = static_cast<double>(t[0] - last_totals[0]) / secs;
    const double out_rate = static_cast<double>(t[1] - last_totals[1]) / secs;
    last = now;
    last_totals = t;
    std::string line = "in " + human_count(in_rate) + " ev/s, out " + human_count(out_rate) + " ev/s | events " +
                       human_count(static_cast<double>(t[0])) + " | rows written " + std::to_string(t[2]) +
                       " | alerts " + std::to_string(t[3]);
    if (rt.draining) line += " | draining";
    if (rt.options.status_line) set_status_line(line);
    else log_line(LogLevel::Info, "[host]", "progress: " + line);
    status_timer.expires_after(std::chrono::milliseconds(interval_ms));
    status_timer.async_wait(tick);
  };
  if (interval_ms > 0) {
    status_timer.expires_after(std::chrono::milliseconds(interval_ms));
    status_timer.async_wait(tick);
  }

  // Drain watchdog: once draining, the pipeline gets drain_timeout to finish.
  std::atomic<bool> drain_timed_out{false};
  std::thread watchdog([&] {
    while (!rt.stopped) {
      if (rt.draining) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(settings.drain_timeout.ms);
        while (!rt.stopped && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!rt.stopped) {
          drain_timed_out = true;
          log_line(LogLevel::Error, "[host]",
                   "drain did not finish within " + format_duration(settings.drain_timeout) + "; stopping anyway");
          rt.stop_lanes();
        }
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::vector<std::thread> threads;
  if (settings.placement == Placement::shared)
    for (int i = 1; i < settings.threads; ++i) threads.emplace_back([&] { rt.io.run(); });
  else
    for (std::size_t i = 1; i < rt.lanes.size(); ++i) threads.emplace_back([&rt, i] { rt.lanes[i]->io.run(); });
  rt.io.run();
  for (auto& t : threads) t.join();
  watchdog.join();
  if (rt.options.status_line) clear_status_line();

  // Release everything the components registered with the io_context before stopping them.
  signals.cancel();
  for (auto& n : rt.nodes) {
    for (auto& [id, timer] : n->timers) timer->cancel();
    n->timers.clear();
    n->nudge_timer.cancel();
  }
  for (auto& n : rt.nodes)
    if (n->kind() != Kind::Source && n->started) {
      const Status s = n->c.instance->stop();
      if (!s.ok) log_line(LogLevel::Error, n->prefix, "stop: " + s.message);
    }

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto t = totals();
  char head[160];
  std::snprintf(head, sizeof head, "summary: %.2f s, %llu events in (%s/s), %llu rows written, %llu alerts", secs,
                static_cast<unsigned long long>(t[0]), human_count(static_cast<double>(t[0]) / std::max(secs, 1e-3)).c_str(),
                static_cast<unsigned long long>(t[2]), static_cast<unsigned long long>(t[3]));
  log_line(LogLevel::Info, "[host]", head);
  for (auto& n : rt.nodes) {
    std::string line;
    for (const auto& [k, v] : n->c.counters->snapshot()) {
      if ((k == "queue_depth" || k == "queue_bytes") || (v == 0 && k != "events_in" && k != "events_out")) continue;
      if (n->kind() == Kind::Source && k == "events_in") continue;
      line += (line.empty() ? "" : ", ") + k + "=" + std::to_string(v);
    }
    log_line(LogLevel::Info, n->prefix, line);
  }
  if (drain_timed_out) return 2;
  return rt.exit_code.load();
}

}  // namespace cxflow::host
