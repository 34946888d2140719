// test-source: emits `count` events (field `seq` = 0..count-1, event time = start_ms + seq*step_ms)
// in batches of `batch`, honouring backpressure; with `forever: true` it runs until stopped.
// `fail_at` makes it report a failure after that many events. Counters `thread` and
// `threads_seen` tell which threads ran it (thread_probe.hpp).
#include <cxflow/plugin.hpp>

#include "thread_probe.hpp"

namespace {

struct Config {
  std::int64_t count = 100;
  std::int64_t batch = 10;
  std::int64_t start_ms = 0;
  std::int64_t step_ms = 1000;
  bool forever = false;
  std::int64_t fail_at = -1;
  cxflow::Duration pace{0};
  std::string group_field = "group";
  std::int64_t groups = 1;
};

class TestSource final : public cxflow::Source {
 public:
  TestSource(const Config& c, cxflow::Setup& s)
      : cfg_(c), seq_(s.field("seq")), group_(s.field(c.group_field)), emitted_(s.counter("generated")), probe_(s) {}
  void start(cxflow::SourceContext& ctx) override {
    ctx_ = &ctx;
    ctx.post([this] { step(); });
  }
  void stop() override { stopped_ = true; }

 private:
  void step() {
    if (stopped_) return;
    probe_.touch();
    cxflow::Batch b;
    for (std::int64_t i = 0; i < cfg_.batch && (cfg_.forever || n_ < cfg_.count); ++i, ++n_) {
      if (n_ == cfg_.fail_at) {
        ctx_->fail("test-source failing on purpose at event " + std::to_string(n_));
        return;
      }
      cxflow::Event e;
      e.time_ms = cfg_.start_ms + n_ * cfg_.step_ms;
      e.set(seq_, cxflow::Value(n_));
      e.set(group_, cxflow::Value("g" + std::to_string(n_ % cfg_.groups)));
      b.events.push_back(std::move(e));
    }
    emitted_.add(b.events.size());
    b.watermark_ms = cfg_.start_ms + n_ * cfg_.step_ms;
    const bool done = !cfg_.forever && n_ >= cfg_.count;
    b.end_of_stream = done;
    const bool room = ctx_->emit(std::move(b));
    if (done) return;
    if (!room)
      ctx_->when_ready([this] { step(); });
    else if (cfg_.pace.ms > 0)
      ctx_->start_timer(cfg_.pace.ms, [this] { step(); });
    else
      ctx_->post([this] { step(); });
  }

  Config cfg_;
  cxflow::FieldId seq_, group_;
  cxflow::Counter& emitted_;
  ThreadProbe probe_;
  cxflow::SourceContext* ctx_ = nullptr;
  std::int64_t n_ = 0;
  bool stopped_ = false;
};

struct Plugin {
  static constexpr const char* name = "test-source";
  static constexpr const char* version = "0.0.1";
  static constexpr const char* description = "Emits numbered events (host tests only)";
  static constexpr const char* example = "count: 10\n";
  using Config = ::Config;
  using Instance = TestSource;
  static void schema(cxflow::Schema<Config>& s) {
    s.key("count", &Config::count, "Events to emit").def("100").min(0);
    s.key("batch", &Config::batch, "Events per batch").def("10").range(1, 100000);
    s.key("start_ms", &Config::start_ms, "Event time of the first event").def("0");
    s.key("step_ms", &Config::step_ms, "Event time step").def("1000");
    s.key("forever", &Config::forever, "Run until stopped").def("false");
    s.key("fail_at", &Config::fail_at, "Fail at this event (-1 never)").def("-1");
    s.key("pace", &Config::pace, "Wait between batches").def("0ms");
    s.key("group_field", &Config::group_field, "Field holding the group").def("group");
    s.key("groups", &Config::groups, "Number of groups").def("1").min(1);
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
