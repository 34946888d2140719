// A thread-safe SourceContext for testing source-cxone's real .so: unlike the Harness (which runs
// everything on the caller's thread and has no locking), post() may be called from the plugin's
// network thread here. The test thread plays the strand: run_until() runs posted work and due
// timers (real steady clock) until a condition holds.
#pragma once

#include <cxflow/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cxflow::test {

class LiveContext final : public SourceContext, public Setup {
 public:
  LiveContext();
  ~LiveContext() override;

  // Loads source-cxone through the plugin registry and configures it from YAML. Returns the
  // config errors joined ("" when configured).
  std::string configure(const std::string& plugin, const std::string& yaml);
  void start();  // freezes the field table, starts the source
  void stop();   // Source::stop() on this (strand) thread

  // Runs posted work and timers until `pred` holds or `timeout` passes.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void set_backpressure(bool full);

  std::vector<Event> output;
  std::vector<std::int64_t> watermarks;
  std::vector<std::string> log_lines;
  std::string failure;
  FieldTable table;

  std::uint64_t count(const std::string& counter);
  std::string text(const Event& e, const std::string& field) const;
  double number(const Event& e, const std::string& field) const;
  bool has_log(const std::string& needle) const;

  // Setup
  FieldId field(std::string_view name) override { return table.intern(name); }
  const std::string& component_name() const noexcept override { return name_; }
  Counter& counter(std::string_view name) override;
  void log(LogLevel level, std::string_view message) override;
  void promise_keep_only(KeepCondition) override {}
  // Context
  const Clock& clock() const noexcept override;
  const FieldTable& fields() const noexcept override { return table; }
  void cancel_timer(TimerId id) override;
  void fail(std::string_view message) override;
  // SourceContext
  bool emit(Batch&& batch) override;
  void end_of_stream() override { ended_ = true; }
  bool ended() const noexcept { return ended_; }  // the source called end_of_stream() (strand)
  const std::vector<KeepCondition>& keep_conditions() const noexcept override { return keep; }
  std::vector<KeepCondition> keep;  // handed to the source (pushdown)

 protected:
  TimerId start_timer_raw(std::int64_t delay_ms, std::function<void()> fn) override;
  void post_raw(std::function<void()> fn) override;
  void when_ready_raw(std::function<void()> fn) override;

 private:
  struct Timer {
    std::int64_t due;
    TimerId id;
    std::function<void()> fn;
  };
  std::string name_ = "live";
  std::unique_ptr<InstanceBase> instance_;
  bool started_ = false;
  bool ended_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
  std::vector<Timer> timers_;
  TimerId next_timer_ = 1;
  bool backpressure_ = false;
  std::vector<std::function<void()>> waiters_;
  std::mutex counters_m_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
};

}  // namespace cxflow::test
