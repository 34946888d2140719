// Conditions on event fields, shared by every plugin that filters ("where ...").
//
//   metrics.state == ended
//   metrics.waitTime <= 20
//   metadata.queue in [sales, support]
//   metadata.queue not in ["vip line"]
//   exists agentId
//   eventType == interaction and (metrics.state == ended or metrics.state == abandoned)
//   not exists metrics.handleTime
//
// Operators: == (or =), !=, <, <=, >, >=, in [...], not in [...], exists; combined with and,
// or, not and parentheses. Values are numbers, bare words or quoted strings ('..' or "..");
// true/false compare with booleans. Numeric comparison when both sides are numbers, string
// comparison otherwise. A missing (or null) field makes every comparison false, including !=
// and "not in": write `not exists f or f != x` to include it.
//
// Limits: '(' and 'not' nest at most 64 levels deep (`not not x` is two, `((a))` is two); a
// deeper condition is refused with the position of the '(' or 'not' past the limit. `a or b
// or c ...` and `a and b and ...` are flat and have no limit. Messages quote at most a few dozen
// characters of the condition, around the offending one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/component.hpp"
#include "cxflow/event.hpp"

namespace cxflow {

class Condition {
 public:
  Condition();
  ~Condition();
  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;
  Condition(const Condition&);
  Condition& operator=(const Condition&);

  // Parses `text`, declaring the fields it names as reads through `setup` (Setup::reads). Throws ConfigException
  // at `pos` with the offending part of the text.
  static Condition parse(std::string_view text, Setup& setup, const SourcePos& pos = {});
  // Same, with a field resolver instead of a Setup (tests, tools).
  static Condition parse(std::string_view text, const std::function<FieldId(std::string_view)>& field,
                         const SourcePos& pos = {});

  bool matches(const Event& e) const noexcept;
  bool empty() const noexcept { return root_ == nullptr; }  // an empty condition matches everything
  const std::string& text() const noexcept { return text_; }
  // Every field the condition reads.
  std::vector<FieldId> fields() const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::string text_;
};

}  // namespace cxflow
