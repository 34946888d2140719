// Fuzz target: aggregate-window's metric expressions (plugins/aggregate-window/metric_expr.cpp)
// and the conditions they carry.
//
// Input: the expression text. Invariants (a violation traps):
// - parse_metric returns or throws ConfigException, nothing else; the error column lies inside
//   the text (or just past it) and the message stays short whatever the text's size.
// - a parsed expression's ratio condition and where clause are the parts of the text at their
//   offsets, and parse (or are refused) as conditions at the same terms.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cxflow/condition.hpp"
#include "metric_expr.hpp"

namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// The examples line of every metric error is about 190 characters; the quoted text is bounded.
constexpr std::size_t kMaxMessage = 900;

void check_error(const cxflow::ConfigException& e, std::size_t text_size, int first_column) {
  FUZZ_CHECK(e.message().size() < kMaxMessage);
  FUZZ_CHECK(e.pos().line == 1);
  FUZZ_CHECK(e.pos().column >= first_column && static_cast<std::size_t>(e.pos().column) <= text_size + 1);
}

void condition(std::string_view text, std::size_t offset, std::size_t whole) {
  cxflow::FieldTable table;
  try {
    cxflow::Condition::parse(
        text, [&](std::string_view f) { return table.intern(f); },
        cxflow::aggwin::shifted(cxflow::SourcePos{"f.yaml", 1, 1}, offset));
  } catch (const cxflow::ConfigException& e) {
    check_error(e, whole, 1 + static_cast<int>(offset));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cxflow::aggwin::MetricExpr m;
  try {
    m = cxflow::aggwin::parse_metric("m", text, cxflow::SourcePos{"f.yaml", 1, 1});
  } catch (const cxflow::ConfigException& e) {
    check_error(e, size, 1);
    return 0;
  }
  if (m.fn == cxflow::aggwin::Fn::Ratio) {
    FUZZ_CHECK(m.ratio_offset <= size && text.substr(m.ratio_offset, m.ratio_condition.size()) == m.ratio_condition);
    condition(m.ratio_condition, m.ratio_offset, size);
  }
  if (!m.where.empty()) {
    FUZZ_CHECK(m.where_offset <= size && text.substr(m.where_offset) == m.where);
    condition(m.where, m.where_offset, size);
  }
  if (m.fn == cxflow::aggwin::Fn::Percentile) FUZZ_CHECK(m.percentile > 0 && m.percentile <= 1'000'000);
  return 0;
}
