// test-transform: passes events through; `throw_at_seq` throws from process() when it sees that
// seq; `hold: true` keeps every event until end of stream (like an open window); `block_ms`
// sleeps that long inside the first process() call (a plugin stuck in a call). Counters
// `thread` and `threads_seen` tell which threads ran it (thread_probe.hpp).
#include <cxflow/plugin.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "thread_probe.hpp"

namespace {

struct Config {
  std::int64_t throw_at_seq = -1;
  bool hold = false;
  std::int64_t block_ms = 0;
};

class TestTransform final : public cxflow::Transform {
 public:
  TestTransform(const Config& c, cxflow::Setup& s) : cfg_(c), seq_(s.field("seq")), probe_(s) {}
  void process(cxflow::Batch& in, cxflow::Emitter& out) override {
    probe_.touch();
    if (cfg_.block_ms > 0 && !blocked_) {
      blocked_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.block_ms));
    }
    for (const auto& e : in.events) {
      const auto* v = e.get(seq_);
      if (v && cxflow::as_number(*v) == static_cast<double>(cfg_.throw_at_seq))
        throw std::runtime_error("test-transform throwing on purpose at seq " + std::to_string(cfg_.throw_at_seq));
    }
    if (cfg_.hold) {
      for (auto& e : in.events) held_.push_back(std::move(e));
      return;
    }
    out.emit(std::move(in));
  }
  void on_end_of_stream(cxflow::Emitter& out) override {
    for (auto& e : held_) out.emit(std::move(e));
    held_.clear();
  }

 private:
  Config cfg_;
  cxflow::FieldId seq_;
  std::vector<cxflow::Event> held_;
  bool blocked_ = false;
  ThreadProbe probe_;
};

struct Plugin {
  static constexpr const char* name = "test-transform";
  static constexpr const char* version = "0.0.1";
  static constexpr const char* description = "Passes events through (host tests only)";
  static constexpr const char* example = "hold: false\n";
  using Config = ::Config;
  using Instance = TestTransform;
  static void schema(cxflow::Schema<Config>& s) {
    s.key("throw_at_seq", &Config::throw_at_seq, "Throw when this seq passes").def("-1");
    s.key("hold", &Config::hold, "Hold every event until end of stream").def("false");
    s.key("block_ms", &Config::block_ms, "Sleep this long inside the first process() call").def("0").min(0);
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
