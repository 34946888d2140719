#include "status.hpp"

#include <algorithm>
#include <cstdio>

#include "log.hpp"

namespace cxflow::host {

namespace {

std::string human_count(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

StatusReport::StatusReport(const Pipeline& pipeline, const Clock& clock)
    : pipeline_(pipeline), clock_(clock), t0_ms_(clock.steady_ms()), last_ms_(t0_ms_), last_totals_(totals()) {}

// Events in: what the sources emitted; events out: what the sinks received.
std::array<std::uint64_t, 4> StatusReport::totals() const {
  std::uint64_t in = 0, out = 0, rows = 0, alerts = 0;
  for (const auto& c : pipeline_.components) {
    for (const auto& [k, v] : c.counters->snapshot()) {
      if (c.spec.kind == Kind::Source && k == "events_out") in += v;
      if (c.spec.kind == Kind::Sink && k == "events_in") out += v;
    }
    // By declared role, not by name: a sink's data rows, not alert rows or raw event rows.
    rows += c.counters->sum(CounterRole::RowsCommitted);
    alerts += c.counters->sum(CounterRole::Alerts);
  }
  return {in, out, rows, alerts};
}

void StatusReport::tick(bool draining, bool terminal) {
  const std::int64_t now = clock_.steady_ms();
  const double secs = std::max(1e-3, static_cast<double>(now - last_ms_) / 1000.0);
  const auto t = totals();
  const double in_rate = static_cast<double>(t[0] - last_totals_[0]) / secs;
  const double out_rate = static_cast<double>(t[1] - last_totals_[1]) / secs;
  last_ms_ = now;
  last_totals_ = t;
  std::string line = "in " + human_count(in_rate) + " ev/s, out " + human_count(out_rate) + " ev/s | events " +
                     human_count(static_cast<double>(t[0])) + " | rows written " + std::to_string(t[2]) + " | alerts " +
                     std::to_string(t[3]);
  if (draining) line += " | draining";
  if (terminal)
    set_status_line(line);
  else
    log_line(LogLevel::Info, "[host]", "progress: " + line);
}

void StatusReport::summary() const {
  const double secs = static_cast<double>(clock_.steady_ms() - t0_ms_) / 1000.0;
  const auto t = totals();
  char head[160];
  std::snprintf(head, sizeof head, "summary: %.2f s, %llu events in (%s/s), %llu rows written, %llu alerts", secs,
                static_cast<unsigned long long>(t[0]),
                human_count(static_cast<double>(t[0]) / std::max(secs, 1e-3)).c_str(),
                static_cast<unsigned long long>(t[2]), static_cast<unsigned long long>(t[3]));
  log_line(LogLevel::Info, "[host]", head);
  for (const auto& c : pipeline_.components) {
    std::string line;
    for (const auto& [k, v] : c.counters->snapshot()) {
      if ((k == "queue_depth" || k == "queue_bytes") || (v == 0 && k != "events_in" && k != "events_out")) continue;
      if (c.spec.kind == Kind::Source && k == "events_in") continue;
      line += (line.empty() ? "" : ", ") + k + "=" + std::to_string(v);
    }
    log_line(LogLevel::Info, c.prefix(), line);
  }
}

}  // namespace cxflow::host
