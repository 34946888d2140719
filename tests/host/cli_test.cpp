// `cxflow validate` / `run` / `plugins` through the real binary with the test plugins:
// every class of config and graph error names its place, plugins are found, refused or skipped.
#include <gtest/gtest.h>

#include "cxflow/version.hpp"
#include "process.hpp"

using namespace cxflow::test;

namespace {

const std::string kGoodDir = CXFLOW_TEST_PLUGIN_DIR;
const std::string kBadDir = CXFLOW_BAD_PLUGIN_DIR;

ProcessResult cli(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), cxflow_bin());
  return run_process(args, env);
}

ProcessResult validate(const TempDir& dir, const std::string& yaml, const std::vector<std::string>& env = {}) {
  const auto path = dir.write("p.yaml", yaml);
  return cli({"validate", path.string(), "--plugin-dir", kGoodDir}, env);
}

const char* kGood = R"(sources:
  nums:
    plugin: test-source
    count: 10
transforms:
  pass:
    plugin: test-transform
    inputs: [nums]
sinks:
  out:
    plugin: test-sink
    inputs: [pass]
    path: /dev/null
)";

}  // namespace

TEST(Validate, AcceptsAGoodPipeline) {
  TempDir d;
  auto r = validate(d, kGood);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok (1 sources, 1 transforms, 1 sinks"), std::string::npos) << r.out;
}

TEST(Validate, UnknownPluginKeyNamesFileLineColumnComponentAndSuggests) {
  TempDir d;
  std::string y = kGood;
  y.replace(y.find("    count: 10"), 13, "    cuont: 10");
  auto r = validate(d, y);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("p.yaml:4:5: 'sources.nums': unknown key 'cuont'; did you mean 'count'?"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("nothing was started"), std::string::npos);
}

TEST(Validate, BadValueNamesTheKeyPath) {
  TempDir d;
  std::string y = kGood;
  y.replace(y.find("    count: 10"), 13, "    count: ten");
  auto r = validate(d, y);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("p.yaml:4:12: 'sources.nums.count': expected an integer, found 'ten'"), std::string::npos)
      << r.err;
}

TEST(Validate, ListsAllErrorsAtOnce) {
  TempDir d;
  auto r = validate(d, R"(sources:
  nums: {plugin: test-source, count: x}
transforms:
  pass: {plugin: test-transform, inputs: [nmus], hold: maybe}
sinks:
  out: {plugin: test-sink, inputs: [pass], mode: sideways}
)");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("'sources.nums.count'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown input 'nmus'; did you mean 'nums'?"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'transforms.pass.hold': expected true or false"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'sinks.out.mode': 'sideways' is not one of [append, truncate]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing required key 'path'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("6 errors"), std::string::npos) << r.err;  // the typo also leaves nums unread
}

TEST(Validate, GraphErrorsAreNamed) {
  TempDir d;
  auto r = validate(d, R"(sources:
  nums: {plugin: test-source}
  lonely: {plugin: test-source}
transforms:
  a: {plugin: test-transform, inputs: [b]}
  b: {plugin: test-transform, inputs: [a]}
  c: {plugin: test-transform, inputs: []}
  d: {plugin: test-transform}
  e: {plugin: test-transform, inputs: [out]}
sinks:
  out: {plugin: test-sink, inputs: [nums, a, c, d, e], path: /dev/null}
)");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("p.yaml:3:3: 'sources.lonely': source 'lonely' is not read by any transform or sink"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("cycle in the pipeline: a -> b -> a"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'transforms.c.inputs': 'c' has no inputs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("p.yaml:8:3: 'transforms.d': 'd' has no inputs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'out' is a sink; sinks produce nothing to read"), std::string::npos) << r.err;
}

TEST(Validate, TopLevelAndStructureErrors) {
  TempDir d;
  auto r = validate(d, R"(sources:
  nums: {plugin: test-source, inputs: [x]}
transfroms: {}
sinks:
  out: {inputs: [nums], path: /dev/null}
  nums: {plugin: test-sink, inputs: [nums], path: /dev/null}
)");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("p.yaml:3:1: unknown key 'transfroms'; did you mean 'transforms'?"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'sources.nums': a source takes no 'inputs'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'sinks.out': missing 'plugin:'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("component name 'nums' is already used by sources.nums at"), std::string::npos) << r.err;
}

TEST(Validate, PluginInTheWrongSectionAndMissingPlugin) {
  TempDir d;
  auto r = validate(d, R"(sources:
  nums: {plugin: test-source}
transforms:
  pass: {plugin: test-sink, inputs: [nums], path: /dev/null}
sinks:
  out: {plugin: test-snik, inputs: [pass]}
)");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("p.yaml:4:18: 'transforms.pass.plugin': 'test-sink' is a sink plugin; declare it under 'sinks'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(
      r.err.find("plugin 'test-snik' not found; did you mean 'test-sink'? (searched for test-snik.so in: " + kGoodDir),
      std::string::npos)
      << r.err;
}

TEST(Validate, EnvironmentExpansion) {
  TempDir d;
  std::string y = kGood;
  y.replace(y.find("    count: 10"), 13, "    count: ${CX_TEST_COUNT:-5}");
  EXPECT_EQ(validate(d, y).exit_code, 0);
  EXPECT_EQ(validate(d, y, {"CX_TEST_COUNT=7"}).exit_code, 0);
  auto bad = validate(d, y, {"CX_TEST_COUNT=seven"});
  EXPECT_NE(bad.err.find("'sources.nums.count': expected an integer, found 'seven'"), std::string::npos) << bad.err;
  y = kGood;
  y.replace(y.find("path: /dev/null"), 15, "path: ${CX_TEST_OUT:?set CX_TEST_OUT to the output file}");
  auto r = validate(d, y);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(
      r.err.find("p.yaml:13:11: environment variable CX_TEST_OUT is required: set CX_TEST_OUT to the output file"),
      std::string::npos)
      << r.err;
}

TEST(Validate, SecretsAreRedacted) {
  TempDir d;
  std::string y = kGood;
  y.replace(y.find("path: /dev/null"), 15, "path: /dev/null\n    pin: ${CX_TEST_PIN}");
  auto r = validate(d, y, {"CX_TEST_PIN=98765432"});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_EQ(r.err.find("98765432"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("<redacted>"), std::string::npos) << r.err;
}

TEST(Validate, MissingFileAndYamlSyntax) {
  TempDir d;
  auto r = cli({"validate", (d / "nope.yaml").string(), "--plugin-dir", kGoodDir});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("nope.yaml: cannot read pipeline file"), std::string::npos) << r.err;
  auto s = validate(d, "sources:\n  nums: {plugin: test-source\n");
  EXPECT_EQ(s.exit_code, 65);
  EXPECT_NE(s.err.find("p.yaml:"), std::string::npos);
  EXPECT_NE(s.err.find("invalid YAML"), std::string::npos) << s.err;
}

TEST(Plugins, MismatchedAbiAndBuildKeyAreRefusedWithBothValues) {
  TempDir d;
  const auto path = d.write("p.yaml", R"(sources:
  nums: {plugin: test-source}
sinks:
  a: {plugin: abi-mismatch, inputs: [nums], path: /dev/null}
  b: {plugin: buildkey-mismatch, inputs: [nums], path: /dev/null}
)");
  auto r = cli({"validate", path.string(), "--plugin-dir", kGoodDir, "--plugin-dir", kBadDir});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("plugin 'abi-mismatch' at " + kBadDir +
                       "/abi-mismatch.so was built for ABI version 999, but this "
                       "cxflow expects ABI version " +
                       std::to_string(cxflow::kAbiVersion)),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("plugin 'buildkey-mismatch' at " + kBadDir +
                       "/buildkey-mismatch.so has build key 'gcc-0.0 made-up-stdlib boost-0', but this cxflow expects "
                       "build key 'gcc-"),
            std::string::npos)
      << r.err;
}

TEST(Plugins, NonPluginSharedObjectIsSkippedWithAWarning) {
  auto r = cli({"plugins", "--plugin-dir", kBadDir, "--plugin-dir", kGoodDir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not-a-plugin.so: skipped, not a cxflow plugin"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("test-source"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused: plugin 'abi-mismatch'"), std::string::npos) << r.out;
}

TEST(Plugins, SearchPathFromEnvironment) {
  auto r = cli({"plugins"}, {"CXFLOW_PLUGIN_PATH=/nonexistent:" + kGoodDir});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("test-transform"), std::string::npos) << r.out;
}

TEST(Plugins, DescribeListsEveryKeyAndRedactsSecretDefaults) {
  auto r = cli({"plugins", "describe", "test-sink", "--plugin-dir", kGoodDir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"path  (string)  required", "slow_ms  (integer)  default: 0",
                          "mode  (one of append | truncate)", "token  (string)  secret", "Example:"})
    EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
  auto j = cli({"plugins", "describe", "test-sink", "--json", "--plugin-dir", kGoodDir});
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_NE(j.out.find("\"name\": \"slow_ms\""), std::string::npos) << j.out;
  auto missing = cli({"plugins", "describe", "nope", "--plugin-dir", kGoodDir});
  EXPECT_EQ(missing.exit_code, 65);
  EXPECT_NE(missing.err.find("plugin 'nope' not found"), std::string::npos);
}

TEST(Cli, UsageErrors) {
  EXPECT_EQ(cli({}).exit_code, 64);
  EXPECT_EQ(cli({"frobnicate"}).exit_code, 64);
  EXPECT_EQ(cli({"run"}).exit_code, 64);
  EXPECT_EQ(cli({"run", "x.yaml", "--log-level", "loud"}).exit_code, 64);
  auto v = cli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("ABI version " + std::to_string(cxflow::kAbiVersion)), std::string::npos);
#if defined(CXFLOW_WITH_MIMALLOC)
  // Linked and really serving malloc (the executable checks that a malloc'd block is in its heap).
  EXPECT_NE(v.out.find("allocator mimalloc 2."), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("not routed"), std::string::npos) << v.out;
#else
  EXPECT_NE(v.out.find("allocator glibc malloc"), std::string::npos) << v.out;
#endif
}
