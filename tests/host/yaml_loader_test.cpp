// host/src/yaml_loader.cpp's limits: YAML aliases are expanded within a budget of values and
// text, nesting is bounded, and a tab in the indentation that broke the parse is named.
#include <gtest/gtest.h>

#include <string>

#include "yaml_loader.hpp"

using namespace cxflow;

namespace {

struct Parsed {
  ConfigNode node;
  std::vector<ConfigError> errors;
  std::string text() const {
    std::string s;
    for (const auto& e : errors) s += e.str() + "\n";
    return s;
  }
};

Parsed parse(const std::string& yaml) {
  Parsed p;
  p.node = host::parse_yaml(
      yaml, "p.yaml", [](const std::string&) { return std::optional<std::string>(); }, p.errors);
  return p;
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// `levels` levels of `width` aliases of the level below: width^levels values.
std::string alias_tower(int levels, int width) {
  std::string y = "l0: &l0 x\n";
  for (int l = 1; l <= levels; ++l) {
    y += "l" + std::to_string(l) + ": &l" + std::to_string(l) + " [";
    for (int i = 0; i < width; ++i) y += std::string(i ? ", " : "") + "*l" + std::to_string(l - 1);
    y += "]\n";
  }
  return y;
}

}  // namespace

TEST(YamlLimits, AnAliasIsExpandedIntoACopy) {
  const auto p = parse("base: &b {plugin: x, count: 3}\ncopy: *b\n");
  ASSERT_TRUE(p.errors.empty()) << p.text();
  const ConfigNode* copy = p.node.find("copy");
  ASSERT_NE(copy, nullptr);
  ASSERT_TRUE(copy->is_map());
  ASSERT_NE(copy->find("count"), nullptr);
  EXPECT_EQ(copy->find("count")->scalar, "3");
}

TEST(YamlLimits, AliasesExpandingToFewerThanTheLimitAreAccepted) {
  // 4 levels of 10: 11,110 values in all.
  const auto p = parse(alias_tower(4, 10));
  EXPECT_TRUE(p.errors.empty()) << p.text();
}

TEST(YamlLimits, TheBillionLaughsAreRefusedAtTheValueBudget) {
  const auto p = parse(alias_tower(9, 9));  // 387 million values
  ASSERT_EQ(p.errors.size(), 1u) << p.text();
  EXPECT_NE(p.errors[0].message.find("the document expands to more than 100000 values"), std::string::npos) << p.text();
  EXPECT_GT(p.errors[0].pos.line, 0);
  EXPECT_TRUE(p.node.is_null()) << "nothing half-expanded is handed on";
}

TEST(YamlLimits, AnAliasedLongScalarIsRefusedAtTheTextBudget) {
  // 1 MiB repeated 20 times is 20 MiB of text from a 1 MiB file, with only 22 values.
  std::string y = "a: &a " + std::string(1u << 20, 'x') + "\nb: [" + repeat("*a, ", 19) + "*a]\n";
  const auto p = parse(y);
  ASSERT_EQ(p.errors.size(), 1u) << p.text().substr(0, 500);
  EXPECT_NE(p.errors[0].message.find("text expands to more than 16 MiB"), std::string::npos) << p.text().substr(0, 500);
}

TEST(YamlLimits, SixtyFourLevelsOfNestingBelowTheRootAreAcceptedSixtyFiveAreNot) {
  EXPECT_TRUE(parse("a: " + repeat("[", 64) + repeat("]", 64) + "\n").errors.empty()) << "the root map, then 64 lists";
  const auto p = parse("a: " + repeat("[", 65) + repeat("]", 65) + "\n");
  ASSERT_EQ(p.errors.size(), 1u) << p.text();
  EXPECT_NE(p.errors[0].message.find("maps and lists nested deeper than 64 levels"), std::string::npos);
  EXPECT_EQ(p.errors[0].pos.line, 1);
  EXPECT_EQ(p.errors[0].pos.column, 4 + 64) << "at the 65th '['";
}

TEST(YamlLimits, YamlCppsOwnDepthLimitGetsAMessageThatSaysSo) {
  const auto p = parse("a: " + repeat("{a: ", 20000) + "1" + repeat("}", 20000) + "\n");
  ASSERT_EQ(p.errors.size(), 1u) << p.text();
  EXPECT_NE(p.errors[0].message.find("nested too deeply (cxflow allows 64 levels)"), std::string::npos) << p.text();
  EXPECT_EQ(p.errors[0].message.find("bad file"), std::string::npos) << p.text();
}

TEST(YamlLimits, ADocumentOverFourMebibytesIsRefusedUnparsed) {
  const auto p = parse("a: " + std::string(host::kMaxPipelineFileBytes, 'x') + "\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].message.find("more than the 4 MiB a pipeline file may be"), std::string::npos) << p.text();
}

TEST(YamlTabs, ATabInTheIndentationIsNamedAtItsLineAndColumn) {
  const auto p = parse("sources:\n  nums:\n    plugin: x\n  \tcount: 3\n");
  ASSERT_EQ(p.errors.size(), 1u) << p.text();
  EXPECT_EQ(p.errors[0].pos.line, 4);
  EXPECT_EQ(p.errors[0].pos.column, 3);
  EXPECT_NE(p.errors[0].message.find("a tab in the indentation; YAML indents with spaces only"), std::string::npos);
  EXPECT_NE(p.errors[0].message.find("(the parser said: "), std::string::npos) << "yaml-cpp's words are kept";
}

TEST(YamlTabs, ATabInsideABlockScalarIsContentNotAnError) {
  const auto p = parse("a: |\n  x\n  \ty\nb: 1\n");
  ASSERT_TRUE(p.errors.empty()) << p.text();
  EXPECT_EQ(p.node.find("a")->scalar, "x\n\ty\n");
}

TEST(YamlTabs, AnotherSyntaxErrorIsNotBlamedOnATab) {
  const auto p = parse("a: [1, 2\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_EQ(p.errors[0].message.find("tab"), std::string::npos) << p.text();
  EXPECT_NE(p.errors[0].message.find("invalid YAML"), std::string::npos);
  // A tab before the error but on another, earlier line than the one at fault is still the
  // closest explanation only when yaml-cpp stops there: a blank line holding a tab is refused.
  const auto q = parse("a: 1\n\t\nb: 2\n");
  ASSERT_EQ(q.errors.size(), 1u);
  EXPECT_EQ(q.errors[0].pos.line, 2);
  EXPECT_NE(q.errors[0].message.find("a tab in the indentation"), std::string::npos) << q.text();
}
