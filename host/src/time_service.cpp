#include "time_service.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>

namespace cxflow::host {

namespace asio = boost::asio;

namespace {

class SystemClock final : public Clock {
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
const SystemClock g_system_clock;

class RealTimer final : public Timer {
 public:
  explicit RealTimer(const asio::any_io_executor& ex) : timer_(ex) {}
  void start(std::int64_t delay_ms, std::function<void()> fn) override {
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, delay_ms)));
    timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }
  void cancel() override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace

const Clock& RealTime::clock() const noexcept { return g_system_clock; }
std::unique_ptr<Timer> RealTime::make_timer(const asio::any_io_executor& ex) { return std::make_unique<RealTimer>(ex); }
RealTime& real_time() {
  static RealTime t;
  return t;
}

// ---- virtual time ----

struct VirtualTime::State {
  asio::any_io_executor executor;
  std::function<void()> fn;
  std::uint64_t generation = 0;  // bumped by every start() and cancel(): older entries are stale
};

struct VirtualTime::Entry {
  std::int64_t due;
  std::uint64_t seq;  // ties fire in the order they were armed
  std::weak_ptr<State> state;
  std::uint64_t generation;
  bool operator>(const Entry& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

class VirtualTimer final : public Timer {
 public:
  VirtualTimer(VirtualTime& vt, const asio::any_io_executor& ex)
      : vt_(vt), state_(std::make_shared<VirtualTime::State>()) {
    state_->executor = ex;
  }
  ~VirtualTimer() override { cancel(); }
  void start(std::int64_t delay_ms, std::function<void()> fn) override {
    std::uint64_t gen;
    {
      std::lock_guard lock(vt_.mutex_);
      gen = ++state_->generation;
      state_->fn = std::move(fn);
    }
    vt_.schedule(state_, vt_.steady_ms() + std::max<std::int64_t>(0, delay_ms), gen);
  }
  void cancel() override {
    std::lock_guard lock(vt_.mutex_);
    ++state_->generation;
    state_->fn = nullptr;
  }

 private:
  VirtualTime& vt_;
  std::shared_ptr<VirtualTime::State> state_;
};

VirtualTime::VirtualTime(bool auto_advance, std::int64_t wall_start_ms)
    : auto_advance_(auto_advance), wall_start_ms_(wall_start_ms) {}
VirtualTime::~VirtualTime() = default;

std::unique_ptr<Timer> VirtualTime::make_timer(const asio::any_io_executor& ex) {
  return std::make_unique<VirtualTimer>(*this, ex);
}

void VirtualTime::schedule(const std::shared_ptr<State>& state, std::int64_t due, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  heap_.push_back(Entry{due, seq_++, state, generation});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
}

std::size_t VirtualTime::pending() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& e : heap_)
    if (auto s = e.state.lock(); s && s->generation == e.generation) ++n;
  return n;
}

void VirtualTime::fire_until(std::int64_t t) {
  for (;;) {
    asio::any_io_executor ex;
    std::function<void()> fn;
    {
      std::lock_guard lock(mutex_);
      if (heap_.empty() || heap_.front().due > t) break;
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      Entry e = std::move(heap_.back());
      heap_.pop_back();
      auto s = e.state.lock();
      if (!s || s->generation != e.generation || !s->fn) continue;  // cancelled, re-armed or gone
      now_.store(std::max(now_.load(std::memory_order_relaxed), e.due), std::memory_order_release);
      ex = s->executor;
      fn = std::exchange(s->fn, nullptr);
    }
    asio::post(ex, std::move(fn));
  }
  now_.store(std::max(now_.load(std::memory_order_relaxed), t), std::memory_order_release);
}

void VirtualTime::advance(std::int64_t ms) { fire_until(steady_ms() + std::max<std::int64_t>(0, ms)); }

bool VirtualTime::fire_next() {
  std::int64_t due = 0;
  {
    std::lock_guard lock(mutex_);
    // Drop stale entries so that only a live timer moves the clock.
    while (!heap_.empty()) {
      const Entry& e = heap_.front();
      auto s = e.state.lock();
      if (s && s->generation == e.generation && s->fn) break;
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      heap_.pop_back();
    }
    if (heap_.empty()) return false;
    due = heap_.front().due;
  }
  fire_until(std::max(due, steady_ms()));
  return true;
}

}  // namespace cxflow::host
