// The config schema: binding, defaults, ranges, enums, records, unknown/duplicate keys, secrets,
// and the YAML loader's positions and ${VAR} expansion.
#include <gtest/gtest.h>

#include "cxflow/config.hpp"
#include "cxflow/time.hpp"
#include "yaml_loader.hpp"

using namespace cxflow;

namespace {

enum class Policy { Block, DropNewest };

struct Rule {
  std::string metric;
  double warning = 0;
};

struct Limits {
  ByteSize max_bytes;
};

struct Cfg {
  std::string name;
  std::int64_t count = 0;
  double ratio = 0;
  bool enabled = false;
  Duration window;
  ByteSize buffer;
  Policy policy = Policy::Block;
  std::string mode;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> headers;
  Secret password;
  std::vector<Rule> rules;
  Limits limits;
};

Schema<Rule> rule_schema() {
  Schema<Rule> s;
  s.key("metric", &Rule::metric, "Metric name").required();
  s.key("warning", &Rule::warning, "Warning threshold").def("1").min(0);
  return s;
}

Schema<Cfg> schema() {
  Schema<Limits> limits;
  limits.key("max_bytes", &Limits::max_bytes, "Cap").def("1MiB");
  Schema<Cfg> s;
  s.key("name", &Cfg::name, "Name").required();
  s.key("count", &Cfg::count, "Count").def("3").range(1, 10);
  s.key("ratio", &Cfg::ratio, "Ratio").def("0.5").range(0, 1);
  s.key("enabled", &Cfg::enabled, "Enabled").def("true");
  s.key("window", &Cfg::window, "Window").def("60s").min(1000);
  s.key("buffer", &Cfg::buffer, "Buffer").def("64KiB");
  s.key("policy", &Cfg::policy, "When full")
      .def("block")
      .one_of({{"block", Policy::Block}, {"drop_newest", Policy::DropNewest}});
  s.key("mode", &Cfg::mode, "Mode").def("fast").one_of({"fast", "safe"});
  s.key("tags", &Cfg::tags, "Tags");
  s.key("headers", &Cfg::headers, "Headers");
  s.key("password", &Cfg::password, "Password");
  s.records("rules", &Cfg::rules, rule_schema(), "Rules");
  s.record("limits", &Cfg::limits, limits, "Limits");
  s.check([](const Cfg& c) { return c.name == "forbidden" ? "name 'forbidden' is reserved" : ""; });
  return s;
}

ConfigNode yaml(const std::string& text) {
  std::vector<ConfigError> errors;
  auto env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "CX_SET") return std::string("from-env");
    if (n == "CX_EMPTY") return std::string();
    return std::nullopt;
  };
  ConfigNode n = host::parse_yaml(text, "test.yaml", env, errors);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0].str());
  return n;
}

std::vector<ConfigError> bind(const std::string& text, Cfg& out) {
  std::vector<ConfigError> errors;
  schema().bind(yaml(text), out, errors);
  return errors;
}

std::string all(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

}  // namespace

TEST(Schema, BindsEveryTypeAndAppliesDefaults) {
  Cfg c;
  auto errors = bind(
      "name: a\nwindow: 5m\nbuffer: 2MiB\npolicy: drop_newest\ntags: [x, y]\nheaders: {A: b}\npassword: hunter2\n"
      "rules:\n  - {metric: aht, warning: 240}\n  - {metric: asa}\nlimits: {max_bytes: 10KiB}\n",
      c);
  ASSERT_TRUE(errors.empty()) << all(errors);
  EXPECT_EQ(c.name, "a");
  EXPECT_EQ(c.count, 3);
  EXPECT_DOUBLE_EQ(c.ratio, 0.5);
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.window.ms, 300'000);
  EXPECT_EQ(c.buffer.bytes, 2u << 20);
  EXPECT_EQ(c.policy, Policy::DropNewest);
  EXPECT_EQ(c.mode, "fast");
  EXPECT_EQ(c.tags, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].second, "b");
  EXPECT_EQ(c.password.reveal(), "hunter2");
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_DOUBLE_EQ(c.rules[0].warning, 240);
  EXPECT_DOUBLE_EQ(c.rules[1].warning, 1);
  EXPECT_EQ(c.limits.max_bytes.bytes, 10240u);
}

TEST(Schema, UnknownKeyNamesPlaceAndSuggests) {
  Cfg c;
  auto errors = bind("name: a\nwindw: 60s\n", c);
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].pos.line, 2);
  EXPECT_EQ(errors[0].pos.column, 1);
  EXPECT_NE(errors[0].message.find("unknown key 'windw'"), std::string::npos);
  EXPECT_NE(errors[0].message.find("did you mean 'window'?"), std::string::npos);
  EXPECT_NE(errors[0].message.find("allowed keys are: name, count"), std::string::npos);
}

TEST(Schema, DuplicateKeyIsAnError) {
  Cfg c;
  auto errors = bind("name: a\ncount: 2\ncount: 3\n", c);
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].pos.line, 3);
  EXPECT_NE(errors[0].message.find("duplicate key 'count'"), std::string::npos);
}

TEST(Schema, TypeRangeEnumAndRequiredErrors) {
  Cfg c;
  auto errors = bind("count: 11\nratio: lots\nwindow: sixty\npolicy: blok\nmode: slow\nbuffer: 3 parsecs\n", c);
  const std::string text = all(errors);
  EXPECT_EQ(errors.size(), 7u) << text;
  EXPECT_NE(text.find("test.yaml:1:8: 'count': value '11' is out of range: must be between 1 and 10"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:2:8: 'ratio': expected a number, found 'lots'"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:3:9: 'window': expected a duration with a unit"), std::string::npos) << text;
  EXPECT_NE(text.find("'blok' is not one of [block, drop_newest]; did you mean 'block'?"), std::string::npos) << text;
  EXPECT_NE(text.find("'slow' is not one of [fast, safe]"), std::string::npos) << text;
  EXPECT_NE(text.find("'buffer': expected a size"), std::string::npos) << text;
  EXPECT_NE(text.find("missing required key 'name'"), std::string::npos) << text;
}

TEST(Schema, DurationRangeIsPrintedWithUnits) {
  Cfg c;
  auto errors = bind("name: a\nwindow: 500ms\n", c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("must be at least 1s"), std::string::npos) << errors[0].message;
}

TEST(Schema, NestedRecordErrorsCarryTheirPath) {
  Cfg c;
  auto errors = bind("name: a\nrules:\n  - {metric: aht}\n  - {warning: -1, metirc: x}\n", c);
  const std::string text = all(errors);
  EXPECT_NE(text.find("'rules[1]': unknown key 'metirc'; did you mean 'metric'?"), std::string::npos) << text;
  EXPECT_NE(text.find("'rules[1].warning': value '-1' is out of range"), std::string::npos) << text;
  EXPECT_NE(text.find("'rules[1].metric': missing required key 'metric'"), std::string::npos) << text;
}

TEST(Schema, CrossKeyCheckRuns) {
  Cfg c;
  auto errors = bind("name: forbidden\n", c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("reserved"), std::string::npos);
}

TEST(Schema, WrongShapeIsNamed) {
  Cfg c;
  auto errors = bind("name: [a, b]\ntags: x\nrules: {metric: a}\n", c);
  const std::string text = all(errors);
  EXPECT_NE(text.find("'name': expected a string, found a list"), std::string::npos) << text;
  EXPECT_NE(text.find("'tags': expected a list of strings"), std::string::npos) << text;
  EXPECT_NE(text.find("'rules': expected a list of maps"), std::string::npos) << text;
}

TEST(Secrets, AreNeverEchoedInErrors) {
  struct S {
    std::int64_t pin = 0;
  };
  Schema<S> s;
  s.key("pin", &S::pin, "PIN").secret().range(0, 9999);
  S out;
  std::vector<ConfigError> errors;
  s.bind(yaml("pin: 123456\n"), out, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message.find("123456"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("<redacted>"), std::string::npos);
  errors.clear();
  s.bind(yaml("pin: abc-secret\n"), out, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message.find("abc-secret"), std::string::npos) << errors[0].message;
}

TEST(Units, DurationsAndSizes) {
  EXPECT_EQ(parse_duration("60s")->ms, 60'000);
  EXPECT_EQ(parse_duration("500ms")->ms, 500);
  EXPECT_EQ(parse_duration("1.5m")->ms, 90'000);
  EXPECT_EQ(parse_duration("4h")->ms, 14'400'000);
  EXPECT_EQ(parse_duration("2")->ms, 2000);
  EXPECT_FALSE(parse_duration("sixty"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("5 fortnights"));
  EXPECT_EQ(parse_size("64KiB")->bytes, 65536u);
  EXPECT_EQ(parse_size("1MiB")->bytes, 1u << 20);
  EXPECT_EQ(parse_size("10KB")->bytes, 10000u);
  EXPECT_FALSE(parse_size("lots"));
  EXPECT_EQ(format_duration(Duration{60'000}), "1m");
  EXPECT_EQ(format_size(ByteSize{1u << 20}), "1MiB");
}

TEST(Env, ExpandsInsideScalarsWithDefaultsAndRequired) {
  auto env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "CX_SET") return std::string("v");
    if (n == "CX_EMPTY") return std::string();
    return std::nullopt;
  };
  std::string out, err;
  ASSERT_TRUE(host::expand_env("a-${CX_SET}-b", env, out, err));
  EXPECT_EQ(out, "a-v-b");
  ASSERT_TRUE(host::expand_env("${CX_UNSET:-fallback}", env, out, err));
  EXPECT_EQ(out, "fallback");
  ASSERT_TRUE(host::expand_env("${CX_EMPTY:-fallback}", env, out, err));
  EXPECT_EQ(out, "fallback");
  ASSERT_TRUE(host::expand_env("cost: $$5", env, out, err));
  EXPECT_EQ(out, "cost: $5");
  EXPECT_FALSE(host::expand_env("${CX_UNSET}", env, out, err));
  EXPECT_NE(err.find("CX_UNSET is not set"), std::string::npos);
  EXPECT_FALSE(host::expand_env("${CX_UNSET:?set it to your client id}", env, out, err));
  EXPECT_NE(err.find("set it to your client id"), std::string::npos);
  EXPECT_FALSE(host::expand_env("${bad name}", env, out, err));
  EXPECT_FALSE(host::expand_env("${CX_SET", env, out, err));
}

TEST(Env, ErrorsCarryThePositionAndValuesCannotInjectYaml) {
  auto env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "CX_INJECT") return std::string("x\nplugin: evil");
    return std::nullopt;
  };
  std::vector<ConfigError> errors;
  ConfigNode n = host::parse_yaml("a: 1\nb: \"${CX_MISSING}\"\nc: ${CX_INJECT}\n", "p.yaml", env, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pos.str(), "p.yaml:2:5");  // the value inside the quotes
  ASSERT_NE(n.find("c"), nullptr);
  EXPECT_EQ(n.find("c")->scalar, "x\nplugin: evil");
  EXPECT_EQ(n.find("plugin"), nullptr);
}

TEST(Yaml, SyntaxErrorsNameLineAndColumn) {
  std::vector<ConfigError> errors;
  host::parse_yaml("sources:\n  a: [1, 2\n", "bad.yaml", host::process_env(), errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pos.file, "bad.yaml");
  EXPECT_GT(errors[0].pos.line, 0);
  EXPECT_NE(errors[0].message.find("invalid YAML"), std::string::npos);
}

TEST(Misc, DidYouMean) {
  EXPECT_EQ(closest_match("windw", {"window", "group_by"}), "window");
  EXPECT_EQ(closest_match("zzzzzz", {"window", "group_by"}), "");
}

TEST(RetryAfter, SecondsOrHttpDate) {
  const std::int64_t now = *cxflow::parse_iso8601_ms("2015-10-21T07:27:00Z");
  EXPECT_EQ(cxflow::parse_retry_after_ms("120", now), 120'000);
  EXPECT_EQ(cxflow::parse_retry_after_ms(" 0 ", now), 0);
  EXPECT_EQ(cxflow::parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), 60'000);
  EXPECT_EQ(cxflow::parse_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now), 0) << "a date in the past: retry now";
  EXPECT_FALSE(cxflow::parse_retry_after_ms("soon", now));
  EXPECT_FALSE(cxflow::parse_retry_after_ms("", now));
}
