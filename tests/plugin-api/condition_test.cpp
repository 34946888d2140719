// The condition language (cxflow/condition.hpp): parsed from text, evaluated over real events.
// Every operator, the precedence of not/and/or, parentheses, missing and null fields, the error
// messages with their offsets, and the nesting bound (20,000 parentheses overflowed the stack).
#include <gtest/gtest.h>

#include <string>

#include "cxflow/condition.hpp"

using namespace cxflow;

namespace {

// One field table per test: conditions and events share its ids.
class ConditionTest : public ::testing::Test {
 protected:
  FieldTable table;

  Condition parse(const std::string& text, const SourcePos& pos = {}) {
    return Condition::parse(
        text, [this](std::string_view f) { return table.intern(f); }, pos);
  }
  // An event from name/value pairs.
  Event event(std::initializer_list<std::pair<const char*, Value>> fields) {
    Event e;
    for (const auto& [name, value] : fields) e.set(table.intern(name), value);
    return e;
  }
  bool matches(const std::string& text, const Event& e) { return parse(text).matches(e); }
  // The message parse() throws, or "" when it parses.
  std::string error_of(const std::string& text, const SourcePos& pos = {}) {
    try {
      parse(text, pos);
    } catch (const ConfigException& ex) {
      last_pos = ex.pos();
      return ex.message();
    }
    return "";
  }
  SourcePos last_pos;
};

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

// ---- Comparisons -----------------------------------------------------------------------------

TEST_F(ConditionTest, NumericComparisons) {
  const Event e = event({{"metrics.waitTime", std::int64_t{20}}});
  EXPECT_TRUE(matches("metrics.waitTime == 20", e));
  EXPECT_TRUE(matches("metrics.waitTime = 20", e)) << "'=' is '=='";
  EXPECT_FALSE(matches("metrics.waitTime != 20", e));
  EXPECT_TRUE(matches("metrics.waitTime != 21", e));
  EXPECT_TRUE(matches("metrics.waitTime <= 20", e));
  EXPECT_FALSE(matches("metrics.waitTime < 20", e));
  EXPECT_TRUE(matches("metrics.waitTime < 20.5", e));
  EXPECT_TRUE(matches("metrics.waitTime >= 20", e));
  EXPECT_FALSE(matches("metrics.waitTime > 20", e));
  EXPECT_TRUE(matches("metrics.waitTime > -1", e));
  EXPECT_TRUE(matches("metrics.waitTime > 1.5e1", e));
  EXPECT_TRUE(matches("metrics.waitTime<=20", e)) << "no spaces needed around an operator";
}

TEST_F(ConditionTest, IntegersAndDoublesCompareAsNumbers) {
  EXPECT_TRUE(matches("x == 2", event({{"x", 2.0}})));
  EXPECT_TRUE(matches("x == 2.0", event({{"x", std::int64_t{2}}})));
  EXPECT_TRUE(matches("x < 2.25", event({{"x", 2.125}})));
  EXPECT_FALSE(matches("x > 2.25", event({{"x", 2.125}})));
}

TEST_F(ConditionTest, StringComparisonsAreExactAndOrdered) {
  const Event e = event({{"metrics.state", std::string("ended")}});
  EXPECT_TRUE(matches("metrics.state == ended", e));
  EXPECT_TRUE(matches("metrics.state == 'ended'", e));
  EXPECT_TRUE(matches("metrics.state == \"ended\"", e));
  EXPECT_FALSE(matches("metrics.state == Ended", e)) << "comparison is case-sensitive";
  EXPECT_TRUE(matches("metrics.state != abandoned", e));
  EXPECT_TRUE(matches("metrics.state < f", e));
  EXPECT_TRUE(matches("metrics.state > a", e));
  EXPECT_TRUE(matches("q == 'vip line'", event({{"q", std::string("vip line")}}))) << "quoted values keep spaces";
  EXPECT_TRUE(matches("q == 'a and b'", event({{"q", std::string("a and b")}}))) << "keywords inside quotes are text";
}

TEST_F(ConditionTest, AStringFieldAgainstAnIntegerComparesTheText) {
  const Event e = event({{"code", std::string("20")}});
  EXPECT_TRUE(matches("code == 20", e));
  EXPECT_FALSE(matches("code == 21", e));
  EXPECT_FALSE(matches("code < 30", e)) << "no ordering between a string and a number";
  EXPECT_FALSE(matches("code > 3", e));
}

TEST_F(ConditionTest, BooleansCompareWithTrueAndFalse) {
  const Event e = event({{"vip", true}});
  EXPECT_TRUE(matches("vip == true", e));
  EXPECT_FALSE(matches("vip == false", e));
  EXPECT_TRUE(matches("vip != false", e));
  EXPECT_TRUE(matches("vip == 'true'", event({{"vip", std::string("true")}}))) << "a quoted 'true' is a string";
}

// ---- Missing and null fields -----------------------------------------------------------------

TEST_F(ConditionTest, AMissingFieldMakesEveryComparisonFalseIncludingNotEqualAndNotIn) {
  const Event e = event({{"other", std::int64_t{1}}});
  for (const char* c : {"f == 1", "f != 1", "f < 1", "f <= 1", "f > 1", "f >= 1", "f in [1, 2]", "f not in [1, 2]",
                        "exists f", "f exists"})
    EXPECT_FALSE(matches(c, e)) << c;
  EXPECT_TRUE(matches("not exists f", e));
  EXPECT_TRUE(matches("not exists f or f != x", e)) << "the documented way to include missing fields";
}

TEST_F(ConditionTest, ANullFieldCountsAsMissing) {
  const Event e = event({{"f", Value{}}});
  EXPECT_FALSE(matches("exists f", e));
  EXPECT_FALSE(matches("f != 1", e));
  EXPECT_FALSE(matches("f not in [1]", e));
  EXPECT_TRUE(matches("not exists f", e));
}

// ---- in / not in / exists ----------------------------------------------------------------------

TEST_F(ConditionTest, InAndNotInLists) {
  const Event sales = event({{"metadata.queue", std::string("sales")}});
  const Event vip = event({{"metadata.queue", std::string("vip line")}});
  EXPECT_TRUE(matches("metadata.queue in [sales, support]", sales));
  EXPECT_FALSE(matches("metadata.queue in [support, billing]", sales));
  EXPECT_TRUE(matches("metadata.queue in [sales]", sales));
  EXPECT_FALSE(matches("metadata.queue in []", sales)) << "an empty list holds nothing";
  EXPECT_TRUE(matches("metadata.queue not in []", sales));
  EXPECT_TRUE(matches("metadata.queue not in [\"vip line\"]", sales));
  EXPECT_FALSE(matches("metadata.queue not in [\"vip line\"]", vip));
  EXPECT_TRUE(matches("metadata.queue in ['vip line', sales]", vip));
  EXPECT_TRUE(matches("metadata.queue in [sales,support]", sales)) << "no spaces needed after commas";
  EXPECT_TRUE(matches("metadata.queue in [sales, support,]", sales)) << "a trailing comma is accepted";
}

TEST_F(ConditionTest, InListsMixNumbersAndWords) {
  EXPECT_TRUE(matches("skill in [1, 2, 3]", event({{"skill", std::int64_t{2}}})));
  EXPECT_FALSE(matches("skill in [1, 3]", event({{"skill", std::int64_t{2}}})));
  EXPECT_TRUE(matches("skill in [1.5, 2.5]", event({{"skill", 2.5}})));
  EXPECT_TRUE(matches("skill in [a, 7]", event({{"skill", std::string("7")}}))) << "string field, integer constant";
  EXPECT_TRUE(matches("skill not in [1, 3]", event({{"skill", std::int64_t{2}}})));
}

TEST_F(ConditionTest, ExistsInBothForms) {
  const Event e = event({{"agentId", std::string("a1")}, {"n", std::int64_t{0}}, {"s", std::string("")}});
  EXPECT_TRUE(matches("exists agentId", e));
  EXPECT_TRUE(matches("agentId exists", e));
  EXPECT_FALSE(matches("exists interactionId", e));
  EXPECT_TRUE(matches("exists n", e)) << "zero is a value";
  EXPECT_TRUE(matches("exists s", e)) << "the empty string is a value";
  EXPECT_TRUE(matches("not exists interactionId", e));
}

// ---- not / and / or / parentheses ----------------------------------------------------------------

TEST_F(ConditionTest, AndBindsTighterThanOr) {
  // a or b and c == a or (b and c)
  const Event only_a = event({{"a", std::int64_t{1}}});
  const Event only_b = event({{"b", std::int64_t{1}}});
  const Event b_and_c = event({{"b", std::int64_t{1}}, {"c", std::int64_t{1}}});
  const std::string cond = "exists a or exists b and exists c";
  EXPECT_TRUE(matches(cond, only_a));
  EXPECT_FALSE(matches(cond, only_b)) << "read as (a or b) and c this would be false too; see the next line";
  EXPECT_TRUE(matches(cond, b_and_c));
  const std::string left = "(exists a or exists b) and exists c";
  EXPECT_FALSE(matches(left, only_a)) << "parentheses override the precedence";
  EXPECT_TRUE(matches(left, b_and_c));
  // c and a or b: (c and a) or b
  EXPECT_TRUE(matches("exists c and exists a or exists b", only_b));
  EXPECT_FALSE(matches("exists c and (exists a or exists b)", only_b));
}

TEST_F(ConditionTest, NotBindsTighterThanAndAndOr) {
  const Event only_a = event({{"a", std::int64_t{1}}});
  // not a and b == (not a) and b
  EXPECT_FALSE(matches("not exists a and exists b", only_a));
  EXPECT_FALSE(matches("not exists a and exists b", event({})));
  EXPECT_TRUE(matches("not (exists a and exists b)", only_a));
  // not a or b == (not a) or b
  EXPECT_FALSE(matches("not exists a or exists b", only_a));
  EXPECT_TRUE(matches("not exists a or exists b", event({})));
  EXPECT_FALSE(matches("not (exists a or exists b)", only_a));
  // not applies to a comparison as a whole
  EXPECT_TRUE(matches("not a == 2", only_a));
  EXPECT_FALSE(matches("not a == 1", only_a));
}

TEST_F(ConditionTest, DoubleNegationAndRedundantParentheses) {
  const Event e = event({{"a", std::int64_t{1}}});
  EXPECT_TRUE(matches("not not exists a", e));
  EXPECT_FALSE(matches("not not not exists a", e));
  EXPECT_TRUE(matches("((exists a))", e));
  EXPECT_TRUE(matches("( ( a == 1 ) )", e));
  EXPECT_TRUE(matches("not (not (a == 1))", e));
}

TEST_F(ConditionTest, LongAndOrChainsEvaluateEveryOperand) {
  const Event e = event({{"q", std::string("s3")}, {"w", std::int64_t{5}}});
  EXPECT_TRUE(matches("q == s1 or q == s2 or q == s3 or q == s4", e));
  EXPECT_FALSE(matches("q == s1 or q == s2 or q == s4", e));
  EXPECT_TRUE(matches("w > 1 and w > 2 and w > 3 and w < 6", e));
  EXPECT_FALSE(matches("w > 1 and w > 2 and w > 9 and w < 6", e));
}

TEST_F(ConditionTest, TheFilterExampleFromTheHeader) {
  const std::string cond = "eventType == interaction and (metrics.state == ended or metrics.state == abandoned)";
  EXPECT_TRUE(
      matches(cond, event({{"eventType", std::string("interaction")}, {"metrics.state", std::string("ended")}})));
  EXPECT_TRUE(
      matches(cond, event({{"eventType", std::string("interaction")}, {"metrics.state", std::string("abandoned")}})));
  EXPECT_FALSE(
      matches(cond, event({{"eventType", std::string("interaction")}, {"metrics.state", std::string("queued")}})));
  EXPECT_FALSE(matches(cond, event({{"eventType", std::string("agent")}, {"metrics.state", std::string("ended")}})));
}

TEST_F(ConditionTest, KeywordsAreWholeWords) {
  // Field names that start with a keyword are field names.
  const Event e = event({{"order", std::int64_t{1}},
                         {"android", std::int64_t{1}},
                         {"notes", std::int64_t{1}},
                         {"index", std::int64_t{1}}});
  EXPECT_TRUE(matches("order == 1 and android == 1 and notes == 1 and index == 1", e));
  EXPECT_TRUE(matches("exists notes", e));
}

// ---- Empty conditions, fields(), copies ---------------------------------------------------------

TEST_F(ConditionTest, AnEmptyConditionMatchesEverything) {
  Condition c;
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(c.matches(event({})));
  EXPECT_FALSE(parse("exists a").empty());
}

TEST_F(ConditionTest, FieldsListsEveryFieldTheConditionReads) {
  const Condition c = parse("a == 1 and (exists b or c in [x]) and not d != 2");
  std::vector<std::string> names;
  for (FieldId id : c.fields()) names.push_back(table.name(id));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(c.text(), "a == 1 and (exists b or c in [x]) and not d != 2");
}

TEST_F(ConditionTest, CopiesAndMovesEvaluateTheSame) {
  const Event yes = event({{"a", std::int64_t{1}}});
  const Event no = event({{"a", std::int64_t{2}}});
  Condition c = parse("a == 1");
  Condition copy = c;
  Condition moved = std::move(c);
  EXPECT_TRUE(copy.matches(yes));
  EXPECT_FALSE(copy.matches(no));
  EXPECT_TRUE(moved.matches(yes));
  EXPECT_FALSE(moved.matches(no));
}

// ---- Errors, with offsets -------------------------------------------------------------------------

TEST_F(ConditionTest, ErrorsPointAtTheOffendingCharacter) {
  const SourcePos at{"p.yaml", 7, 12};  // where the condition's first character is
  struct Case {
    const char* text;
    std::size_t offset;  // 0-based offset of the character the error names
    const char* says;
  };
  const Case cases[] = {
      {"a == ", 5, "expected a value, found the end of the condition"},
      {"a ==", 4, "expected a value, found the end of the condition"},
      {"a == 1 b", 7, "unexpected 'b'"},
      {"a ! 1", 2, "'!' must be '!='"},
      {"a == 'open", 5, "unterminated string"},
      {"(a == 1", 7, "missing ')'"},
      {"a == 1)", 6, "unexpected ')'"},
      {"a", 1, "expected an operator (==, !=, <, <=, >, >=, in, not in) after the field"},
      {"a in sales", 5, "expected '[' after 'in'"},
      {"a in [x y]", 8, "expected ',' or ']' in the list"},
      {"a in [x", 7, "expected ',' or ']' in the list"},
      {"a not b", 6, "expected an operator"},
      {"== 1", 0, "expected a field name, found '=='"},
      {"a == 1 and", 10, "expected a field name, found the end of the condition"},
      {"a == 1 or or b == 2", 10, "expected a field name, found 'or'"},
      {"exists and", 7, "expected a field name, found 'and'"},
      {"a == [1]", 5, "expected a value, found '['"},
      {"", 0, "expected a field name, found the end of the condition"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text, at);
    EXPECT_NE(e.find(c.says), std::string::npos) << "'" << c.text << "': " << e;
    EXPECT_NE(e.find(std::string("in condition '") + c.text + "'"), std::string::npos) << e;
    EXPECT_NE(e.find("expected e.g."), std::string::npos) << "every error shows an example: " << e;
    EXPECT_EQ(last_pos.file, "p.yaml");
    EXPECT_EQ(last_pos.line, 7);
    EXPECT_EQ(last_pos.column, 12 + static_cast<int>(c.offset)) << "'" << c.text << "': " << e;
  }
}

TEST_F(ConditionTest, WithoutAPositionTheErrorStaysUnlocated) {
  error_of("a ==");
  EXPECT_EQ(last_pos.line, 0);
  EXPECT_EQ(last_pos.column, 0) << "no column invented when the line is unknown";
}

TEST_F(ConditionTest, ErrorInALongConditionQuotesOnlyAFewDozenCharactersAroundIt) {
  // 10,000 comparisons, the error in the middle: the message shows the neighbourhood, not 150 KB.
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "a == 1 and ";
  const std::size_t bad = text.size();
  text += "!! and ";
  for (int i = 0; i < 5000; ++i) text += "a == 1 and ";
  text += "a == 1";
  const std::string e = error_of(text, SourcePos{"p.yaml", 1, 1});
  EXPECT_LT(e.size(), 400u) << e.substr(0, 1000);
  EXPECT_NE(e.find("'!' must be '!='"), std::string::npos) << e;
  EXPECT_NE(e.find("!!"), std::string::npos) << "the quoted window holds the offending characters: " << e;
  EXPECT_NE(e.find("(character " + std::to_string(bad + 1) + " of " + std::to_string(text.size()) + ")"),
            std::string::npos)
      << e;
  EXPECT_EQ(last_pos.column, 1 + static_cast<int>(bad));
}

TEST_F(ConditionTest, AHugeValueInAConditionIsNotEchoedWhole) {
  const std::string huge(1 << 20, 'x');
  const std::string e = error_of("a == 1 " + huge);
  EXPECT_LT(e.size(), 400u);
  EXPECT_NE(e.find("unexpected 'xxxx"), std::string::npos) << e;
  EXPECT_NE(e.find("characters)"), std::string::npos) << "says how long the cut value was: " << e;
}

TEST_F(ConditionTest, ControlCharactersInMessagesAreEscaped) {
  const std::string e = error_of("a == 1 \x1b[31mred");
  EXPECT_EQ(e.find('\x1b'), std::string::npos) << "no terminal escape reaches the user's terminal";
  EXPECT_NE(e.find("\\x1b"), std::string::npos) << e;
}

// ---- Nesting bound (regressions: 20,000 '(' or 'not' crashed validate with SIGSEGV) ---------------

TEST_F(ConditionTest, SixtyFourLevelsOfParenthesesAndNotAreAccepted) {
  const Event e = event({{"a", std::int64_t{1}}});
  EXPECT_TRUE(matches(repeat("(", 64) + "a == 1" + repeat(")", 64), e));
  EXPECT_TRUE(matches(repeat("not ", 64) + "a == 1", e)) << "an even number of nots";
  EXPECT_FALSE(matches(repeat("not ", 63) + "a == 1", e));
  EXPECT_TRUE(matches(repeat("not (", 32) + "a == 1" + repeat(")", 32), e)) << "64 levels mixed";
  // Depth is nesting, not count: siblings at depth 1 do not add up.
  std::string siblings;
  for (int i = 0; i < 200; ++i) siblings += std::string(i ? " and " : "") + "(not a == 2)";
  EXPECT_TRUE(matches(siblings, e));
}

TEST_F(ConditionTest, SixtyFiveLevelsOfParenthesesAreRefusedAtTheSixtyFifth) {
  const std::string text = repeat("(", 65) + "a == 1" + repeat(")", 65);
  const std::string e = error_of(text, SourcePos{"p.yaml", 3, 10});
  EXPECT_NE(e.find("nested deeper than 64 levels of '(' and 'not'"), std::string::npos) << e;
  EXPECT_EQ(last_pos.line, 3);
  EXPECT_EQ(last_pos.column, 10 + 64) << "the 65th '(' (offset 64)";
}

TEST_F(ConditionTest, TwentyThousandNestedParenthesesAreRefusedNotAStackOverflow) {
  const std::string text = repeat("(", 20000) + "a == 1" + repeat(")", 20000);
  const std::string e = error_of(text, SourcePos{"p.yaml", 2, 5});
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e.substr(0, 500);
  EXPECT_LT(e.size(), 400u) << "the condition is quoted, not echoed: " << e.substr(0, 500);
  EXPECT_EQ(last_pos.column, 5 + 64);
}

TEST_F(ConditionTest, TwentyThousandNotsAreRefusedNotAStackOverflow) {
  const std::string text = repeat("not ", 20000) + "exists a";
  const std::string e = error_of(text, SourcePos{"p.yaml", 2, 5});
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e.substr(0, 500);
  EXPECT_LT(e.size(), 400u);
  EXPECT_EQ(last_pos.column, 5 + 64 * 4) << "the 65th 'not'";
}

TEST_F(ConditionTest, TwentyThousandUnclosedParenthesesAreRefused) {
  const std::string e = error_of(repeat("(", 20000), SourcePos{"p.yaml", 1, 1});
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e.substr(0, 500);
}

TEST_F(ConditionTest, FlatChainsHaveNoDepthLimit) {
  // and/or chains are loops, not recursion: 20,000 operands parse and evaluate.
  std::string ors, ands;
  for (int i = 0; i < 20000; ++i) {
    ors += std::string(i ? " or " : "") + "a == " + std::to_string(i);
    ands += std::string(i ? " and " : "") + "a >= 0";
  }
  EXPECT_TRUE(matches(ors, event({{"a", std::int64_t{19999}}})));
  EXPECT_FALSE(matches(ors, event({{"a", std::int64_t{20000}}})));
  EXPECT_TRUE(matches(ands, event({{"a", std::int64_t{1}}})));
}
