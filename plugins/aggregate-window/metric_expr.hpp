// The metric expression language of aggregate-window:
//
//   expression := aggregate [ "where" condition ]
//   aggregate  := count | sum(f) | avg(f) | min(f) | max(f) | count_distinct(f) | pNN(f)
//               | ratio(condition)
//
// Conditions are cxflow/condition.hpp's language; this parser only finds where they start and
// end (balanced parentheses, quotes), the caller parses them with Condition::parse.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cxflow/config.hpp"
#include "sketches.hpp"

namespace cxflow::aggwin {

enum class Fn { Count, Sum, Avg, Min, Max, CountDistinct, Percentile, Ratio };
const char* fn_name(Fn fn);

struct MetricExpr {
  Fn fn = Fn::Count;
  std::string field;             // sum/avg/min/max/count_distinct/pNN
  PercentileE4 percentile = 0;   // pNN, in units of 1e-4 percent (p99.9 -> 999000)
  std::string ratio_condition;   // ratio(...)
  std::size_t ratio_offset = 0;  // where ratio_condition starts in the expression
  std::string where;             // "" = every event
  std::size_t where_offset = 0;
};

// Text used in every metric error: what a valid expression looks like.
extern const char* const kMetricExamples;

// Parses `text`, the expression of metric `name` written at `pos` (the YAML scalar). Throws
// ConfigException naming the metric, the position (column adjusted to the offending character)
// and an example.
MetricExpr parse_metric(std::string_view name, std::string_view text, const SourcePos& pos);

// `pos` moved right by `offset` characters (when the position is known).
SourcePos shifted(const SourcePos& pos, std::size_t offset);

}  // namespace cxflow::aggwin
