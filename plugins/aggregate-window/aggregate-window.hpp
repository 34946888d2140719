// aggregate-window: tumbling-window aggregates on event time.
//
// Windows are [start, start + window) aligned to the epoch. Events are assigned by
// Event::time_ms; a window closes when the watermark reaches its end plus allowed_lateness and
// then emits one event per (window, group). See README.md for the semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cxflow/component.hpp"
#include "cxflow/condition.hpp"
#include "cxflow/config.hpp"
#include "cxflow/event.hpp"
#include "metric_expr.hpp"
#include "sketches.hpp"

namespace cxflow::aggwin {

struct AggregateWindowConfig {
  Duration window{};
  Duration allowed_lateness{};
  std::vector<std::string> group_by;
  ConfigNode metrics;  // map name -> expression; kept as a node for the positions of each expression
  std::int64_t max_groups = 10000;
  std::int64_t max_open_windows = 1000;
  std::int64_t distinct_exact_limit = 10000;
  std::int64_t distinct_hll_precision = 14;
  std::int64_t percentile_exact_limit = 1000;
  double percentile_relative_error = 0.01;
  bool flush_on_end = true;
};

class AggregateWindow final : public ReadOnlyTransform {
 public:
  AggregateWindow(const AggregateWindowConfig& cfg, Setup& setup);
  ~AggregateWindow() override;

  void start(Context& ctx) override;
  void process(const Batch& in, Emitter& out) override;
  void on_watermark(std::int64_t watermark_ms, Emitter& out) override;
  void on_end_of_stream(Emitter& out) override;

  // What one accumulator keeps per (window, group). Metrics that read the same thing share one
  // (avg/min/max/sum of a field under the same where, all percentiles of a field...).
  struct AccState {
    std::int64_t n = 0;     // count: events; numeric/quantiles/distinct: values; ratio: denominator
    std::int64_t hits = 0;  // ratio: numerator
    double sum = 0;
    double min = 0;
    double max = 0;
    std::unique_ptr<Quantiles> quantiles;
    std::unique_ptr<Distinct> distinct;
  };
  struct Window;

 private:
  enum class AccKind { Count, Numeric, Quantiles, Distinct, Ratio };
  struct Acc {
    AccKind kind = AccKind::Count;
    int slot = -1;   // index into the per-event value slots (field-reading kinds)
    int where = -1;  // index into wheres_, -1 = every event
    Condition ratio;
    std::string identity;  // for sharing
  };
  struct Metric {
    std::string name;
    FieldId out = kNoField;
    Fn fn = Fn::Count;
    std::size_t acc = 0;
    PercentileE4 percentile = 0;
  };

  int slot_for(FieldId id);
  int where_for(const std::string& text, const SourcePos& pos, const std::string& metric, Setup& setup);
  std::size_t acc_for(Acc acc);

  Window* window_for(std::int64_t start_ms, Emitter& out);
  std::uint32_t group_for(Window& w);
  void close_front(Emitter& out);
  void emit_window(Window& w, Emitter& out);
  void metric_value(const Metric& m, AccState& st, Value& v);
  void warn_overflow();

  // Config.
  std::int64_t window_ms_;
  std::int64_t lateness_ms_;
  std::size_t max_groups_;
  std::size_t max_open_windows_;
  bool flush_on_end_;
  QuantileParams qparams_;
  DistinctParams dparams_;

  // Field ids and plan.
  FieldId window_start_id_;
  FieldId window_end_id_;
  std::vector<FieldId> group_ids_;
  std::vector<int> group_slots_;
  std::vector<FieldId> slot_fields_;  // slot -> field id
  std::vector<int> slot_of_;          // field id -> slot (-1 = not read)
  std::vector<Condition> wheres_;
  std::vector<Acc> accs_;
  std::vector<Metric> metrics_;

  // Counters.
  Counter* windows_emitted_;
  Counter* late_events_;
  Counter* groups_overflow_;
  Counter* non_numeric_;
  Counter* windows_forced_;
  Counter* invalid_time_;

  // Runtime state.
  Context* ctx_ = nullptr;
  std::int64_t watermark_ms_ = kNoWatermark;
  std::int64_t closed_horizon_ms_ = kNoWatermark;  // end of the newest window emitted so far
  std::vector<std::unique_ptr<Window>> open_;      // sorted by start
  Window* current_ = nullptr;                      // last window an event went to
  std::vector<const Value*> values_;               // per-event slots
  std::vector<char> where_ok_;
  std::string key_scratch_;
  std::int64_t overflow_window_ms_ = 0;  // a window that overflowed since the last warning
  std::int64_t last_overflow_warn_ms_ = 0;
  bool overflow_warned_ = false;
  std::uint64_t overflow_unreported_ = 0;
};

}  // namespace cxflow::aggwin
