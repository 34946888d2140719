// Fuzz target: the pipeline file path up to the plugins: YAML text -> ConfigNode
// (host/src/yaml_loader.cpp, with ${VAR} expansion), the pipeline structure and graph checks
// (host/src/pipeline.cpp), and the config binder (cxflow/config.hpp) on every component's block
// with a schema that has each kind of key.
//
// Input: the pipeline file. Invariants (a violation traps):
// - nothing throws (every problem is a ConfigError), no stack overflow, bounded memory (the
//   alias and nesting limits), and each error message stays short (values are quoted, not echoed).
// - the tree handed on is no deeper than kMaxConfigDepth and holds no more than kMaxConfigValues.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cxflow/config.hpp"
#include "pipeline.hpp"
#include "yaml_loader.hpp"

namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

enum class Policy { Block, DropNewest };

struct Inner {
  cxflow::ByteSize max_bytes;
};
struct Rule {
  std::string metric;
  double warning = 0;
};
struct Cfg {
  std::string name;
  std::int64_t count = 0;
  double ratio = 0;
  bool enabled = false;
  cxflow::Duration window;
  cxflow::ByteSize buffer;
  Policy policy = Policy::Block;
  std::string mode;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> headers;
  cxflow::Secret password;
  std::vector<Rule> rules;
  Inner limits;
  cxflow::ConfigNode any;
};

const cxflow::Schema<Cfg>& schema() {
  static const cxflow::Schema<Cfg> s = [] {
    cxflow::Schema<Rule> rule;
    rule.key("metric", &Rule::metric, "Metric").required();
    rule.key("warning", &Rule::warning, "Warning").def("1").min(0);
    cxflow::Schema<Inner> inner;
    inner.key("max_bytes", &Inner::max_bytes, "Cap").def("1MiB");
    cxflow::Schema<Cfg> c;
    c.key("name", &Cfg::name, "Name");
    c.key("count", &Cfg::count, "Count").def("3").range(1, 10);
    c.key("ratio", &Cfg::ratio, "Ratio").def("0.5").range(0, 1);
    c.key("enabled", &Cfg::enabled, "Enabled").def("true");
    c.key("window", &Cfg::window, "Window").def("60s").min(1000);
    c.key("buffer", &Cfg::buffer, "Buffer").def("64KiB");
    c.key("policy", &Cfg::policy, "Policy")
        .def("block")
        .one_of({{"block", Policy::Block}, {"drop_newest", Policy::DropNewest}});
    c.key("mode", &Cfg::mode, "Mode").def("fast").one_of({"fast", "safe"});
    c.key("tags", &Cfg::tags, "Tags").def("[a, b]");
    c.key("headers", &Cfg::headers, "Headers");
    c.key("password", &Cfg::password, "Password").secret();
    c.records("rules", &Cfg::rules, rule, "Rules");
    c.record("limits", &Cfg::limits, inner, "Limits");
    c.key("any", &Cfg::any, "Anything");
    return c;
  }();
  return s;
}

// The environment is fixed: the same input always expands the same way.
std::optional<std::string> env(const std::string& name) {
  if (name == "SET") return std::string("value");
  if (name == "EMPTY") return std::string();
  if (name == "LONG") return std::string(1000, 'v');
  return std::nullopt;
}

void check_errors(const std::vector<cxflow::ConfigError>& errors) {
  for (const auto& e : errors) FUZZ_CHECK(e.str().size() < 2048);
}

std::size_t depth_and_count(const cxflow::ConfigNode& n, std::size_t depth, std::size_t& count) {
  ++count;
  std::size_t deepest = depth;
  for (const auto& item : n.items) deepest = std::max(deepest, depth_and_count(item, depth + 1, count));
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<cxflow::ConfigError> errors;
  const cxflow::ConfigNode root = cxflow::host::parse_yaml(text, "f.yaml", env, errors);
  check_errors(errors);
  std::size_t count = 0;
  FUZZ_CHECK(depth_and_count(root, 0, count) <= cxflow::host::kMaxConfigDepth);
  FUZZ_CHECK(count <= cxflow::host::kMaxConfigValues);
  if (!errors.empty()) return 0;

  const cxflow::host::PipelineSpec spec = cxflow::host::parse_pipeline(root, "f.yaml", errors);
  check_errors(errors);
  for (const auto& c : spec.components) {
    std::vector<cxflow::ConfigError> bind_errors;
    Cfg cfg;
    schema().bind(c.config, cfg, bind_errors, c.path());
    check_errors(bind_errors);
  }
  // The whole tree bound as one component too (a plugin's block can be any shape).
  std::vector<cxflow::ConfigError> bind_errors;
  Cfg cfg;
  schema().bind(root, cfg, bind_errors);
  check_errors(bind_errors);
  return 0;
}
