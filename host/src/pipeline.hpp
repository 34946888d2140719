// The pipeline file: structure, graph checks, and configured components ready to run.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cxflow/component.hpp"
#include "cxflow/config.hpp"
#include "cxflow/plugin.hpp"
#include "plugin_registry.hpp"

namespace cxflow::host {

struct ComponentSpec {
  std::string name;
  Kind kind = Kind::Source;  // from the section it is declared in
  std::string plugin;
  SourcePos pos;         // of the component's name
  SourcePos plugin_pos;  // of its plugin: value
  std::vector<std::string> inputs;
  std::vector<SourcePos> input_pos;
  ConfigNode config;  // the component's map without plugin: and inputs:

  std::string section() const { return kind == Kind::Source ? "sources" : kind == Kind::Transform ? "transforms" : "sinks"; }
  std::string path() const { return section() + "." + name; }
};

// How components are spread over the worker threads (docs/pipeline.md, "runtime").
enum class Placement { local, shared };

struct RuntimeSettings {
  int threads = 2;
  Placement placement = Placement::local;
  std::int64_t queue_batches = 8;
  ByteSize queue_bytes{32u << 20};
  std::int64_t batch_events = 1024;
  Duration status_interval{1000};
  Duration log_interval{10'000};
  Duration drain_timeout{30'000};
  bool pushdown = true;  // hand a source its only consumer's KeepConditions
};
const Schema<RuntimeSettings>& runtime_schema();

struct PipelineSpec {
  std::string file;
  std::vector<ComponentSpec> components;
  RuntimeSettings runtime;
};

// Reads the structure of a parsed pipeline file and checks the graph. Appends every error found.
PipelineSpec parse_pipeline(const ConfigNode& root, const std::string& file, std::vector<ConfigError>& errors);

// Counters of one component: the standard ones plus what the plugin registers.
class CounterSet {
 public:
  Counter& get(std::string_view name);
  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
};

struct Component {
  ComponentSpec spec;
  const PluginRecord* plugin = nullptr;
  std::unique_ptr<InstanceBase> instance;
  std::vector<std::size_t> inputs;   // indices into Pipeline::components
  std::vector<std::size_t> outputs;  // indices of the components that read this one
  std::unique_ptr<CounterSet> counters = std::make_unique<CounterSet>();
  std::vector<KeepCondition> promises;  // transforms: Setup::promise_keep_only()
  std::vector<KeepCondition> pushed;    // sources: the promises of their only consumer (pushdown)
  std::size_t pushed_from = 0;          // sources with `pushed`: index of that consumer

  std::string prefix() const { return "[" + std::string(kind_name(spec.kind)) + ":" + spec.plugin + ":" + spec.name + "]"; }
};

struct Pipeline {
  std::string file;
  RuntimeSettings runtime;
  FieldTable fields;
  std::vector<Component> components;  // sources first, then transforms, then sinks (file order)
};

// Loads the plugins a spec names, binds every component's config and constructs the instances
// (no I/O). Freezes the field table. Returns nullptr when any error was found.
std::unique_ptr<Pipeline> configure_pipeline(const PipelineSpec& spec, const PluginRegistry& registry,
                                             std::vector<ConfigError>& errors);

// Pushdown: hands each source the KeepConditions its only consumer promised (Component::pushed).
void push_down(Pipeline& p);
// "eventType in [interaction] and metrics.state in [ended, abandoned]"
std::string describe_conditions(const std::vector<KeepCondition>& conditions);

// Everything `cxflow validate` and `cxflow run` do before starting: read, parse, check, configure.
std::unique_ptr<Pipeline> load_pipeline(const std::string& path, PluginRegistry& registry,
                                        std::vector<ConfigError>& errors);

}  // namespace cxflow::host
