// The two helpers every config message is built with (cxflow/config.hpp): quote_value, which
// bounds what of a user's value a message repeats (a 50 MB scalar made 100 MB of stderr), and
// closest_match / did_you_mean, which must pick the same suggestion whatever the order of the
// candidates.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cxflow/config.hpp"

using namespace cxflow;

// ---- quote_value ---------------------------------------------------------------------------------

TEST(QuoteValue, ShortValuesAreQuotedWhole) {
  EXPECT_EQ(quote_value("ten"), "'ten'");
  EXPECT_EQ(quote_value(""), "''");
  EXPECT_EQ(quote_value(std::string(kQuoteMaxChars, 'a')), "'" + std::string(kQuoteMaxChars, 'a') + "'");
}

TEST(QuoteValue, AFiftyMegabyteValueIsCutToAFewDozenCharactersAndItsLengthSaid) {
  const std::string huge(50'000'000, 'x');
  const std::string q = quote_value(huge);
  EXPECT_EQ(q, "'" + std::string(kQuoteMaxChars, 'x') + "...' (50000000 characters)");
  EXPECT_LT(q.size(), 80u);
}

TEST(QuoteValue, ALongerLimitForNamesBuiltByCxflow) {
  const std::string path = "transforms.per_queue_and_skill.metrics.abandon_rate_p90";
  EXPECT_EQ(quote_value(path, 200), "'" + path + "'");
  EXPECT_EQ(quote_value(std::string(300, 'k'), 200), "'" + std::string(200, 'k') + "...' (300 characters)");
}

TEST(QuoteValue, ControlCharactersAreEscapedSoNoneReachesTheTerminal) {
  EXPECT_EQ(quote_value("a\nb\tc\rd"), "'a\\nb\\tc\\rd'");
  EXPECT_EQ(quote_value("\x1b[2J"), "'\\x1b[2J'");
  EXPECT_EQ(quote_value(std::string("a\0b", 3)), "'a\\x00b'");
  EXPECT_EQ(quote_value("\x7f"), "'\\x7f'");
}

TEST(QuoteValue, ACutNeverSplitsAUtf8Character) {
  // 39 ASCII characters then a 2-byte 'é': a cut at byte 40 would leave half of it.
  const std::string v = std::string(kQuoteMaxChars - 1, 'a') + "\xc3\xa9" + std::string(20, 'b');
  const std::string q = quote_value(v);
  EXPECT_EQ(q, "'" + std::string(kQuoteMaxChars - 1, 'a') + "...' (" + std::to_string(v.size()) + " characters)");
  EXPECT_EQ(quote_value("caf\xc3\xa9"), "'caf\xc3\xa9'") << "UTF-8 text is not escaped";
}

TEST(QuoteValueAt, ShowsTheNeighbourhoodOfTheOffendingCharacter) {
  std::string v(1000, 'a');
  v.replace(500, 3, "XYZ");
  const std::string q = quote_value_at(v, 500);
  EXPECT_NE(q.find("XYZ"), std::string::npos) << q;
  EXPECT_EQ(q.rfind("'...", 0), 0u) << "cut at the front: " << q;
  EXPECT_NE(q.find("...' (character 501 of 1000)"), std::string::npos) << q;
  EXPECT_LT(q.size(), 100u);
}

TEST(QuoteValueAt, AtEitherEndOfTheValue) {
  const std::string v(1000, 'a');
  EXPECT_EQ(quote_value_at(v, 0), "'" + std::string(kQuoteMaxChars, 'a') + "...' (character 1 of 1000)");
  EXPECT_EQ(quote_value_at(v, 1000), "'..." + std::string(kQuoteMaxChars, 'a') + "' (at its end, character 1001)")
      << "the end of the value (an error at 'end of input') keeps the last characters";
  EXPECT_EQ(quote_value_at("short one", 3), "'short one'") << "a short value is quoted whole";
}

// ---- closest_match / did_you_mean ------------------------------------------------------------------

TEST(DidYouMean, SpedSuggestsSpeedNotSeed) {
  // One edit from both: the longer common prefix decides.
  EXPECT_EQ(closest_match("sped", {"seed", "speed"}), "speed");
  EXPECT_EQ(closest_match("sped", {"speed", "seed"}), "speed");
  EXPECT_EQ(did_you_mean("sped", {"seed", "speed", "start_time"}), "; did you mean 'speed'?");
}

TEST(DidYouMean, TheSameAnswerWhateverTheOrderOfTheCandidates) {
  std::vector<std::string> names = {"window", "widow", "windows", "group_by", "winner", "metrics"};
  std::sort(names.begin(), names.end());
  const std::string first = closest_match("windw", names);
  EXPECT_EQ(first, "window") << "one edit, longest common prefix 'wind'";
  do {
    ASSERT_EQ(closest_match("windw", names), first);
  } while (std::next_permutation(names.begin(), names.end()));
}

TEST(DidYouMean, FullTiesGoToTheAlphabeticallyFirst) {
  // "cat" -> "bat" and "hat" are both one substitution with no common prefix.
  EXPECT_EQ(closest_match("cat", {"hat", "bat"}), "bat");
  EXPECT_EQ(closest_match("cat", {"bat", "hat"}), "bat");
}

TEST(DidYouMean, SmallestDistanceBeatsALongerPrefix) {
  EXPECT_EQ(closest_match("stat", {"states", "stats"}), "stats");
  EXPECT_EQ(closest_match("cuont", {"count", "countries"}), "count");
}

TEST(DidYouMean, NothingCloseMeansNoSuggestion) {
  EXPECT_EQ(closest_match("zzzzzz", {"window", "group_by"}), "");
  EXPECT_EQ(did_you_mean("zzzzzz", {"window", "group_by"}), "");
  EXPECT_EQ(closest_match("x", {}), "");
}

TEST(DidYouMean, CaseIsIgnored) { EXPECT_EQ(closest_match("Speed", {"seed", "speed"}), "speed"); }

TEST(DidYouMean, AHugeWordIsComparedQuicklyAndSuggestsNothing) {
  // The length difference alone rules every candidate out: no 50 MB x N edit-distance tables.
  const std::string huge(50'000'000, 'x');
  EXPECT_EQ(closest_match(huge, {"window", "group_by"}), "");
}
