// test-sink: appends "seq" of every event to `path`, one per line, and writes "END" at end of
// stream; `slow_ms` sleeps per batch (to build backpressure); `secret` is a secret key;
// `log_watermarks` writes "wm MS" for every watermark. Counters
// `thread` and `threads_seen` tell which threads ran it (thread_probe.hpp).
#include <cxflow/plugin.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "thread_probe.hpp"

#ifndef CXFLOW_TEST_PLUGIN_NAME
#define CXFLOW_TEST_PLUGIN_NAME "test-sink"
#endif

namespace {

struct Config {
  std::string path;
  std::int64_t slow_ms = 0;
  cxflow::Secret token;
  std::string mode = "append";
  std::int64_t pin = 0;
  bool log_watermarks = false;
};

class TestSink final : public cxflow::Sink {
 public:
  TestSink(const Config& c, cxflow::Setup& s)
      : cfg_(c), seq_(s.field("seq")), rows_(s.counter("rows_written")), probe_(s) {}
  void start(cxflow::Context&) override { out_.open(cfg_.path, std::ios::app); }
  void write(const cxflow::Batch& in) override {
    probe_.touch();
    for (const auto& e : in.events) {
      const auto* v = e.get(seq_);
      out_ << (v ? cxflow::to_text(*v) : std::string("?")) << "\n";
    }
    rows_.add(in.events.size());
    if (cfg_.slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.slow_ms));
  }
  void on_watermark(std::int64_t watermark_ms) override {
    if (cfg_.log_watermarks) out_ << "wm " << watermark_ms << std::endl;
  }
  void on_end_of_stream() override {
    out_ << "END\n";
    out_.flush();
  }

 private:
  Config cfg_;
  cxflow::FieldId seq_;
  cxflow::Counter& rows_;
  std::ofstream out_;
  ThreadProbe probe_;
};

struct Plugin {
  static constexpr const char* name = CXFLOW_TEST_PLUGIN_NAME;
  static constexpr const char* version = "0.0.1";
  static constexpr const char* description = "Writes seq of each event to a file (host tests only)";
  static constexpr const char* example = "path: /tmp/cxflow-test-sink.txt\n";
  using Config = ::Config;
  using Instance = TestSink;
  static void schema(cxflow::Schema<Config>& s) {
    s.key("path", &Config::path, "Output file").required();
    s.key("slow_ms", &Config::slow_ms, "Sleep per batch").def("0").min(0);
    s.key("token", &Config::token, "A secret, never printed");
    s.key("mode", &Config::mode, "How to open the file").def("append").one_of({"append", "truncate"});
    s.key("pin", &Config::pin, "A secret number, never printed").secret().range(0, 9999);
    s.key("log_watermarks", &Config::log_watermarks, "Write a line 'wm MS' for every watermark").def("false");
  }
};

}  // namespace

#ifdef CXFLOW_TEST_FAKE_ABI_VERSION
// Exactly what CXFLOW_PLUGIN exports, but claiming another ABI version.
extern "C" __attribute__((visibility("default"))) const cxflow_plugin_descriptor* cxflow_plugin_entry() noexcept {
  static const ::cxflow::detail::PluginImpl<Plugin> api;
  static const cxflow_plugin_descriptor d{CXFLOW_PLUGIN_MAGIC, CXFLOW_TEST_FAKE_ABI_VERSION, CXFLOW_BUILD_KEY,
                                          Plugin::name, &api};
  return &d;
}
#else
CXFLOW_PLUGIN(Plugin)
#endif
