#include "sink-alerts.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <cxflow/time.hpp>

#include "store.hpp"
#include "webhook.hpp"

namespace cxflow::alerts {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

bool given(double v) { return !std::isnan(v); }

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string upper(const char* s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "00:05:00Z" style short time for messages; full ISO elsewhere.
std::string window_text(std::int64_t start_ms, std::int64_t end_ms) {
  return format_iso8601_ms(start_ms) + " - " + format_iso8601_ms(end_ms);
}

}  // namespace

std::string check_rule(const RuleConfig& r) {
  const bool has_above = given(r.above.warning) || given(r.above.critical);
  const bool has_below = given(r.below.warning) || given(r.below.critical);
  if (has_above == has_below)
    return has_above
               ? "give either 'above' or 'below', not both (write two rules for a band)"
               : "give a threshold: 'above: {warning: N}' or 'below: {warning: N}' (with warning and/or critical)";
  if (has_above && given(r.above.warning) && given(r.above.critical) && r.above.critical < r.above.warning)
    return "above.critical (" + num(r.above.critical) + ") must not be below above.warning (" + num(r.above.warning) +
           ")";
  if (has_below && given(r.below.warning) && given(r.below.critical) && r.below.critical > r.below.warning)
    return "below.critical (" + num(r.below.critical) + ") must not be above below.warning (" + num(r.below.warning) +
           ")";
  return "";
}

AlertSink::AlertSink(const Config& cfg, Setup& setup)
    : cfg_(cfg),
      window_start_id_(setup.reads_if_present("window_start")),
      window_end_id_(setup.reads_if_present("window_end")),
      alerts_(setup.declare_counter({"alerts",
                                     CounterKind::Counter,
                                     "notifications",
                                     {},
                                     CounterRole::Alerts,
                                     "alert notifications raised (firing, escalated, resolved, repeated)"})),
      windows_(setup.declare_counter({"windows_evaluated",
                                      CounterKind::Counter,
                                      "events",
                                      {},
                                      CounterRole::None,
                                      "window events evaluated against the rules"})),
      no_value_(setup.declare_counter({"no_value",
                                       CounterKind::Counter,
                                       "evaluations",
                                       {},
                                       CounterRole::None,
                                       "rule evaluations skipped: the metric was missing or not a number"})),
      stale_(setup.declare_counter(
          {"stale_windows",
           CounterKind::Counter,
           "evaluations",
           {},
           CounterRole::Dropped,
           "rule evaluations of a window already evaluated (replayed or out of order), skipped"})),
      groups_dropped_(setup.declare_counter({"groups_dropped",
                                             CounterKind::Counter,
                                             "evaluations",
                                             {},
                                             CounterRole::Dropped,
                                             "rule evaluations of a new group over max_groups, skipped"})),
      // Alert rows, not data rows: counted under alerts by the host, so no rows_committed role.
      rows_written_(setup.declare_counter({"rows_written",
                                           CounterKind::Counter,
                                           "rows",
                                           {},
                                           CounterRole::None,
                                           "alert rows written to the sqlite table"})) {
  if (cfg_.rules.empty())
    throw ConfigException({}, "rules: give at least one rule, e.g. {metric: avg_wait_time, above: {warning: 90}}");
  for (const auto& g : cfg_.group_by) {
    if (g.empty()) throw ConfigException({}, "group_by: empty field name");
    group_ids_.push_back(setup.reads(g));
    group_names_.push_back(g);
  }
  for (std::size_t i = 0; i < cfg_.rules.size(); ++i) {
    const std::string where = "rules[" + std::to_string(i) + "]";
    Rule r;
    r.cfg = cfg_.rules[i];
    if (std::string msg = check_rule(r.cfg); !msg.empty()) throw ConfigException({}, where + ": " + msg);
    if (r.cfg.metric.empty()) throw ConfigException({}, where + ".metric: name the numeric field to watch");
    r.above = given(r.cfg.above.warning) || given(r.cfg.above.critical);
    const ThresholdConfig& t = r.above ? r.cfg.above : r.cfg.below;
    r.warning = t.warning;
    r.critical = t.critical;
    if (r.above && !given(r.critical) && given(r.warning) && t.critical_factor > 0)
      r.critical = r.warning * t.critical_factor;
    if (r.cfg.name.empty()) r.cfg.name = r.cfg.metric + (r.above ? "_above" : "_below");
    for (const auto& other : rules_)
      if (other.cfg.name == r.cfg.name)
        throw ConfigException({}, where + ".name: '" + r.cfg.name +
                                      "' is already the name of another rule; rule names key the stored alert state, "
                                      "give each rule its own name");
    r.metric = setup.reads(r.cfg.metric, FieldType::Number);
    if (!r.cfg.where.empty()) {
      try {
        r.where = Condition::parse(r.cfg.where, setup);
      } catch (const ConfigException& e) {
        throw ConfigException(e.pos(), where + ".where: " + e.message());
      }
    }
    rules_.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < cfg_.webhooks.size(); ++i) {
    const auto& w = cfg_.webhooks[i];
    const std::string where = "webhooks[" + std::to_string(i) + "]";
    if (std::string bad = check_template(w.template_text); !bad.empty())
      throw ConfigException({}, where + ".template: " + bad);
    try {
      webhooks_.push_back(std::make_unique<Webhook>(
          w, where,
          WebhookCounters{setup.declare_counter({"webhook_sent",
                                                 CounterKind::Counter,
                                                 "requests",
                                                 {},
                                                 CounterRole::None,
                                                 "webhook notifications delivered"}),
                          setup.declare_counter({"webhook_retries",
                                                 CounterKind::Counter,
                                                 "requests",
                                                 {},
                                                 CounterRole::Retries,
                                                 "webhook requests retried"}),
                          setup.declare_counter({"webhook_failed",
                                                 CounterKind::Counter,
                                                 "notifications",
                                                 {},
                                                 CounterRole::Errors,
                                                 "webhook notifications given up on"}),
                          setup.declare_counter({"webhook_dropped",
                                                 CounterKind::Counter,
                                                 "notifications",
                                                 {},
                                                 CounterRole::Dropped,
                                                 "webhook notifications dropped (queue full)"})},
          worker_logs_));
    } catch (const std::invalid_argument& e) {
      throw ConfigException({}, where + ".url: " + e.what());
    }
  }
  if (!cfg_.sqlite.path.empty()) {
    if (cfg_.sqlite.table.empty()) throw ConfigException({}, "sqlite.table: must not be empty");
    store_ = std::make_unique<Store>(cfg_.sqlite);
  }
}

AlertSink::~AlertSink() = default;

void AlertSink::start(Context& ctx) {
  ctx_ = &ctx;
  if (store_) {
    store_->open([c = &ctx](LogLevel level, const std::string& message) { c->log(level, message); });
    std::size_t firing = 0;
    for (auto& r : rules_) {
      for (auto& [key, st] : store_->load(r.cfg.name)) {
        if (st.level != Level::Ok) ++firing;
        r.states.emplace(key, std::move(st));
      }
    }
    if (firing > 0)
      ctx.log(LogLevel::Info, "restored " + std::to_string(firing) + " firing alert(s) from " + cfg_.sqlite.path);
  }
  for (auto& w : webhooks_) w->start();
  if (!webhooks_.empty()) schedule_log_drain();
}

void AlertSink::schedule_log_drain() {
  log_timer_ = ctx_->start_timer(1000, [this] {
    log_timer_ = 0;
    drain_worker_logs();
    if (!stopped_) schedule_log_drain();
  });
}

void AlertSink::drain_worker_logs() {
  if (!ctx_) return;
  for (auto& [level, line] : worker_logs_.take()) ctx_->log(level, line);
}

std::int64_t AlertSink::window_end_of(const Event& e) {
  const Value* v = e.get(window_end_id_);
  if (v == nullptr) return e.time_ms;
  if (const std::string* s = as_string(*v)) {
    if (*s == cached_end_text_) return cached_end_ms_;
    if (auto ms = parse_iso8601_ms(*s)) {
      cached_end_text_ = *s;
      cached_end_ms_ = *ms;
      return *ms;
    }
    return e.time_ms;
  }
  if (auto n = as_number(*v)) return static_cast<std::int64_t>(*n);
  return e.time_ms;
}

void AlertSink::write(const Batch& in) {
  std::string key;
  for (const Event& e : in.events) {
    windows_.add();
    const std::int64_t start = e.time_ms;
    const std::int64_t end = std::max(start, window_end_of(e));
    max_end_seen_ = std::max(max_end_seen_, end);
    key.clear();
    for (FieldId id : group_ids_) {
      if (const Value* v = e.get(id)) key += to_text(*v);
      key += '\x1f';
    }
    for (Rule& r : rules_) {
      if (!r.where.empty() && !r.where.matches(e)) continue;
      const Value* v = e.get(r.metric);
      const auto value = v ? as_number(*v) : std::nullopt;
      if (!value || std::isnan(*value)) {
        no_value_.add();
        continue;
      }
      evaluate(r, key, e, *value, start, end);
    }
  }
  check_missing();
  flush();
}

void AlertSink::on_watermark(std::int64_t watermark_ms) {
  if (watermark_ms <= watermark_ms_) return;
  watermark_ms_ = watermark_ms;
  check_missing();
  flush();
}

void AlertSink::on_end_of_stream() { flush(); }

void AlertSink::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (ctx_ && log_timer_ != 0) ctx_->cancel_timer(log_timer_);
  log_timer_ = 0;
  flush();
  for (auto& w : webhooks_) w->stop();
  drain_worker_logs();
}

namespace {

bool breaches(const Rule& r, double v, double threshold) {
  if (!given(threshold)) return false;
  const bool inclusive = (r.above ? r.cfg.above : r.cfg.below).inclusive;
  if (r.above) return inclusive ? v >= threshold : v > threshold;
  return inclusive ? v <= threshold : v < threshold;
}

// Still held: not yet back past the threshold by the hysteresis margin.
bool holds(const Rule& r, double v, double threshold) {
  if (!given(threshold)) return false;
  const double m = r.cfg.hysteresis;
  return breaches(r, v, r.above ? threshold - m : threshold + m);
}

Level breach_level(const Rule& r, double v) {
  if (breaches(r, v, r.critical)) return Level::Critical;
  if (breaches(r, v, r.warning)) return Level::Warning;
  return Level::Ok;
}

double threshold_of(const Rule& r, Level l) {
  if (l == Level::Critical) return r.critical;
  if (l == Level::Warning) return r.warning;
  return given(r.warning) ? r.warning : r.critical;
}

}  // namespace

void AlertSink::evaluate(Rule& r, const std::string& key, const Event& e, double value, std::int64_t start,
                         std::int64_t end) {
  auto it = r.states.find(key);
  if (it == r.states.end()) {
    if (static_cast<std::int64_t>(r.states.size()) >= cfg_.max_groups) {
      groups_dropped_.add();
      return;
    }
    AlertState fresh;
    std::string display;
    for (std::size_t k = 0; k < group_ids_.size(); ++k) {
      const Value* v = e.get(group_ids_[k]);
      display += (k ? ", " : "") + group_names_[k] + "=" + (v ? to_text(*v) : std::string());
    }
    fresh.group = group_ids_.empty() ? "all" : display;
    it = r.states.emplace(key, std::move(fresh)).first;
  }
  AlertState& st = it->second;
  if (start <= st.last_start_ms) {  // a replayed or out-of-order window: already evaluated
    stale_.add();
    return;
  }
  const bool contiguous = st.last_end_ms == kNever || st.window_ms <= 0 || start == st.last_end_ms;
  st.last_start_ms = start;
  st.last_end_ms = end;
  st.window_ms = end - start;
  st.last_value = value;
  st.dirty = true;

  const Level raw = breach_level(r, value);
  const Level now = st.level;
  if (now == Level::Ok) {
    if (raw == Level::Ok) {
      st.consecutive = 0;
      return;
    }
    st.consecutive = contiguous ? st.consecutive + 1 : 1;
    if (st.consecutive < r.cfg.for_windows) return;
    st.consecutive = 0;
    st.level = raw;
    st.since_ms = start;
    notify(r, st, Change::Firing, raw, Level::Ok, value, threshold_of(r, raw), start, end);
    return;
  }
  if (raw > now) {
    st.level = raw;
    notify(r, st, Change::Escalated, raw, now, value, threshold_of(r, raw), start, end);
    return;
  }
  Level held = Level::Ok;
  if (holds(r, value, r.critical))
    held = Level::Critical;
  else if (holds(r, value, r.warning))
    held = Level::Warning;
  const Level next = std::max(raw, std::min(now, held));
  if (next == Level::Ok) {
    st.level = Level::Ok;
    st.consecutive = 0;
    notify(r, st, Change::Resolved, now, now, value, threshold_of(r, Level::Ok), start, end);
  } else if (next < now) {
    st.level = next;
    notify(r, st, Change::Deescalated, next, now, value, threshold_of(r, now), start, end);
  } else if (r.cfg.repeat.ms > 0 && start - st.last_notified_ms >= r.cfg.repeat.ms) {
    notify(r, st, Change::Repeat, now, now, value, threshold_of(r, now), start, end);
  }
}

void AlertSink::check_missing() {
  std::int64_t now = max_end_seen_;
  if (watermark_ms_ != kNever) now = std::max(now, watermark_ms_ - cfg_.window_lateness.ms);
  if (now == kNever) return;
  for (Rule& r : rules_) {
    if (r.cfg.on_missing != OnMissing::Resolve) continue;
    for (auto& [key, st] : r.states) {
      if (st.level == Level::Ok || st.window_ms <= 0 || st.last_end_ms == kNever || now <= st.last_end_ms) continue;
      const std::int64_t missing = (now - st.last_end_ms) / st.window_ms;
      if (missing < r.cfg.missing_windows) continue;
      const Level was = st.level;
      st.level = Level::Ok;
      st.consecutive = 0;
      st.dirty = true;
      const std::int64_t from = st.last_end_ms;
      const std::int64_t to = st.last_end_ms + missing * st.window_ms;
      // notify() builds the message; mark it as a no-data resolution first.
      no_data_missing_ = missing;
      notify(r, st, Change::Resolved, was, was, st.last_value, threshold_of(r, Level::Ok), from, to);
      no_data_missing_ = 0;
    }
  }
}

void AlertSink::notify(Rule& r, AlertState& st, Change change, Level severity, Level previous, double value,
                       double threshold, std::int64_t start_ms, std::int64_t end_ms) {
  Notification n;
  n.change = change;
  n.rule = r.cfg.name;
  n.metric = r.cfg.metric;
  n.direction = r.above ? "above" : "below";
  n.group = st.group;
  if (!group_ids_.empty()) {
    // Display form "a=x, b=y" back to fields (values may contain ", " only in odd data; fine for display).
    std::size_t pos = 0;
    for (std::size_t k = 0; k < group_names_.size(); ++k) {
      const std::string prefix = group_names_[k] + "=";
      std::size_t vstart = st.group.find(prefix, pos);
      if (vstart == std::string::npos) break;
      vstart += prefix.size();
      std::size_t vend =
          k + 1 < group_names_.size() ? st.group.find(", " + group_names_[k + 1] + "=", vstart) : std::string::npos;
      n.group_fields.emplace_back(group_names_[k],
                                  st.group.substr(vstart, vend == std::string::npos ? vend : vend - vstart));
      pos = vend == std::string::npos ? st.group.size() : vend;
    }
  }
  n.severity = severity;
  n.previous = previous;
  n.value = value;
  n.threshold = threshold;
  n.window_start_ms = start_ms;
  n.window_end_ms = end_ms;
  n.since_ms = st.since_ms;
  n.no_data = no_data_missing_ > 0;
  n.missing = no_data_missing_;

  const std::string rel = r.above ? "above" : "below";
  const std::string back = r.above ? "back below" : "back above";
  const std::string head =
      "[" + upper(change == Change::Resolved ? "resolved" : level_name(severity)) + "] " + n.rule + ": ";
  const std::string what = n.metric + " = " + num(value);
  const std::string margin = r.cfg.hysteresis > 0 ? " (hysteresis " + num(r.cfg.hysteresis) + ")" : "";
  const std::string tail = " for " + n.group + ", window " + window_text(start_ms, end_ms);
  switch (change) {
    case Change::Firing:
      n.message = head + what + " is " + rel + " the " + level_name(severity) + " threshold " + num(threshold) +
                  (r.cfg.for_windows > 1 ? " for " + std::to_string(r.cfg.for_windows) + " windows" : "") + tail;
      break;
    case Change::Escalated:
      n.message = head + "escalated from " + level_name(previous) + ": " + what + " is " + rel + " the " +
                  level_name(severity) + " threshold " + num(threshold) + tail;
      break;
    case Change::Deescalated:
      n.message = head + "de-escalated from " + level_name(previous) + ": " + what + " is " + back + " the " +
                  level_name(previous) + " threshold " + num(threshold) + margin + tail;
      break;
    case Change::Repeat:
      n.message = head + "still firing since " + format_iso8601_ms(st.since_ms) + ": " + what + " is " + rel + " the " +
                  level_name(severity) + " threshold " + num(threshold) + tail;
      break;
    case Change::Resolved:
      n.message = n.no_data ? head + "no " + n.metric + " for " + n.group + " for " + std::to_string(n.missing) +
                                  " windows (" + window_text(start_ms, end_ms) + "), last value " + num(value) +
                                  "; was " + level_name(severity)
                            : head + what + " is " + back + " the threshold " + num(threshold) + margin + tail +
                                  "; was " + level_name(severity) + " since " + format_iso8601_ms(st.since_ms);
      break;
  }
  st.last_notified_ms = start_ms;
  st.dirty = true;
  alerts_.add();

  if (cfg_.log && ctx_) {
    const LogLevel level =
        change == Change::Resolved || change == Change::Deescalated ? LogLevel::Info : LogLevel::Warn;
    ctx_->log(level, log_line(n));
  }
  if (store_) store_->add_alert(n);
  if (!webhooks_.empty()) {
    const std::string summary = std::string(change_name(change)) + " " + n.rule + " (" + n.group + ", window " +
                                format_iso8601_ms(start_ms) + ")";
    for (std::size_t i = 0; i < webhooks_.size(); ++i) {
      const auto& t = cfg_.webhooks[i].template_text;
      webhooks_[i]->enqueue(t.empty() ? to_json(n) : render_template(t, n), summary);
    }
  }
}

void AlertSink::flush() {
  if (store_) {
    for (Rule& r : rules_)
      for (auto& [key, st] : r.states)
        if (st.dirty) {
          store_->put_state(r.cfg.name, key, st);
          st.dirty = false;
        }
    rows_written_.add(store_->commit());
  } else {
    for (Rule& r : rules_)
      for (auto& [key, st] : r.states) st.dirty = false;
  }
  drain_worker_logs();
}

}  // namespace cxflow::alerts
