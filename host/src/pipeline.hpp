// The pipeline file: structure, graph checks, and configured components ready to run.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

  std::string section() const {
    return kind == Kind::Source ? "sources" : kind == Kind::Transform ? "transforms" : "sinks";
  }
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
  Duration stall_warning{10'000};  // warn when a component is inside one call this long (0 = never)
  bool pushdown = true;            // hand a source its only consumer's KeepConditions
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
// Each series is keyed by CounterSpec::key() ("malformed{reason=invalid_json}"); a series
// registered by name only is a plain counter without unit or role.
class CounterSet {
 public:
  Counter& get(std::string_view name);
  Counter& declare(const CounterSpec& spec);
  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const;
  // The sum of every series with `role`.
  std::uint64_t sum(CounterRole role) const;
  // Every series' declaration, in key order.
  std::vector<CounterSpec> specs() const;

 private:
  struct Entry {
    std::unique_ptr<Counter> counter = std::make_unique<Counter>();
    CounterSpec spec;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> counters_;
};

// What a component declared about its data while configured (Setup::reads, produces...).
struct FieldRead {
  std::string name;
  FieldType type = FieldType::Any;
  SourcePos pos;          // line 0: not given by the plugin
  bool optional = false;  // reads_if_present
};
struct DataInterface {
  std::vector<FieldRead> reads;
  std::vector<std::pair<std::string, FieldType>> produces;  // in declaration order, no duplicates
  std::vector<std::string> used;  // named with Setup::field() only: kept upstream, not checked
  bool passes_through = false;
  bool open = false;       // produces_open()
  bool reads_all = false;  // reads_all()
  bool declared_output() const { return !produces.empty() || passes_through || open; }
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
  DataInterface data;
  // Sources: the fields their downstream reads (sorted ids), nullopt = keep every field.
  std::optional<std::vector<FieldId>> projection;

  std::string prefix() const {
    return "[" + std::string(kind_name(spec.kind)) + ":" + spec.plugin + ":" + spec.name + "]";
  }
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

// Resolves every declared read against what the component's inputs produce (across the graph)
// and appends an error, at the config position naming the field, for a read no input produces
// or one of the wrong type. Components that failed to configure are skipped.
void check_data(const Pipeline& p, std::vector<ConfigError>& errors);
// The fields each source's downstream reads (Component::projection).
void compute_projections(Pipeline& p);

// What a plugin declares when configured with its own example config (`plugins describe`).
struct ExampleInterface {
  bool configured = false;
  std::string error;  // why the example did not configure
  DataInterface data;
  std::vector<CounterSpec> counters;  // the plugin's own (not the host's standard ones)
};
ExampleInterface example_interface(const PluginApi& api);

// Pushdown: hands each source the KeepConditions its only consumer promised (Component::pushed).
void push_down(Pipeline& p);
// "eventType in [interaction] and metrics.state in [ended, abandoned]"
std::string describe_conditions(const std::vector<KeepCondition>& conditions);

// Everything `cxflow validate` and `cxflow run` do before starting: read, parse, check, configure.
std::unique_ptr<Pipeline> load_pipeline(const std::string& path, PluginRegistry& registry,
                                        std::vector<ConfigError>& errors);

}  // namespace cxflow::host
