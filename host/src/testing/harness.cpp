#include "cxflow/testing.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include "dispatch.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "plugin_registry.hpp"
#include "yaml_loader.hpp"

#ifndef CXFLOW_BUILD_PLUGIN_DIR
#define CXFLOW_BUILD_PLUGIN_DIR ""
#endif

namespace cxflow::testing {

namespace {

host::PluginRegistry& registry() {
  static auto* reg = new host::PluginRegistry({Harness::plugin_dir()});
  return *reg;
}

// Loads only the plugin asked for (tests may run harnesses from several threads).
const PluginApi& find_api(const std::string& plugin) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  const auto* rec = registry().require(plugin);
  if (rec == nullptr) throw std::runtime_error(registry().not_found_message(plugin));
  return *rec->api;
}

struct Timer {
  std::int64_t due;
  TimerId id;
  std::function<void()> fn;
};

}  // namespace

// The plugin under test, driven by the runtime's own dispatch core (host::ComponentDriver) on the
// caller's thread: the same watermark, end-of-stream, output-splitting and failure rules as a
// pipeline, with a fake clock and the outputs recorded.
struct Harness::Impl final : SourceContext, Setup, host::DispatchHost {
  std::string plugin;
  std::string name = "under_test";
  const PluginApi* api = nullptr;
  FieldTable table;
  FakeClock fake_clock;
  std::unique_ptr<InstanceBase> instance;
  std::optional<host::ComponentDriver> driver;  // from start() on
  std::size_t inputs = 1;
  std::size_t batch_events = static_cast<std::size_t>(host::RuntimeSettings{}.batch_events);
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters;
  std::mutex posted_mutex;  // post() and log() may come from a plugin's own threads
  std::deque<std::function<void()>> posted;
  std::vector<Timer> timers;
  TimerId next_timer = 1;
  std::vector<std::function<void()>> ready_waiters;
  bool backpressure = false;
  std::vector<Batch> output;  // what went downstream, batch by batch
  std::vector<std::int64_t> out_watermarks;
  std::size_t emitted = 0;
  bool ended_flag = false;
  bool running = false;  // between start() and stop()
  std::vector<std::string> log_lines;
  std::string failure_text;
  std::string throw_pending;            // a failed call: the harness call that made it throws
  std::vector<KeepCondition> promises;  // what a transform promised while configured
  std::vector<KeepCondition> keep;      // what a source is handed (set_keep_conditions)

  Kind kind() const { return api->kind(); }
  host::ComponentDriver& run_driver(const char* what) {
    if (!driver) throw std::logic_error(std::string("Harness::") + what + ": call start() first, as the runtime does");
    return *driver;
  }
  // Throws for a call that failed during the last harness call (the driver already ended it).
  void rethrow() {
    if (throw_pending.empty()) return;
    throw std::runtime_error(std::exchange(throw_pending, {}));
  }

  // DispatchHost
  bool deliver(Batch&& b) override {
    emitted += b.events.size();
    if (b.watermark_ms != kNoWatermark) out_watermarks.push_back(b.watermark_ms);
    if (b.end_of_stream) ended_flag = true;
    output.push_back(std::move(b));
    return !backpressure;
  }
  void failed(const char* call, std::string_view m) override {
    if (failure_text.empty()) failure_text = std::string(m);
    if (call != nullptr && throw_pending.empty()) throw_pending = plugin + ": " + std::string(m);
  }
  void source_ended() override { timers.clear(); }

  // Setup
  FieldId field(std::string_view n) override { return project(table.intern(n)); }
  // Like the runtime: a source keeps what "the rest of the pipeline" uses (the extra fields the
  // test names) and what it reads itself, not every field it declares it produces.
  FieldId reads(std::string_view n, FieldType, const SourcePos&) override { return project(table.intern(n)); }
  FieldId reads_if_present(std::string_view n, FieldType) override { return project(table.intern(n)); }
  FieldId produces(std::string_view n, FieldType) override { return table.intern(n); }
  void reads_all() override { keep_all = true; }
  FieldId project(FieldId id) {
    auto& ids = *projected;
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.insert(std::upper_bound(ids.begin(), ids.end(), id), id);
    return id;
  }
  const std::optional<std::vector<FieldId>>& projection() const noexcept override {
    return keep_all ? every : projected;
  }
  std::optional<std::vector<FieldId>> projected = std::vector<FieldId>{};
  std::optional<std::vector<FieldId>> every;
  bool keep_all = false;
  const std::string& component_name() const noexcept override { return name; }
  Counter& counter(std::string_view n) override {
    auto it = counters.find(n);
    if (it == counters.end()) it = counters.emplace(std::string(n), std::make_unique<Counter>()).first;
    return *it->second;
  }
  void log(LogLevel level, std::string_view m) override {
    std::lock_guard lock(posted_mutex);
    log_lines.push_back(std::string(host::level_name(level)) + " " + std::string(m));
  }
  void promise_keep_only(KeepCondition c) override { promises.push_back(std::move(c)); }
  // Context
  const Clock& clock() const noexcept override { return fake_clock; }
  const FieldTable& fields() const noexcept override { return table; }
  void cancel_timer(TimerId id) override {
    timers.erase(std::remove_if(timers.begin(), timers.end(), [&](const Timer& t) { return t.id == id; }),
                 timers.end());
  }
  void fail(std::string_view m) override {
    if (driver)
      driver->fail(m);
    else if (failure_text.empty())
      failure_text = std::string(m);
  }
  TimerId start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) override {
    const TimerId id = next_timer++;
    timers.push_back(Timer{fake_clock.steady_ms() + std::max<std::int64_t>(0, delay_ms), id, std::move(fn)});
    return id;
  }
  void post_raw(std::function<void()> fn) override {
    std::lock_guard lock(posted_mutex);
    posted.push_back(std::move(fn));
  }
  // SourceContext
  bool emit(Batch&& b) override { return run_driver("emit").source_emit(std::move(b)); }
  void end_of_stream() override { run_driver("end_of_stream").source_end_of_stream(); }
  const std::vector<KeepCondition>& keep_conditions() const noexcept override { return keep; }
  void when_ready_raw(std::function<void()> fn) override {
    if (!backpressure)
      post_raw(std::move(fn));
    else
      ready_waiters.push_back(std::move(fn));
  }
  bool plugin_failed() const { return driver && driver->failed(); }

  bool run_one_ready() {
    std::function<void()> next;
    {
      std::lock_guard lock(posted_mutex);
      if (!posted.empty()) {
        next = std::move(posted.front());
        posted.pop_front();
      }
    }
    if (next) {
      if (!plugin_failed()) next();
      return true;
    }
    auto it = std::min_element(timers.begin(), timers.end(), [](const Timer& a, const Timer& b) {
      return a.due != b.due ? a.due < b.due : a.id < b.id;
    });
    if (it != timers.end() && it->due <= fake_clock.steady_ms()) {
      auto fn = std::move(it->fn);
      timers.erase(it);
      if (!plugin_failed()) fn();
      return true;
    }
    return false;
  }
};

EventBuilder& EventBuilder::set(std::string_view field, Value v) {
  if (auto id = h_.impl_->table.find(field)) e_.set(*id, std::move(v));
  return *this;
}

namespace {
std::string& plugin_dir_override() {
  static std::string dir;
  return dir;
}
}  // namespace

void Harness::set_plugin_dir(std::string dir) { plugin_dir_override() = std::move(dir); }

std::string Harness::plugin_dir() {
  if (!plugin_dir_override().empty()) return plugin_dir_override();
  if (const char* d = std::getenv("CXFLOW_TEST_PLUGIN_DIR")) return d;
  return CXFLOW_BUILD_PLUGIN_DIR;
}

const PluginApi& Harness::api(const std::string& plugin) { return find_api(plugin); }

Harness::Harness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Harness::Harness(Harness&&) noexcept = default;
Harness& Harness::operator=(Harness&&) noexcept = default;
Harness::~Harness() {
  if (!impl_ || !impl_->running || !impl_->driver) return;
  // As at the end of a run: a source that has not ended is stopped, a transform or sink that
  // started gets its final stop().
  if (impl_->kind() == Kind::Source)
    impl_->driver->stop_source();
  else
    (void)impl_->driver->stop_instance();
}

static std::unique_ptr<Harness::Impl> configure(const std::string& plugin, const std::string& yaml,
                                                const std::vector<std::string>& extra,
                                                std::vector<ConfigError>& errors) {
  auto impl = std::make_unique<Harness::Impl>();
  impl->plugin = plugin;
  impl->api = &find_api(plugin);
  for (const auto& f : extra) impl->project(impl->table.intern(f));
  ConfigNode node = host::parse_yaml(yaml, "<test>", host::process_env(), errors);
  if (!errors.empty()) return impl;
  impl->instance = impl->api->configure(node, *impl, errors);
  return impl;
}

Harness Harness::load(const std::string& plugin, const std::string& yaml, std::vector<std::string> extra_fields) {
  std::vector<ConfigError> errors;
  auto impl = configure(plugin, yaml, extra_fields, errors);
  if (!errors.empty() || !impl->instance) {
    std::string msg = "configuring " + plugin + " failed:";
    for (const auto& e : errors) msg += "\n  " + e.str();
    throw std::runtime_error(msg);
  }
  return Harness(std::move(impl));
}

std::vector<ConfigError> Harness::config_errors(const std::string& plugin, const std::string& yaml) {
  std::vector<ConfigError> errors;
  configure(plugin, yaml, {}, errors);
  return errors;
}

FakeClock& Harness::clock() { return impl_->fake_clock; }
const FieldTable& Harness::fields() const { return impl_->table; }
FieldId Harness::field(std::string_view name) const {
  if (auto id = impl_->table.find(name)) return *id;
  throw std::runtime_error("field '" + std::string(name) + "' is not used by the plugin under test");
}

void Harness::set_inputs(std::size_t n) {
  if (impl_->driver) throw std::logic_error("Harness::set_inputs: call it before start()");
  if (impl_->kind() == Kind::Source) throw std::logic_error("Harness::set_inputs: a source has no inputs");
  if (n == 0) throw std::logic_error("Harness::set_inputs: a transform or sink has at least one input");
  impl_->inputs = n;
}

void Harness::set_batch_events(std::size_t n) {
  if (impl_->driver) throw std::logic_error("Harness::set_batch_events: call it before start()");
  impl_->batch_events = std::max<std::size_t>(1, n);
}

void Harness::start() {
  if (impl_->driver) throw std::logic_error("Harness::start: already started (the runtime starts a component once)");
  impl_->table.freeze();
  impl_->driver.emplace(
      *impl_->instance, impl_->kind() == Kind::Source ? 0 : impl_->inputs, impl_->batch_events, *impl_,
      host::DispatchCounters{impl_->counter("events_in"), impl_->counter("events_out"), impl_->counter("dropped"),
                             impl_->counter("errors"), impl_->counter("copied")});
  impl_->running = true;
  if (impl_->kind() == Kind::Source)
    impl_->driver->start_source(*impl_);
  else
    impl_->driver->start(*impl_);
  impl_->rethrow();
}

void Harness::stop() {
  if (!impl_->running) return;
  impl_->running = false;
  if (impl_->kind() == Kind::Source) {
    impl_->driver->stop_source();
    impl_->rethrow();
    return;
  }
  const Status s = impl_->driver->stop_instance();
  if (!s.ok) {
    if (impl_->failure_text.empty()) impl_->failure_text = s.message;
    throw std::runtime_error(impl_->plugin + ": " + s.message);
  }
}

void Harness::push(std::vector<Event> events, std::size_t input) {
  Batch b;
  b.events = std::move(events);
  push(std::move(b), input);
}

void Harness::push(Batch batch, std::size_t input) {
  if (impl_->kind() == Kind::Source) throw std::logic_error("push() is for transforms and sinks");
  if (input >= impl_->inputs)
    throw std::logic_error("Harness::push: input " + std::to_string(input) + " of " + std::to_string(impl_->inputs) +
                           " (see set_inputs())");
  impl_->run_driver("push").receive(input, batch, true);
  impl_->rethrow();
}

void Harness::watermark(std::int64_t wm, std::size_t input) {
  Batch b;
  b.watermark_ms = wm;
  push(std::move(b), input);
}

void Harness::end_of_stream(std::size_t input) {
  Batch b;
  b.end_of_stream = true;
  push(std::move(b), input);
}

void Harness::run_ready() {
  while (impl_->run_one_ready()) {
  }
}

std::size_t Harness::run(std::size_t max_events, std::int64_t max_advance_ms) {
  const std::size_t start = impl_->emitted;
  const std::int64_t clock_limit = impl_->fake_clock.steady_ms() + max_advance_ms;
  while (!impl_->ended_flag && impl_->emitted - start < max_events && impl_->failure_text.empty()) {
    if (impl_->run_one_ready()) continue;
    if (impl_->timers.empty()) break;
    const auto next = std::min_element(impl_->timers.begin(), impl_->timers.end(),
                                       [](const Timer& a, const Timer& b) { return a.due < b.due; });
    if (next->due > clock_limit) break;
    impl_->fake_clock.advance(next->due - impl_->fake_clock.steady_ms());
  }
  return impl_->emitted - start;
}

void Harness::advance(std::int64_t ms) {
  const std::int64_t target = impl_->fake_clock.steady_ms() + ms;
  for (;;) {
    run_ready();
    auto next = std::min_element(impl_->timers.begin(), impl_->timers.end(),
                                 [](const Timer& a, const Timer& b) { return a.due < b.due; });
    if (next == impl_->timers.end() || next->due > target) break;
    impl_->fake_clock.advance(next->due - impl_->fake_clock.steady_ms());
  }
  impl_->fake_clock.advance(target - impl_->fake_clock.steady_ms());
  run_ready();
}

const std::vector<KeepCondition>& Harness::promises() const { return impl_->promises; }
void Harness::set_keep_conditions(std::vector<KeepCondition> conditions) {
  if (impl_->driver) throw std::logic_error("Harness::set_keep_conditions: call it before start()");
  impl_->keep = std::move(conditions);
}

void Harness::set_backpressure(bool full) {
  impl_->backpressure = full;
  if (!full) {
    for (auto& fn : impl_->ready_waiters) impl_->post_raw(std::move(fn));
    impl_->ready_waiters.clear();
  }
}

std::vector<Event> Harness::take() {
  std::vector<Event> events;
  for (auto& b : impl_->output) {
    if (events.empty())
      events = std::move(b.events);
    else
      events.insert(events.end(), std::make_move_iterator(b.events.begin()), std::make_move_iterator(b.events.end()));
  }
  impl_->output.clear();
  return events;
}
std::vector<Batch> Harness::take_batches() { return std::exchange(impl_->output, {}); }
const std::vector<std::int64_t>& Harness::watermarks() const { return impl_->out_watermarks; }
bool Harness::ended() const { return impl_->ended_flag; }
std::uint64_t Harness::counter(std::string_view name) const {
  auto it = impl_->counters.find(name);
  return it == impl_->counters.end() ? 0 : it->second->value();
}
const std::vector<std::string>& Harness::logs() const { return impl_->log_lines; }
const std::string& Harness::failure() const { return impl_->failure_text; }

std::optional<double> Harness::number(const Event& e, std::string_view f) const {
  auto id = impl_->table.find(f);
  if (!id) return std::nullopt;
  const Value* v = e.get(*id);
  return v ? as_number(*v) : std::nullopt;
}
std::string Harness::text(const Event& e, std::string_view f) const {
  auto id = impl_->table.find(f);
  if (!id) return {};
  const Value* v = e.get(*id);
  return v ? to_text(*v) : std::string();
}
bool Harness::has(const Event& e, std::string_view f) const {
  auto id = impl_->table.find(f);
  return id && e.get(*id) != nullptr;
}

}  // namespace cxflow::testing
