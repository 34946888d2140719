// Time for the runtime: one clock and the timers every component, the status line and the
// watchdogs use. RealTime is the system's clocks and Asio's steady timers. VirtualTime is a
// clock that stands still until it is moved: the runtime then runs every component on one thread
// and, whenever nothing is runnable, jumps to the next timer (or a test advances it), so a
// pipeline that paces itself over hours of event time runs in milliseconds, deterministically.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cxflow/component.hpp"

namespace cxflow::host {

// A one-shot timer that can be re-armed. Its callback runs on the executor it was made for
// (a component's strand), unless it was cancelled or re-armed first, or the timer is gone.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void start(std::int64_t delay_ms, std::function<void()> fn) = 0;
  virtual void cancel() = 0;
};

class TimeService {
 public:
  virtual ~TimeService() = default;
  virtual const Clock& clock() const noexcept = 0;
  virtual std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) = 0;
  // Virtual time: the runtime drives every component from one thread (see VirtualTime).
  virtual bool is_virtual() const noexcept { return false; }
};

// The system clocks; timers are boost::asio::steady_timer.
class RealTime final : public TimeService {
 public:
  const Clock& clock() const noexcept override;
  std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) override;
};
RealTime& real_time();

class VirtualTime final : public TimeService, public Clock {
 public:
  // `auto_advance`: the runtime jumps to the next timer whenever every component is idle.
  // Without it the clock moves only by advance() (from any thread, e.g. a test's).
  explicit VirtualTime(bool auto_advance = true, std::int64_t wall_start_ms = 1'767'225'600'000 /* 2026-01-01 */);
  ~VirtualTime() override;

  const Clock& clock() const noexcept override { return *this; }
  std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) override;
  bool is_virtual() const noexcept override { return true; }

  std::int64_t wall_ms() const noexcept override { return wall_start_ms_ + now_.load(std::memory_order_acquire); }
  std::int64_t steady_ms() const noexcept override { return now_.load(std::memory_order_acquire); }

  bool auto_advance() const noexcept { return auto_advance_; }
  // Moves the clock by `ms`, firing (posting) every timer that falls due on the way, in order.
  void advance(std::int64_t ms);
  // Moves the clock to the earliest pending timer and fires every timer due then. False if no
  // timer is pending.
  bool fire_next();
  std::size_t pending() const;

  struct Entry;
  struct State;

 private:
  friend class VirtualTimer;
  void schedule(const std::shared_ptr<State>& state, std::int64_t due, std::uint64_t generation);
  // Fires the entries due at or before `t`, setting the clock to each one's time; then the clock
  // is max(its time, t).
  void fire_until(std::int64_t t);

  const bool auto_advance_;
  const std::int64_t wall_start_ms_;
  std::atomic<std::int64_t> now_{0};
  mutable std::mutex mutex_;
  std::vector<Entry> heap_;
  std::uint64_t seq_ = 0;
};

}  // namespace cxflow::host
