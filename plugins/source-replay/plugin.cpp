// source-replay: schema and export. The logic lives in source-replay.cpp.
#include <cxflow/normalized.hpp>
#include <cxflow/plugin.hpp>

#include "source-replay.hpp"

namespace {

using cxflow::replay::BadTime;
using cxflow::replay::Config;
using cxflow::replay::Prefilter;

cxflow::Schema<Prefilter> prefilter_schema() {
  cxflow::Schema<Prefilter> s;
  s.key("event_types", &Prefilter::event_types,
        "Keep only lines whose eventType is one of these (interaction, agent, queue); checked as soon as the key "
        "is read. Empty: any event type")
      .example("[interaction]");
  s.key("states", &Prefilter::states,
        "Keep only lines whose metrics.state is one of these (queued, active, hold, wrapup, ended, abandoned, idle, "
        "available, busy, unavailable, logged_out); checked as soon as the key is read. Empty: any state")
      .example("[ended, abandoned]");
  s.key("where", &Prefilter::where,
        "A condition in the shared condition language, evaluated on the decoded event before it is batched")
      .example("'metadata.queue in [sales, support]'");
  return s;
}

struct Plugin {
  static constexpr const char* name = "source-replay";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Replays newline-delimited JSON events from a file, as fast as possible or paced by their event times";
  static constexpr const char* example =
      "path: ${CXFLOW_REPLAY_FILE:-/dev/null}   # newline-delimited JSON events\n"
      "speed: max\n";
  using Config = ::Config;
  using Instance = cxflow::replay::ReplaySource;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("path", &Config::path,
          "File of newline-delimited JSON events, one object per line (relative to the working directory). "
          "Opened when the pipeline starts, never by `cxflow validate`; a missing file fails the start naming it")
        .required()
        .example("recorded/cxone-2026-01-05.jsonl");
    s.key("speed", &Config::speed,
          "`max`: as fast as the pipeline takes events (honouring backpressure). A positive factor paces the "
          "events by their event times: 1 = original pace, 60 = an hour of events per minute, 0.5 = half speed")
        .def("max")
        .example("60");
    s.key("batch_size", &Config::batch_size, "Events per emitted batch (at most; paced replay emits what is due)")
        .def("1024")
        .range(1, 1'000'000);
    s.key("max_line_bytes", &Config::max_line_bytes,
          "Longest accepted line. A longer line is skipped while it streams past (never buffered whole) and "
          "counted as malformed{reason=too_long}")
        .def("1MiB")
        .range(16, 1024.0 * 1024 * 1024);
    s.key("read_size", &Config::read_size, "Bytes requested per read() from the file")
        .def("256KiB")
        .range(4096, 256.0 * 1024 * 1024);
    s.key("timestamp_field", &Config::timestamp_field,
          "Dotted path of the event time: an ISO 8601 string with a zone, or epoch milliseconds (number or digits)")
        .def("timestamp")
        .example("meta.eventTime");
    s.key("on_bad_time", &Config::on_bad_time,
          "A line whose time is missing or unparseable: `reject` counts it as malformed{reason=missing_timestamp} / "
          "malformed{reason=bad_timestamp} and skips it; `last_seen` gives it the highest event time seen so far and "
          "counts time_defaulted (rejected while no time was seen yet)")
        .def("reject")
        .one_of({{"reject", BadTime::reject}, {"last_seen", BadTime::last_seen}});
    s.key("max_future", &Config::max_future,
          "An event more than this ahead of the highest event time seen so far is dropped and counted as "
          "future_events, so one event dated 2099 cannot close every window. The first event sets the reference")
        .def("1h")
        .min(0);
    s.key("max_out_of_order", &Config::max_out_of_order,
          "Watermark lag: after each batch the watermark is the highest emitted event time minus this. Events "
          "older than the watermark are still emitted and counted as late_events")
        .def("0s")
        .min(0);
    s.key("dead_letter", &Config::dead_letter,
          "File that receives every skipped line verbatim (malformed, too long, future), appended, one per line. "
          "Empty: none")
        .def("")
        .example("replay-rejects.jsonl");
    s.key("warn_interval", &Config::warn_interval,
          "At most one warning about skipped lines per interval (steady clock); the next one says how many were "
          "suppressed, and the end-of-file summary counts them all")
        .def("10s")
        .min(0);
    s.key("follow", &Config::follow,
          "At the end of the file keep polling for appended lines (like tail -f) instead of ending the stream. "
          "No rotation or truncation handling")
        .def("false");
    s.key("poll_interval", &Config::poll_interval,
          "With follow: how often to look for appended data at the end of the file")
        .def("500ms")
        .range(1, 3'600'000);
    s.record("prefilter", &Config::prefilter, prefilter_schema(),
             "Optional filter pushed into decoding, with filter-interaction's semantics (every given criterion must "
             "hold; a missing, null or non-string eventType/metrics.state fails). A rejected line stops being "
             "decoded at the failing key and is counted as prefiltered, not as malformed");
    s.check([](const Config& c) -> std::string {
      using cxflow::normalized::check_values;
      if (auto e = check_values("prefilter.event_types", c.prefilter.event_types, cxflow::normalized::event_types());
          !e.empty())
        return e;
      if (auto e = check_values("prefilter.states", c.prefilter.states, cxflow::normalized::states()); !e.empty())
        return e;
      if (!cxflow::replay::parse_speed(c.speed))
        return "'speed': expected 'max' or a positive factor such as 1 (original pace) or 60, found '" + c.speed + "'";
      if (c.path.empty()) return "'path': must not be empty";
      if (!c.dead_letter.empty() && c.dead_letter == c.path) return "'dead_letter' must not be the input file 'path'";
      if (c.timestamp_field.empty()) return "'timestamp_field': must not be empty";
      return "";
    });
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
