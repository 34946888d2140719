// Fuzz target: the condition language (cxflow/condition.hpp), parse and evaluation.
//
// Input: the condition text. Invariants (a violation traps):
// - Condition::parse returns or throws ConfigException, nothing else (no stack overflow: nesting
//   is bounded at 64), and an error's column lies inside the text (or just past its end).
// - an error message stays short whatever the text's size (values are quoted, not echoed).
// - a parsed condition evaluates, on events holding each field it reads as a number, a string,
//   a boolean or null, and `not (C)` parses whenever C nests below the limit and is its negation
//   on every one of those events.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/condition.hpp"

namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

constexpr std::size_t kMaxMessage = 600;

struct Parsed {
  bool ok = false;
  cxflow::Condition c;
};

Parsed parse(std::string_view text, cxflow::FieldTable& table) {
  const cxflow::SourcePos at{"f.yaml", 1, 1};
  Parsed p;
  try {
    p.c = cxflow::Condition::parse(
        text, [&](std::string_view f) { return table.intern(f); }, at);
    p.ok = true;
  } catch (const cxflow::ConfigException& e) {
    FUZZ_CHECK(e.message().size() < kMaxMessage);
    FUZZ_CHECK(e.pos().line == 1);
    FUZZ_CHECK(e.pos().column >= 1 && static_cast<std::size_t>(e.pos().column) <= text.size() + 1);
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cxflow::FieldTable table;
  const Parsed p = parse(text, table);
  if (!p.ok) return 0;

  // Events: every field the condition reads set to the same kind of value, plus an empty one.
  const std::vector<cxflow::FieldId> fields = p.c.fields();
  std::vector<cxflow::Event> events(1);
  for (const cxflow::Value& v : {cxflow::Value(std::int64_t{20}), cxflow::Value(2.5),
                                 cxflow::Value(std::string("ended")), cxflow::Value(true), cxflow::Value()}) {
    cxflow::Event e;
    for (cxflow::FieldId id : fields) e.set(id, v);
    events.push_back(std::move(e));
  }
  std::vector<bool> results;
  for (const auto& e : events) results.push_back(p.c.matches(e));

  const Parsed negated = parse("not (" + std::string(text) + ")", table);
  if (negated.ok)
    for (std::size_t i = 0; i < events.size(); ++i) FUZZ_CHECK(negated.c.matches(events[i]) == !results[i]);
  return 0;
}
