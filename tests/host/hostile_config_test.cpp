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
  return run_process({cxflow_bin(), "validate", path, "--plugin-dir", plugin_dir(), "--plugin-dir", kTestPlugins},
                     {}, std::chrono::seconds(60));
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
         "    where: " + condition + "\n"
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
  EXPECT_TRUE(contains(r.err, "p.yaml:6:268: 'transforms.f': 'where': in condition '...t not not")) << r.err.substr(0, 2000);
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
