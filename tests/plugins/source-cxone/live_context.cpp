#include "live_context.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cxflow/testing.hpp"

namespace cxflow::test {

namespace {

class SteadyClock final : public Clock {
 public:
  std::int64_t wall_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t steady_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};
const SteadyClock g_clock;

ConfigNode to_node(const YAML::Node& y) {
  SourcePos pos{"<test>", y.Mark().line + 1, y.Mark().column + 1};
  if (y.IsScalar()) return ConfigNode::make_scalar(y.Scalar(), pos);
  if (y.IsSequence()) {
    ConfigNode n = ConfigNode::make_sequence(pos);
    for (const auto& item : y) n.push(to_node(item));
    return n;
  }
  if (y.IsMap()) {
    ConfigNode n = ConfigNode::make_map(pos);
    for (const auto& kv : y) n.add(kv.first.Scalar(), to_node(kv.second));
    return n;
  }
  ConfigNode n;
  n.pos = pos;
  return n;
}

}  // namespace

LiveContext::LiveContext() = default;

LiveContext::~LiveContext() {
  if (started_) stop();
  if (std::getenv("CXONE_TEST_LOGS"))
    for (const auto& l : log_lines) std::fprintf(stderr, "  log: %s\n", l.c_str());
}

std::string LiveContext::configure(const std::string& plugin, const std::string& yaml) {
  const PluginApi& api = cxflow::testing::Harness::api(plugin);
  std::vector<ConfigError> errors;
  instance_ = api.configure(to_node(YAML::Load(yaml)), *this, errors);
  std::string out;
  for (const auto& e : errors) out += e.str() + "\n";
  if (!instance_ && out.empty()) out = "configure returned nothing";
  return out;
}

void LiveContext::start() {
  table.freeze();
  started_ = true;
  const Status s = static_cast<SourceInstance&>(*instance_).start(*this);
  if (!s.ok && failure.empty()) failure = s.message;
}

void LiveContext::stop() {
  if (!started_) return;
  started_ = false;
  const Status s = instance_->stop();
  if (!s.ok && failure.empty()) failure = s.message;
}

bool LiveContext::run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lock(m_);
        if (posted_.empty()) break;
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
      fn();
    }
    const std::int64_t now = g_clock.steady_ms();
    std::int64_t next_due = now + 10;
    for (;;) {
      auto it = std::min_element(timers_.begin(), timers_.end(),
                                 [](const Timer& a, const Timer& b) { return a.due < b.due; });
      if (it == timers_.end()) break;
      if (it->due > now) {
        next_due = std::min(next_due, it->due);
        break;
      }
      auto fn = std::move(it->fn);
      timers_.erase(it);
      fn();
    }
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(1, next_due - now)),
                 [&] { return !posted_.empty(); });
  }
}

void LiveContext::set_backpressure(bool full) {
  backpressure_ = full;
  if (!full) {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& w : waiters_) posted_.push_back(std::move(w));
    waiters_.clear();
  }
}

std::uint64_t LiveContext::count(const std::string& name) {
  std::lock_guard<std::mutex> lock(counters_m_);
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second->value();
}

std::string LiveContext::text(const Event& e, const std::string& f) const {
  auto id = table.find(f);
  if (!id) return {};
  const Value* v = e.get(*id);
  return v ? to_text(*v) : std::string();
}

double LiveContext::number(const Event& e, const std::string& f) const {
  auto id = table.find(f);
  if (!id) return -1;
  const Value* v = e.get(*id);
  auto n = v ? as_number(*v) : std::nullopt;
  return n ? *n : -1;
}

bool LiveContext::has_log(const std::string& needle) const {
  for (const auto& l : log_lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

Counter& LiveContext::counter(std::string_view name) {
  std::lock_guard<std::mutex> lock(counters_m_);
  auto it = counters_.find(name);
  if (it == counters_.end()) it = counters_.emplace(std::string(name), std::make_unique<Counter>()).first;
  return *it->second;
}

void LiveContext::log(LogLevel level, std::string_view message) {
  static const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  log_lines.push_back(std::string(names[static_cast<int>(level)]) + " " + std::string(message));
}

const Clock& LiveContext::clock() const noexcept { return g_clock; }

void LiveContext::cancel_timer(TimerId id) {
  timers_.erase(std::remove_if(timers_.begin(), timers_.end(), [&](const Timer& t) { return t.id == id; }),
                timers_.end());
}

void LiveContext::fail(std::string_view message) {
  if (failure.empty()) failure = std::string(message);
}

bool LiveContext::emit(Batch&& b) {
  for (auto& e : b.events) output.push_back(std::move(e));
  if (b.watermark_ms != kNoWatermark) watermarks.push_back(b.watermark_ms);
  return !backpressure_;
}

TimerId LiveContext::start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) {
  const TimerId id = next_timer_++;
  timers_.push_back(Timer{g_clock.steady_ms() + std::max<std::int64_t>(0, delay_ms), id, std::move(fn)});
  return id;
}

void LiveContext::post_raw(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(m_);
    posted_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void LiveContext::when_ready_raw(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(m_);
  if (!backpressure_)
    posted_.push_back(std::move(fn));
  else
    waiters_.push_back(std::move(fn));
}

}  // namespace cxflow::test
