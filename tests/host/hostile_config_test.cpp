// Bad config is refused, quickly and safely (issue 12, section 2): the real `cxflow validate`
// with the real plugins on pipeline files a new user or an attacker might write. Each one must
// end as a config error (exit 65, documented in docs/pipeline.md) with a located message, never
// as a signal, a memory blow-up or a flood of stderr.
#include <gtest/gtest.h>

#include <string>

#include "process.hpp"

using namespace cxflow::test;

namespace {

const std::string kTestPlugins = CXFLOW_TEST_PLUGIN_DIR;
constexpr int kExitConfig = 65;

ProcessResult validate_file(const std::string& path) {
  return run_process({cxflow_bin(), "validate", path, "--plugin-dir", plugin_dir(), "--plugin-dir", kTestPlugins}, {},
                     std::chrono::seconds(60));
}
ProcessResult validate(const TempDir& dir, const std::string& yaml) {
  return validate_file(dir.write("p.yaml", yaml).string());
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// test-source -> filter-interaction (where: <condition>) -> test-sink, the condition on line 6
// at column 12 (a plain scalar).
std::string filter_pipeline(const std::string& condition) {
  return "sources:\n"
         "  nums: {plugin: test-source, count: 1}\n"
         "transforms:\n"
         "  f:\n"
         "    plugin: filter-interaction\n"
         "    where: " +
         condition +
         "\n"
         "    inputs: [nums]\n"
         "sinks:\n"
         "  out: {plugin: test-sink, inputs: [f], path: /dev/null}\n";
}

}  // namespace

TEST(HostileConfig, AGoodFilterConditionValidates) {
  TempDir d;
  const auto r = validate(d, filter_pipeline("not (seq < 3 or seq > 7)"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(HostileConfig, TwentyThousandNestedParenthesesInWhereAreAConfigErrorNotSigsegv) {
  TempDir d;
  const auto r = validate(d, filter_pipeline(repeat("(", 20000) + "seq == 1" + repeat(")", 20000)));
  EXPECT_EQ(r.exit_code, kExitConfig) << r.err.substr(0, 2000);
  // Line 6, the scalar starts at column 12, the 65th '(' is 64 characters further.
  EXPECT_TRUE(contains(r.err, "p.yaml:6:76: 'transforms.f': 'where': in condition '...((((")) << r.err.substr(0, 2000);
  EXPECT_TRUE(contains(r.err, "nested deeper than 64 levels of '(' and 'not'")) << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 2000u) << "the condition is quoted, not echoed whole";
}

TEST(HostileConfig, TwentyThousandNotsInWhereAreAConfigErrorNotSigsegv) {
  TempDir d;
  const auto r = validate(d, filter_pipeline(repeat("not ", 20000) + "exists seq"));
  EXPECT_EQ(r.exit_code, kExitConfig) << r.err.substr(0, 2000);
  EXPECT_TRUE(contains(r.err, "p.yaml:6:268: 'transforms.f': 'where': in condition '...t not not"))
      << r.err.substr(0, 2000);
  EXPECT_TRUE(contains(r.err, "nested deeper than 64 levels")) << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 2000u);
}

TEST(HostileConfig, TwentyThousandNestedParenthesesInAMetricWhereAndRatioAreAConfigErrorNotSigsegv) {
  TempDir d;
  const std::string deep = repeat("(", 20000) + "seq == 1" + repeat(")", 20000);
  const std::string head =
      "sources:\n"
      "  nums: {plugin: test-source, count: 1}\n"
      "transforms:\n"
      "  w:\n"
      "    plugin: aggregate-window\n"
      "    inputs: [nums]\n"
      "    window: 1m\n"
      "    metrics:\n";
  const std::string tail = "sinks:\n  out: {plugin: test-sink, inputs: [w], path: /dev/null}\n";
  for (const std::string& metric : {"      n: count where " + deep + "\n", "      r: ratio(" + deep + ")\n"}) {
    const auto r = validate(d, head + metric + tail);
    EXPECT_EQ(r.exit_code, kExitConfig) << r.err.substr(0, 2000);
    EXPECT_TRUE(contains(r.err, "p.yaml:9:")) << r.err.substr(0, 2000);
    EXPECT_TRUE(contains(r.err, "nested deeper than 64 levels")) << r.err.substr(0, 2000);
    EXPECT_LT(r.err.size(), 2000u);
  }
}

// ---- YAML and the pipeline file ------------------------------------------------------------------

namespace {

// `validate` under a 1 GB address-space limit: an expansion that runs away dies of bad_alloc
// (a signal) instead of taking the machine's memory.
ProcessResult validate_bounded(const std::string& path) {
  return run_process({"/bin/sh", "-c", "ulimit -v 1000000 && exec \"$0\" validate \"$1\" --plugin-dir \"$2\"",
                      cxflow_bin(), path, kTestPlugins},
                     {}, std::chrono::seconds(30));
}

// Nine levels of nine aliases: 9^9 = 387 million values once expanded, from 324 bytes.
std::string alias_bomb() {
  std::string y = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'i'; ++c) {
    y += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) y += std::string(i ? ", " : "") + "*" + prev;
    y += "]\n";
    prev = c;
  }
  return y;
}

}  // namespace

TEST(HostileConfig, AYamlAliasBombIsRefusedQuicklyInBoundedMemory) {
  TempDir d;
  const std::string bomb = alias_bomb();
  ASSERT_LT(bomb.size(), 600u);
  const auto r = validate_bounded(d.write("p.yaml", bomb).string());
  EXPECT_EQ(r.exit_code, kExitConfig) << "killed by a signal means the expansion ran away: " << r.err.substr(0, 2000);
  EXPECT_TRUE(contains(r.err, "p.yaml:1:")) << r.err;
  EXPECT_TRUE(contains(r.err, "the document expands to more than 100000 values")) << r.err;
  EXPECT_FALSE(contains(r.err, "[test: process killed after timeout]"));
}

TEST(HostileConfig, AliasesThatExpandModeratelyStillWork) {
  TempDir d;
  const auto r = validate(d,
                          "sources:\n"
                          "  nums: &src {plugin: test-source, count: 3}\n"
                          "  more: *src\n"
                          "sinks:\n"
                          "  out: {plugin: test-sink, inputs: [nums, more], path: /dev/null}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(HostileConfig, AMultiMegabyteScalarIsQuotedNotEchoedWhole) {
  TempDir d;
  const std::string huge(3'000'000, 'x');
  const auto r = validate(d, "sources:\n  nums: {plugin: test-source, count: " + huge +
                                 "}\nsinks:\n  out: {plugin: test-sink, inputs: [nums], path: /dev/null}\n");
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.err, "p.yaml:2:38: 'sources.nums.count': expected an integer, found 'xxxxxxxx"))
      << r.err.substr(0, 500);
  EXPECT_TRUE(contains(r.err, "...' (3000000 characters)")) << r.err.substr(0, 500);
  EXPECT_LT(r.err.size(), 4096u) << "stderr must not repeat the value (it was 3 MB)";
}

TEST(HostileConfig, AMultiMegabyteKeyIsQuotedNotEchoedWhole) {
  TempDir d;
  const std::string huge(3'000'000, 'k');
  // An explicit key (? ...): an implicit one is limited to 1024 characters by YAML itself.
  const auto r = validate(d, "sources:\n  nums:\n    plugin: test-source\n    ? " + huge +
                                 "\n    : 1\nsinks:\n  out: {plugin: test-sink, inputs: [nums], path: /dev/null}\n");
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.err, "p.yaml:4:7: 'sources.nums': unknown key 'kkkk")) << r.err.substr(0, 500);
  EXPECT_TRUE(contains(r.err, "...' (3000000 characters) (allowed keys are: count,")) << r.err.substr(0, 500);
  EXPECT_LT(r.err.size(), 4096u);
}

TEST(HostileConfig, APipelineFileOverFourMebibytesIsRefusedBeforeParsing) {
  TempDir d;
  const auto r = validate(d, "# " + std::string(5u << 20, 'x') + "\n");
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.err, "p.yaml: the pipeline file is 5242883 bytes, more than the 4 MiB a pipeline file may be"))
      << r.err;
}

TEST(HostileConfig, DeeplyNestedYamlIsAConfigError) {
  TempDir d;
  // 20,000 '[': yaml-cpp stops itself (its message is "bad file"); cxflow says what it is.
  auto r = validate(d, "a: " + repeat("[", 20000) + repeat("]", 20000) + "\n");
  EXPECT_EQ(r.exit_code, kExitConfig) << r.err.substr(0, 500);
  EXPECT_TRUE(contains(r.err, "invalid YAML: maps and lists nested too deeply (cxflow allows 64 levels)")) << r.err;
  // 100 levels: within yaml-cpp's bound, past cxflow's.
  r = validate(d, "a: " + repeat("[", 100) + repeat("]", 100) + "\n");
  EXPECT_EQ(r.exit_code, kExitConfig) << r.err.substr(0, 500);
  EXPECT_TRUE(contains(r.err, "p.yaml:1:")) << r.err;
  EXPECT_TRUE(contains(r.err, "maps and lists nested deeper than 64 levels")) << r.err;
}

TEST(HostileConfig, ATabInTheIndentationIsNamedAsSuch) {
  TempDir d;
  for (const std::string& y : {std::string("sources:\n  nums:\n\tplugin: test-source\n"),
                               std::string("sources:\n  nums:\n  \tplugin: test-source\n"),
                               std::string("sources:\n  nums:\n    plugin: test-source\n\tcount: 3\n")}) {
    const auto r = validate(d, y);
    EXPECT_EQ(r.exit_code, kExitConfig) << y;
    EXPECT_TRUE(contains(r.err, "a tab in the indentation; YAML indents with spaces only")) << y << r.err;
  }
  const auto r = validate(d, "sources:\n  nums:\n    plugin: test-source\n\tcount: 3\n");
  EXPECT_TRUE(contains(r.err, "p.yaml:4:1: invalid YAML: a tab in the indentation")) << r.err;
  const auto r2 = validate(d, "sources:\n  nums:\n  \tplugin: test-source\n");
  EXPECT_TRUE(contains(r2.err, "p.yaml:3:3: invalid YAML: a tab in the indentation")) << r2.err;
}

TEST(HostileConfig, ADirectoryGivenAsThePipelineFileIsNamedAsSuch) {
  TempDir d;
  d.write("one.yaml", "a: 1\n");
  d.write("two.yml", "a: 1\n");
  const auto r = validate_file(d.path().string());
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.err, d.path().string() +
                                  ": is a directory, not a pipeline file; give the path of a .yaml file, "
                                  "e.g. '" +
                                  (d / "one.yaml").string() + "' (2 in that directory)"))
      << r.err;
}

TEST(HostileConfig, AMissingPipelineFileIsNamed) {
  TempDir d;
  const auto r = validate_file((d / "nope.yaml").string());
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.err, "nope.yaml: cannot read pipeline file: no such file")) << r.err;
}
