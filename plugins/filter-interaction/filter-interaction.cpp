#include "filter-interaction.hpp"

#include <cstring>

namespace cxflow::filter {

namespace {
// filtered{reason=event_type|state|where|matched}: events this filter discarded, by the criterion.
CounterSpec dropped_spec(const char* reason) {
  return CounterSpec{"filtered",
                     CounterKind::Counter,
                     "events",
                     {{"reason", reason}},
                     CounterRole::Dropped,
                     "events discarded, by the criterion that failed (matched: dropped by invert)"};
}
}  // namespace

FilterInteraction::FilterInteraction(const Config& c, Setup& setup)
    : event_types_(c.event_types),
      states_(c.states),
      invert_(c.invert),
      dropped_{&setup.declare_counter(dropped_spec("event_type")), &setup.declare_counter(dropped_spec("state")),
               &setup.declare_counter(dropped_spec("where"))},
      dropped_matched_(setup.declare_counter(dropped_spec("matched"))) {
  // A filter's output is its input: every field passes through.
  setup.passes_through();
  if (!event_types_.empty()) event_type_ = setup.reads("eventType", FieldType::String);
  if (!states_.empty()) state_ = setup.reads("metrics.state", FieldType::String);
  if (!c.where.is_null()) {
    if (!c.where.is_scalar())
      throw ConfigException(c.where.pos, "'where': expected a condition string, e.g. 'metrics.waitTime <= 20'");
    try {
      where_ = Condition::parse(c.where.scalar, setup, c.where.pos);
    } catch (const ConfigException& e) {
      throw ConfigException(e.pos(), "'where': " + e.message());
    }
  }
  // Not inverted, an event failing the type or state list is dropped with no other effect:
  // promise it, so the source feeding this filter may drop such events before decoding them.
  if (!invert_) {
    if (!event_types_.empty()) setup.promise_keep_only(KeepCondition{"eventType", event_types_});
    if (!states_.empty()) setup.promise_keep_only(KeepCondition{"metrics.state", states_});
  }
  if (event_types_.empty() && states_.empty() && where_.empty())
    setup.log(LogLevel::Warn,
              std::string("no event_types, states or where given: every event ") + (invert_ ? "is dropped" : "passes"));
}

bool FilterInteraction::in_list(const Value* v, const std::vector<std::string>& list) noexcept {
  const std::string* s = v != nullptr ? as_string(*v) : nullptr;
  if (s == nullptr) return false;
  for (const auto& candidate : list)
    if (candidate.size() == s->size() && std::memcmp(candidate.data(), s->data(), s->size()) == 0) return true;
  return false;
}

FilterInteraction::Reason FilterInteraction::check(const Event& e) const noexcept {
  if (event_type_ != kNoField && !in_list(e.get(event_type_), event_types_)) return kEventType;
  if (state_ != kNoField && !in_list(e.get(state_), states_)) return kState;
  if (!where_.empty() && !where_.matches(e)) return kWhere;
  return kKeep;
}

void FilterInteraction::process(Batch& in, Emitter& out) {
  auto& events = in.events;
  std::uint64_t dropped[3] = {0, 0, 0};
  std::uint64_t matched = 0;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Reason why = check(events[i]);
    bool keep = why == kKeep;
    if (invert_) {
      matched += keep;
      keep = !keep;
    } else if (!keep) {
      ++dropped[why];
    }
    if (!keep) continue;
    if (kept != i) events[kept] = std::move(events[i]);
    ++kept;
  }
  events.erase(events.begin() + static_cast<std::ptrdiff_t>(kept), events.end());
  for (int r = 0; r < 3; ++r)
    if (dropped[r] != 0) dropped_[r]->add(dropped[r]);
  if (matched != 0) dropped_matched_.add(matched);
  if (!events.empty()) out.emit(std::move(in));
}

}  // namespace cxflow::filter
