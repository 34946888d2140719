// aggregate-window: schema and export. The logic lives in aggregate-window.cpp.
#include <cxflow/plugin.hpp>

#include "aggregate-window.hpp"

namespace {

using cxflow::aggwin::AggregateWindowConfig;

struct AggregateWindowPlugin {
  static constexpr const char* name = "aggregate-window";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Tumbling-window aggregates on event time: one event per (window, group) with count, sum, avg, min, max, "
      "count_distinct, percentiles and ratios, emitted when the watermark passes the window end plus the allowed "
      "lateness";
  static constexpr const char* example =
      "window: 60s\n"
      "group_by: [metadata.queue]\n"
      "metrics:\n"
      "  contacts: count\n"
      "  avg_handle_time: avg(metrics.handleTime) where metrics.state == ended\n"
      "  p90_wait_time: p90(metrics.waitTime)\n"
      "  service_level: ratio(metrics.waitTime <= 20)\n"
      "  abandon_rate: ratio(metrics.state == abandoned)\n"
      "  active_agents: count_distinct(agentId)\n";
  using Config = AggregateWindowConfig;
  using Instance = cxflow::aggwin::AggregateWindow;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("window", &Config::window,
          "Length of each tumbling window on event time; windows are [start, start + window) aligned to the Unix epoch")
        .required()
        .min(1)
        .example("60s");
    s.key("allowed_lateness", &Config::allowed_lateness,
          "How long after its end a window stays open for out-of-order events: it closes when the watermark reaches "
          "window end + allowed_lateness; later events for it are counted in late_events and dropped")
        .def("0s")
        .example("10s");
    s.key("group_by", &Config::group_by,
          "Fields whose values split each window into groups (one output event per window and group); default: none, "
          "one group per window. A missing field groups as null")
        .example("[metadata.queue, metadata.skill]");
    s.key("metrics", &Config::metrics,
          "Map of output field name to expression, in output order (at least one): count | sum(f) | avg(f) | min(f) | "
          "max(f) | count_distinct(f) | pNN(f) | ratio(condition), each optionally followed by 'where <condition>'")
        .required()
        .example("{contacts: count, aht: avg(metrics.handleTime) where metrics.state == ended}");
    s.key("max_groups", &Config::max_groups,
          "Most groups per window; events that would open another group are dropped and counted in groups_overflow "
          "(with a warning at most once a minute)")
        .def("10000")
        .range(1, 100'000'000);
    s.key("max_open_windows", &Config::max_open_windows,
          "Most windows held open at once (bounds memory when watermarks stall); opening one more closes and emits "
          "the oldest early (counted in windows_forced)")
        .def("1000")
        .range(1, 1'000'000);
    s.key("distinct_exact_limit", &Config::distinct_exact_limit,
          "count_distinct is exact up to this many distinct values per window, group and metric, then switches to "
          "HyperLogLog")
        .def("10000")
        .range(0, 10'000'000);
    s.key("distinct_hll_precision", &Config::distinct_hll_precision,
          "HyperLogLog precision p: 2^p one-byte registers (p=14: 16 KiB, standard error 1.04/sqrt(2^p) = 0.81%)")
        .def("14")
        .range(4, 18);
    s.key("percentile_exact_limit", &Config::percentile_exact_limit,
          "pNN is exact (nearest rank) up to this many values per window, group and field, then switches to a "
          "log-bucket sketch")
        .def("1000")
        .range(0, 10'000'000);
    s.key("percentile_relative_error", &Config::percentile_relative_error,
          "Relative accuracy of the percentile sketch: a sketched pNN is within this fraction of the exact "
          "nearest-rank value")
        .def("0.01")
        .range(0.0001, 0.2);
    s.key("flush_on_end", &Config::flush_on_end,
          "At end of stream (or shutdown drain) emit the windows still open; false discards them")
        .def("true");
  }
};

}  // namespace

CXFLOW_PLUGIN(AggregateWindowPlugin)
