// filter-interaction: keeps (or, inverted, drops) the events that match every given criterion:
// `event_types` (field eventType), `states` (field metrics.state) and `where` (a condition in the
// shared language, cxflow/condition.hpp).
//
// Hot path: the batch is compacted in place (kept events are moved down, the tail erased) and
// forwarded whole with out.emit(std::move(in)); no per-event copies. eventType and metrics.state
// are read by FieldId and compared as short strings; counters are added once per batch.
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/condition.hpp>
#include <cxflow/config.hpp>
#include <cxflow/event.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace cxflow::filter {

struct Config {
  std::vector<std::string> event_types;
  std::vector<std::string> states;
  ConfigNode where;  // a condition string; a node so that parse errors point into the file
  bool invert = false;
};

class FilterInteraction final : public Transform {
 public:
  FilterInteraction(const Config& config, Setup& setup);
  void process(Batch& in, Emitter& out) override;

 private:
  enum Reason : int { kKeep = -1, kEventType = 0, kState = 1, kWhere = 2 };
  Reason check(const Event& e) const noexcept;
  static bool in_list(const Value* v, const std::vector<std::string>& list) noexcept;

  std::vector<std::string> event_types_;
  std::vector<std::string> states_;
  Condition where_;
  bool invert_ = false;
  FieldId event_type_ = kNoField;
  FieldId state_ = kNoField;
  Counter* dropped_[3];
  Counter& dropped_matched_;
};

}  // namespace cxflow::filter
