#include "aggregate-window.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "cxflow/time.hpp"

namespace cxflow::aggwin {

namespace {

// Event times outside +-2^62 ms (146 million years) are rejected so window arithmetic cannot
// overflow.
constexpr std::int64_t kMaxAbsTimeMs = std::int64_t{1} << 62;
constexpr std::int64_t kOverflowWarnIntervalMs = 60'000;
constexpr std::uint32_t kNoGroup = std::numeric_limits<std::uint32_t>::max();

// The text form of a value, as cxflow::to_text() gives it, without allocating.
std::string_view text_of(const Value& v, char (&buf)[32]) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    auto r = std::to_chars(buf, buf + sizeof buf, *i);
    return {buf, static_cast<std::size_t>(r.ptr - buf)};
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d) && *d == std::floor(*d) && std::fabs(*d) < 1e15) {
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(*d));
      return {buf, static_cast<std::size_t>(r.ptr - buf)};
    }
    const int n = std::snprintf(buf, sizeof buf, "%.17g", *d);
    return {buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1))};
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return {};
}

// Finite number, or nothing (strings, booleans are not numbers here; NaN/inf are rejected).
inline bool number_of(const Value& v, double& out) {
  if (const auto* d = std::get_if<double>(&v)) {
    out = *d;
    return std::isfinite(out);
  }
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out = static_cast<double>(*i);
    return true;
  }
  return false;
}

inline std::int64_t floor_to(std::int64_t t, std::int64_t step) {
  std::int64_t r = t % step;
  if (r < 0) r += step;
  return t - r;
}

}  // namespace

struct AggregateWindow::Window {
  struct Group {
    std::uint64_t hash = 0;
    std::string key;            // encoded text of the key values
    std::vector<Value> values;  // the key values of the first event, for the output
  };
  std::int64_t start_ms = 0;
  std::vector<Group> groups;         // in order of first appearance
  std::vector<AccState> states;      // group g owns [g * accs, (g + 1) * accs)
  std::vector<std::uint32_t> slots;  // open addressing over groups: index + 1, 0 = empty
};

AggregateWindow::AggregateWindow(const AggregateWindowConfig& cfg, Setup& setup)
    : window_ms_(cfg.window.ms),
      lateness_ms_(cfg.allowed_lateness.ms),
      max_groups_(static_cast<std::size_t>(cfg.max_groups)),
      max_open_windows_(static_cast<std::size_t>(cfg.max_open_windows)),
      flush_on_end_(cfg.flush_on_end),
      window_start_id_(setup.produces("window_start", FieldType::String)),
      window_end_id_(setup.produces("window_end", FieldType::String)),
      windows_emitted_(&setup.declare_counter({"windows_emitted",
                                               CounterKind::Counter,
                                               "events",
                                               {},
                                               CounterRole::None,
                                               "output events: one per (window, group)"})),
      late_events_(&setup.declare_counter({"late_events",
                                           CounterKind::Counter,
                                           "events",
                                           {},
                                           CounterRole::Dropped,
                                           "events for a window already closed, dropped"})),
      groups_overflow_(&setup.declare_counter({"groups_overflow",
                                               CounterKind::Counter,
                                               "events",
                                               {},
                                               CounterRole::Dropped,
                                               "events that would have opened a group over max_groups, dropped"})),
      non_numeric_(&setup.declare_counter({"non_numeric",
                                           CounterKind::Counter,
                                           "values",
                                           {},
                                           CounterRole::None,
                                           "values a numeric metric skipped (not a finite number)"})),
      windows_forced_(&setup.declare_counter({"windows_forced",
                                              CounterKind::Counter,
                                              "windows",
                                              {},
                                              CounterRole::None,
                                              "windows closed early to stay within max_open_windows"})),
      invalid_time_(&setup.declare_counter({"invalid_time",
                                            CounterKind::Counter,
                                            "events",
                                            {},
                                            CounterRole::Dropped,
                                            "events with a time outside the supported range, dropped"})) {
  qparams_.exact_limit = static_cast<std::size_t>(cfg.percentile_exact_limit);
  qparams_.relative_error = cfg.percentile_relative_error;
  qparams_.init();
  dparams_.exact_limit = static_cast<std::size_t>(cfg.distinct_exact_limit);
  dparams_.precision = static_cast<int>(cfg.distinct_hll_precision);

  std::set<std::string> outputs{"window_start", "window_end"};
  for (const auto& g : cfg.group_by) {
    if (g.empty())
      throw ConfigException({}, "group_by: a field name is empty; list input fields, e.g. [metadata.queue]");
    if (g == "window_start" || g == "window_end")
      throw ConfigException({},
                            "group_by: '" + g + "' is an output field of aggregate-window; group by an input field");
    if (!outputs.insert(g).second) throw ConfigException({}, "group_by: field '" + g + "' is listed twice");
    // A group key is read from the input and copied to the output.
    const FieldId id = setup.reads(g);
    setup.produces(g);
    group_ids_.push_back(id);
    group_slots_.push_back(slot_for(id));
  }

  const ConfigNode& m = cfg.metrics;
  const char* shape =
      "expected a map of metric name to expression, e.g. metrics: {contacts: count, aht: avg(metrics.handleTime)}";
  if (!m.is_map()) throw ConfigException(m.pos, std::string("metrics: ") + shape);
  if (m.items.empty()) throw ConfigException(m.pos, std::string("metrics: at least one metric is needed; ") + shape);
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    const std::string& name = m.keys[i];
    const SourcePos& key_pos = i < m.key_pos.size() ? m.key_pos[i] : m.pos;
    const ConfigNode& node = m.items[i];
    if (name.empty()) throw ConfigException(key_pos, "metrics: a metric name is empty");
    if (!outputs.insert(name).second) {
      const bool dup_metric =
          std::any_of(metrics_.begin(), metrics_.end(), [&](const Metric& x) { return x.name == name; });
      throw ConfigException(key_pos, "metrics." + name + ": " +
                                         (dup_metric ? std::string("duplicate metric name")
                                                     : "the name is already an output field (window_start, window_end "
                                                       "or a group_by field); pick another name"));
    }
    if (!node.is_scalar())
      throw ConfigException(node.pos, "metrics." + name + ": expected an expression string; " + kMetricExamples);
    const MetricExpr expr = parse_metric(name, node.scalar, node.pos);

    Acc acc;
    if (!expr.where.empty()) acc.where = where_for(expr.where, shifted(node.pos, expr.where_offset), name, setup);
    switch (expr.fn) {
      case Fn::Count:
        acc.kind = AccKind::Count;
        break;
      case Fn::Sum:
      case Fn::Avg:
      case Fn::Min:
      case Fn::Max:
        acc.kind = AccKind::Numeric;
        break;
      case Fn::Percentile:
        acc.kind = AccKind::Quantiles;
        break;
      case Fn::CountDistinct:
        acc.kind = AccKind::Distinct;
        break;
      case Fn::Ratio:
        acc.kind = AccKind::Ratio;
        break;
    }
    if (!expr.field.empty()) {
      // count_distinct counts any values; the other functions of a field need numbers.
      const FieldType want = expr.fn == Fn::CountDistinct ? FieldType::Any : FieldType::Number;
      const std::size_t at = node.scalar.find(expr.field);
      acc.slot = slot_for(setup.reads(expr.field, want, shifted(node.pos, at == std::string::npos ? 0 : at)));
    }
    if (expr.fn == Fn::Ratio) {
      try {
        acc.ratio = Condition::parse(expr.ratio_condition, setup, shifted(node.pos, expr.ratio_offset));
      } catch (const ConfigException& e) {
        throw ConfigException(e.pos(), "metrics." + name + ": " + e.message());
      }
    }
    acc.identity = std::to_string(static_cast<int>(acc.kind)) + "|" + std::to_string(acc.slot) + "|" +
                   std::to_string(acc.where) + "|" + expr.ratio_condition;
    Metric metric;
    metric.name = name;
    metric.out = setup.produces(name, FieldType::Number);
    metric.fn = expr.fn;
    metric.acc = acc_for(std::move(acc));
    metric.percentile = expr.percentile;
    metrics_.push_back(std::move(metric));
  }
  values_.assign(slot_fields_.size(), nullptr);
  where_ok_.assign(wheres_.size(), 0);
}

AggregateWindow::~AggregateWindow() = default;

int AggregateWindow::slot_for(FieldId id) {
  for (std::size_t i = 0; i < slot_fields_.size(); ++i)
    if (slot_fields_[i] == id) return static_cast<int>(i);
  slot_fields_.push_back(id);
  if (slot_of_.size() <= id) slot_of_.resize(static_cast<std::size_t>(id) + 1, -1);
  slot_of_[id] = static_cast<int>(slot_fields_.size() - 1);
  return static_cast<int>(slot_fields_.size() - 1);
}

int AggregateWindow::where_for(const std::string& text, const SourcePos& pos, const std::string& metric, Setup& setup) {
  for (std::size_t i = 0; i < wheres_.size(); ++i)
    if (wheres_[i].text() == text) return static_cast<int>(i);
  try {
    wheres_.push_back(Condition::parse(text, setup, pos));
  } catch (const ConfigException& e) {
    throw ConfigException(e.pos(), "metrics." + metric + ": " + e.message());
  }
  return static_cast<int>(wheres_.size() - 1);
}

std::size_t AggregateWindow::acc_for(Acc acc) {
  for (std::size_t i = 0; i < accs_.size(); ++i)
    if (accs_[i].identity == acc.identity) return i;
  accs_.push_back(std::move(acc));
  return accs_.size() - 1;
}

void AggregateWindow::start(Context& ctx) { ctx_ = &ctx; }

AggregateWindow::Window* AggregateWindow::window_for(std::int64_t start_ms, Emitter& out) {
  auto it = std::lower_bound(open_.begin(), open_.end(), start_ms,
                             [](const std::unique_ptr<Window>& w, std::int64_t s) { return w->start_ms < s; });
  if (it != open_.end() && (*it)->start_ms == start_ms) return it->get();
  if (open_.size() >= max_open_windows_) {
    // Bounded memory without watermarks: the oldest window is closed early, as if the watermark
    // had passed it. Events for it that come later are late.
    close_front(out);
    windows_forced_->add();
    if (start_ms < closed_horizon_ms_) return nullptr;
    it = std::lower_bound(open_.begin(), open_.end(), start_ms,
                          [](const std::unique_ptr<Window>& w, std::int64_t s) { return w->start_ms < s; });
  }
  auto w = std::make_unique<Window>();
  w->start_ms = start_ms;
  if (!group_ids_.empty()) w->slots.assign(16, 0);
  return open_.insert(it, std::move(w))->get();
}

std::uint32_t AggregateWindow::group_for(Window& w) {
  const std::size_t accs = accs_.size();
  if (group_ids_.empty()) {
    if (w.groups.empty()) {
      w.groups.emplace_back();
      w.states.resize(accs);
    }
    return 0;
  }
  // The key: for each group_by field a presence byte, the text length and the text. Built in a
  // reused buffer, so a lookup allocates nothing.
  key_scratch_.clear();
  char buf[32];
  for (int slot : group_slots_) {
    const Value* v = values_[static_cast<std::size_t>(slot)];
    if (v == nullptr || is_null(*v)) {
      key_scratch_.push_back('\0');
      continue;
    }
    const std::string_view t = text_of(*v, buf);
    const auto len = static_cast<std::uint32_t>(t.size());
    key_scratch_.push_back('\1');
    key_scratch_.append(reinterpret_cast<const char*>(&len), sizeof len);
    key_scratch_.append(t);
  }
  const std::uint64_t h = hash_bytes(key_scratch_);
  std::size_t mask = w.slots.size() - 1;
  std::size_t i = static_cast<std::size_t>(h) & mask;
  for (; w.slots[i] != 0; i = (i + 1) & mask) {
    const auto& g = w.groups[w.slots[i] - 1];
    if (g.hash == h && g.key == key_scratch_) return w.slots[i] - 1;
  }
  if (w.groups.size() >= max_groups_) return kNoGroup;

  const auto index = static_cast<std::uint32_t>(w.groups.size());
  auto& g = w.groups.emplace_back();
  g.hash = h;
  g.key = key_scratch_;
  g.values.reserve(group_slots_.size());
  for (int slot : group_slots_) {
    const Value* v = values_[static_cast<std::size_t>(slot)];
    g.values.push_back(v != nullptr ? *v : Value{});
  }
  w.states.resize(w.states.size() + accs);
  w.slots[i] = index + 1;
  if (w.groups.size() * 2 > w.slots.size()) {
    std::vector<std::uint32_t> bigger(w.slots.size() * 2, 0);
    mask = bigger.size() - 1;
    for (std::uint32_t gi = 0; gi < w.groups.size(); ++gi) {
      std::size_t j = static_cast<std::size_t>(w.groups[gi].hash) & mask;
      while (bigger[j] != 0) j = (j + 1) & mask;
      bigger[j] = gi + 1;
    }
    w.slots.swap(bigger);
  }
  return index;
}

void AggregateWindow::process(const Batch& in, Emitter& out) {
  std::uint64_t late = 0, overflow = 0, non_numeric = 0, invalid = 0;
  const std::size_t accs = accs_.size();
  for (const Event& e : in.events) {
    const std::int64_t t = e.time_ms;
    if (t <= -kMaxAbsTimeMs || t >= kMaxAbsTimeMs) {
      ++invalid;
      continue;
    }
    const std::int64_t start_ms = floor_to(t, window_ms_);
    if (start_ms < closed_horizon_ms_ ||
        (watermark_ms_ != kNoWatermark && start_ms + window_ms_ + lateness_ms_ <= watermark_ms_)) {
      ++late;
      continue;
    }
    Window* w = current_ != nullptr && current_->start_ms == start_ms ? current_ : window_for(start_ms, out);
    if (w == nullptr) {
      ++late;
      continue;
    }
    current_ = w;

    // One pass over the event's fields fills the slots this component reads.
    std::fill(values_.begin(), values_.end(), nullptr);
    for (const auto& f : e.fields) {
      if (f.id >= slot_of_.size()) continue;
      const int s = slot_of_[f.id];
      if (s >= 0 && values_[static_cast<std::size_t>(s)] == nullptr) values_[static_cast<std::size_t>(s)] = &f.value;
    }

    const std::uint32_t g = group_for(*w);
    if (g == kNoGroup) {
      ++overflow;
      overflow_window_ms_ = w->start_ms;
      continue;
    }
    for (std::size_t k = 0; k < wheres_.size(); ++k) where_ok_[k] = wheres_[k].matches(e) ? 1 : 0;

    AccState* states = &w->states[static_cast<std::size_t>(g) * accs];
    for (std::size_t a = 0; a < accs; ++a) {
      const Acc& acc = accs_[a];
      if (acc.where >= 0 && where_ok_[static_cast<std::size_t>(acc.where)] == 0) continue;
      AccState& st = states[a];
      switch (acc.kind) {
        case AccKind::Count:
          ++st.n;
          break;
        case AccKind::Ratio:
          ++st.n;
          if (acc.ratio.matches(e)) ++st.hits;
          break;
        case AccKind::Numeric:
        case AccKind::Quantiles: {
          const Value* v = values_[static_cast<std::size_t>(acc.slot)];
          if (v == nullptr || is_null(*v)) break;
          double x;
          if (!number_of(*v, x)) {
            ++non_numeric;
            break;
          }
          if (acc.kind == AccKind::Numeric) {
            if (st.n == 0) {
              st.min = x;
              st.max = x;
            } else {
              st.min = std::min(st.min, x);
              st.max = std::max(st.max, x);
            }
            st.sum += x;
            ++st.n;
          } else {
            if (!st.quantiles) st.quantiles = std::make_unique<Quantiles>();
            st.quantiles->add(x, qparams_);
            ++st.n;
          }
          break;
        }
        case AccKind::Distinct: {
          const Value* v = values_[static_cast<std::size_t>(acc.slot)];
          if (v == nullptr || is_null(*v)) break;
          char buf[32];
          if (!st.distinct) st.distinct = std::make_unique<Distinct>();
          st.distinct->add(hash_bytes(text_of(*v, buf)), dparams_);
          ++st.n;
          break;
        }
      }
    }
  }
  if (late != 0) late_events_->add(late);
  if (non_numeric != 0) non_numeric_->add(non_numeric);
  if (invalid != 0) invalid_time_->add(invalid);
  if (overflow != 0) {
    groups_overflow_->add(overflow);
    overflow_unreported_ += overflow;
    warn_overflow();
  }
}

void AggregateWindow::warn_overflow() {
  const std::int64_t now = ctx_ != nullptr ? ctx_->clock().steady_ms() : 0;
  if (overflow_warned_ && now - last_overflow_warn_ms_ < kOverflowWarnIntervalMs) return;
  overflow_warned_ = true;
  last_overflow_warn_ms_ = now;
  const std::string msg =
      "groups_overflow: " + std::to_string(overflow_unreported_) + " event(s) of new groups dropped (window " +
      format_iso8601_ms(overflow_window_ms_) +
      " and others since the last warning) because a window already holds max_groups=" + std::to_string(max_groups_) +
      " groups; raise max_groups or group by fewer/coarser fields (at most one warning a minute)";
  overflow_unreported_ = 0;
  if (ctx_ != nullptr) ctx_->log(LogLevel::Warn, msg);
}

void AggregateWindow::close_front(Emitter& out) {
  std::unique_ptr<Window> w = std::move(open_.front());
  open_.erase(open_.begin());
  if (current_ == w.get()) current_ = nullptr;
  closed_horizon_ms_ = std::max(closed_horizon_ms_, w->start_ms + window_ms_);
  emit_window(*w, out);
}

void AggregateWindow::metric_value(const Metric& m, AccState& st, Value& v) {
  // Leaves v null when the metric has no value (avg/min/max/pNN without values, ratio with an
  // empty denominator).
  switch (m.fn) {
    case Fn::Count:
      v = st.n;
      break;
    case Fn::Sum:
      v = st.sum;
      break;
    case Fn::Avg:
      if (st.n > 0) v = st.sum / static_cast<double>(st.n);
      break;
    case Fn::Min:
      if (st.n > 0) v = st.min;
      break;
    case Fn::Max:
      if (st.n > 0) v = st.max;
      break;
    case Fn::CountDistinct:
      v = static_cast<std::int64_t>(st.distinct ? st.distinct->estimate(dparams_) : 0);
      break;
    case Fn::Percentile:
      if (st.quantiles && st.quantiles->count() > 0) v = st.quantiles->percentile(m.percentile, qparams_);
      break;
    case Fn::Ratio:
      if (st.n > 0) v = static_cast<double>(st.hits) / static_cast<double>(st.n);
      break;
  }
}

void AggregateWindow::emit_window(Window& w, Emitter& out) {
  const std::size_t accs = accs_.size();
  const std::string start_text = format_iso8601_ms(w.start_ms);
  const std::string end_text = format_iso8601_ms(w.start_ms + window_ms_);
  for (std::size_t g = 0; g < w.groups.size(); ++g) {
    auto& group = w.groups[g];
    AccState* states = &w.states[g * accs];
    Event e;
    e.time_ms = w.start_ms;
    e.fields.reserve(2 + group_ids_.size() + metrics_.size());
    e.fields.push_back(FieldValue{window_start_id_, Value(start_text)});
    e.fields.push_back(FieldValue{window_end_id_, Value(end_text)});
    for (std::size_t k = 0; k < group_ids_.size(); ++k)
      e.fields.push_back(FieldValue{group_ids_[k], std::move(group.values[k])});
    for (const Metric& m : metrics_) {
      e.fields.push_back(FieldValue{m.out, Value{}});
      metric_value(m, states[m.acc], e.fields.back().value);
    }
    out.emit(std::move(e));
  }
  windows_emitted_->add();
}

void AggregateWindow::on_watermark(std::int64_t watermark_ms, Emitter& out) {
  if (watermark_ms <= watermark_ms_) return;
  watermark_ms_ = watermark_ms;
  while (!open_.empty() && open_.front()->start_ms + window_ms_ + lateness_ms_ <= watermark_ms_) close_front(out);
}

void AggregateWindow::on_end_of_stream(Emitter& out) {
  if (flush_on_end_) {
    while (!open_.empty()) close_front(out);
    return;
  }
  if (!open_.empty() && ctx_ != nullptr)
    ctx_->log(LogLevel::Info,
              "end of stream: " + std::to_string(open_.size()) + " open window(s) discarded (flush_on_end: false)");
  open_.clear();
  current_ = nullptr;
}

}  // namespace cxflow::aggwin
