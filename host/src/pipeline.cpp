#include "pipeline.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "log.hpp"
#include "yaml_loader.hpp"

namespace cxflow::host {

const Schema<RuntimeSettings>& runtime_schema() {
  static const Schema<RuntimeSettings> schema = [] {
    Schema<RuntimeSettings> s;
    s.key("threads", &RuntimeSettings::threads, "Worker threads running the components").def("2").range(1, 64);
    s.key("placement", &RuntimeSettings::placement,
          "local: each thread runs its own components (a transform on its first input's thread, sinks on the "
          "threads the sources leave free), so events stay on one core; shared: any thread runs any component")
        .def("local")
        .one_of({{"local", Placement::local}, {"shared", Placement::shared}});
    s.key("queue_batches", &RuntimeSettings::queue_batches, "Maximum batches waiting on one edge before the producer is held back")
        .def("8")
        .range(1, 1'000'000);
    s.key("queue_bytes", &RuntimeSettings::queue_bytes, "Maximum bytes waiting on one edge before the producer is held back")
        .def("32MiB")
        .min(4096);
    s.key("batch_events", &RuntimeSettings::batch_events, "Largest batch a transform emits in one piece")
        .def("1024")
        .range(1, 1'000'000);
    s.key("status_interval", &RuntimeSettings::status_interval, "How often the live status line (on a terminal) is refreshed")
        .def("1s")
        .min(50);
    s.key("log_interval", &RuntimeSettings::log_interval, "How often a progress line is logged when not on a terminal (0 = never)")
        .def("10s");
    s.key("drain_timeout", &RuntimeSettings::drain_timeout,
          "On shutdown, how long to wait for in-flight batches and open windows to be written before giving up")
        .def("30s")
        .min(100);
    s.key("pushdown", &RuntimeSettings::pushdown,
          "Hand a source the conditions its only consumer promises to filter on (e.g. filter-interaction's "
          "event_types and states), so it can drop what would be discarded before decoding it in full")
        .def("true");
    return s;
  }();
  return schema;
}

Counter& CounterSet::get(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = counters_.find(name);
  if (it == counters_.end()) it = counters_.emplace(std::string(name), std::make_unique<Counter>()).first;
  return *it->second;
}

std::vector<std::pair<std::string, std::uint64_t>> CounterSet::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [k, v] : counters_) out.emplace_back(k, v->value());
  return out;
}

namespace {

const std::vector<std::string> kTopLevel = {"sources", "transforms", "sinks", "runtime"};

void parse_section(const ConfigNode& root, const std::string& file, const std::string& section, Kind kind,
                   PipelineSpec& spec, std::vector<ConfigError>& errors) {
  const ConfigNode* sec = root.find(section);
  if (sec == nullptr || sec->is_null()) return;
  if (!sec->is_map()) {
    errors.push_back(ConfigError{sec->pos, section, "expected a map of components (name: {plugin: ..., ...})"});
    return;
  }
  for (std::size_t i = 0; i < sec->items.size(); ++i) {
    const std::string& name = sec->keys[i];
    const ConfigNode& body = sec->items[i];
    ComponentSpec c;
    c.name = name;
    c.kind = kind;
    c.pos = sec->key_pos[i];
    const std::string path = section + "." + name;
    if (!body.is_map()) {
      errors.push_back(ConfigError{body.pos, path, "expected a map with at least 'plugin:'"});
      continue;
    }
    c.config = ConfigNode::make_map(body.pos);
    c.config.pos.file = file;
    bool has_plugin = false, has_inputs = false;
    for (std::size_t k = 0; k < body.items.size(); ++k) {
      const std::string& key = body.keys[k];
      const ConfigNode& v = body.items[k];
      if (key == "plugin") {
        if (has_plugin) {
          errors.push_back(ConfigError{body.key_pos[k], path, "duplicate key 'plugin'"});
          continue;
        }
        has_plugin = true;
        if (!v.is_scalar() || v.scalar.empty()) {
          errors.push_back(ConfigError{v.pos, path + ".plugin", "expected a plugin name, e.g. plugin: source-simulator"});
          continue;
        }
        c.plugin = v.scalar;
        c.plugin_pos = v.pos;
      } else if (key == "inputs") {
        if (has_inputs) {
          errors.push_back(ConfigError{body.key_pos[k], path, "duplicate key 'inputs'"});
          continue;
        }
        has_inputs = true;
        if (kind == Kind::Source) {
          errors.push_back(ConfigError{body.key_pos[k], path, "a source takes no 'inputs'"});
          continue;
        }
        if (v.is_scalar()) {
          c.inputs.push_back(v.scalar);
          c.input_pos.push_back(v.pos);
        } else if (v.is_sequence()) {
          for (const auto& item : v.items) {
            if (!item.is_scalar()) {
              errors.push_back(ConfigError{item.pos, path + ".inputs", "expected a component name"});
              continue;
            }
            c.inputs.push_back(item.scalar);
            c.input_pos.push_back(item.pos);
          }
        } else {
          errors.push_back(ConfigError{v.pos, path + ".inputs", "expected a list of component names, e.g. inputs: [calls]"});
        }
        if (c.inputs.empty() && v.is_sequence())
          errors.push_back(ConfigError{v.pos, path + ".inputs", quote_value(name) + " has no inputs: list at least one component"});
      } else {
        c.config.add(key, v);
        c.config.key_pos.back() = body.key_pos[k];
      }
    }
    if (!has_plugin) errors.push_back(ConfigError{c.pos, path, "missing 'plugin:' (which plugin runs this component)"});
    if (kind != Kind::Source && !has_inputs)
      errors.push_back(ConfigError{c.pos, path, quote_value(name) + " has no inputs: add inputs: [<component>]"});
    spec.components.push_back(std::move(c));
  }
}

void check_graph(PipelineSpec& spec, std::vector<ConfigError>& errors) {
  std::map<std::string, const ComponentSpec*> by_name;
  std::vector<std::string> names;
  for (const auto& c : spec.components) {
    auto [it, inserted] = by_name.emplace(c.name, &c);
    if (!inserted)
      errors.push_back(ConfigError{c.pos, c.path(),
                                   "component name " + quote_value(c.name) + " is already used by " + it->second->path() + " at " +
                                       it->second->pos.str()});
    names.push_back(c.name);
  }
  std::map<std::string, int> readers;
  for (const auto& c : spec.components) {
    for (std::size_t i = 0; i < c.inputs.size(); ++i) {
      const std::string& in = c.inputs[i];
      auto it = by_name.find(in);
      if (it == by_name.end()) {
        const std::string msg = "unknown input " + quote_value(in) + did_you_mean(in, names);
        errors.push_back(ConfigError{c.input_pos[i], c.path() + ".inputs", msg});
        continue;
      }
      if (it->second->kind == Kind::Sink) {
        errors.push_back(ConfigError{c.input_pos[i], c.path() + ".inputs",
                                     quote_value(in) + " is a sink; sinks produce nothing to read"});
        continue;
      }
      if (in == c.name) {
        errors.push_back(ConfigError{c.input_pos[i], c.path() + ".inputs", quote_value(c.name) + " reads its own output (a cycle)"});
        continue;
      }
      ++readers[in];
    }
  }
  for (const auto& c : spec.components) {
    if (c.kind == Kind::Sink || readers[c.name] > 0) continue;
    errors.push_back(ConfigError{c.pos, c.path(),
                                 std::string(c.kind == Kind::Source ? "source " : "transform ") + quote_value(c.name) +
                                     " is not read by any transform or sink; add it to some component's inputs or remove it"});
  }
  // Cycles among transforms: depth-first search with colours.
  std::map<std::string, int> colour;  // 0 white, 1 grey, 2 black
  std::vector<std::string> stack;
  std::set<std::string> reported;
  std::function<void(const ComponentSpec&)> visit = [&](const ComponentSpec& c) {
    colour[c.name] = 1;
    stack.push_back(c.name);
    for (const auto& in : c.inputs) {
      auto it = by_name.find(in);
      if (it == by_name.end() || in == c.name) continue;
      if (colour[in] == 1) {
        auto start = std::find(stack.begin(), stack.end(), in);
        std::string cycle;
        for (auto s = start; s != stack.end(); ++s) cycle += *s + " -> ";
        cycle += in;
        if (reported.insert(in).second)
          errors.push_back(ConfigError{it->second->pos, it->second->path(), "cycle in the pipeline: " + cycle});
      } else if (colour[in] == 0) {
        visit(*it->second);
      }
    }
    stack.pop_back();
    colour[c.name] = 2;
  };
  for (const auto& c : spec.components)
    if (colour[c.name] == 0) visit(c);
}

}  // namespace

PipelineSpec parse_pipeline(const ConfigNode& root, const std::string& file, std::vector<ConfigError>& errors) {
  PipelineSpec spec;
  spec.file = file;
  if (!root.is_map()) {
    errors.push_back(ConfigError{root.pos.line ? root.pos : SourcePos{file, 1, 1}, "",
                                 "a pipeline is a map with 'sources', 'transforms' and 'sinks'"});
    return spec;
  }
  BindContext cx{errors, ""};
  detail::check_keys(root, kTopLevel, cx);
  parse_section(root, file, "sources", Kind::Source, spec, errors);
  parse_section(root, file, "transforms", Kind::Transform, spec, errors);
  parse_section(root, file, "sinks", Kind::Sink, spec, errors);
  const ConfigNode* rt = root.find("runtime");
  runtime_schema().bind(rt ? *rt : ConfigNode{}, spec.runtime, errors, "runtime");
  const bool any_source = std::any_of(spec.components.begin(), spec.components.end(), [](auto& c) { return c.kind == Kind::Source; });
  const bool any_sink = std::any_of(spec.components.begin(), spec.components.end(), [](auto& c) { return c.kind == Kind::Sink; });
  const SourcePos top{file, 1, 1};
  if (!any_source) errors.push_back(ConfigError{top, "sources", "the pipeline has no sources; declare at least one under 'sources:'"});
  if (!any_sink) errors.push_back(ConfigError{top, "sinks", "the pipeline has no sinks; declare at least one under 'sinks:'"});
  check_graph(spec, errors);
  return spec;
}

namespace {
class SetupImpl final : public Setup {
 public:
  SetupImpl(FieldTable& table, Component& c) : table_(table), c_(c), prefix_(c.prefix()) {}
  FieldId field(std::string_view name) override { return table_.intern(name); }
  const std::string& component_name() const noexcept override { return c_.spec.name; }
  Counter& counter(std::string_view name) override { return c_.counters->get(name); }
  void log(LogLevel level, std::string_view message) override { log_line(level, prefix_, message); }
  void promise_keep_only(KeepCondition condition) override {
    if (c_.spec.kind == Kind::Transform) c_.promises.push_back(std::move(condition));
  }

 private:
  FieldTable& table_;
  Component& c_;
  std::string prefix_;
};
}  // namespace

// A source whose only consumer is a transform that promised KeepConditions gets them. (With
// several consumers an event must be kept if any consumer wants it; that is not pushed down.)
void push_down(Pipeline& p) {
  for (auto& c : p.components) {
    if (c.spec.kind != Kind::Source || c.outputs.size() != 1) continue;
    const Component& consumer = p.components[c.outputs[0]];
    if (consumer.spec.kind != Kind::Transform || consumer.promises.empty()) continue;
    c.pushed = consumer.promises;
    c.pushed_from = c.outputs[0];
  }
}

std::string describe_conditions(const std::vector<KeepCondition>& conditions) {
  std::string text;
  for (const auto& k : conditions) {
    if (!text.empty()) text += " and ";
    text += k.path + " in [";
    for (std::size_t i = 0; i < k.values.size(); ++i) text += (i ? ", " : "") + k.values[i];
    text += "]";
  }
  return text;
}

std::unique_ptr<Pipeline> configure_pipeline(const PipelineSpec& spec, const PluginRegistry& registry,
                                             std::vector<ConfigError>& errors) {
  auto p = std::make_unique<Pipeline>();
  p->file = spec.file;
  p->runtime = spec.runtime;
  const std::size_t before = errors.size();
  // Sources first, then transforms, then sinks: the order the runtime starts them in reverse.
  for (Kind k : {Kind::Source, Kind::Transform, Kind::Sink})
    for (const auto& cs : spec.components)
      if (cs.kind == k) {
        Component c;
        c.spec = cs;
        p->components.push_back(std::move(c));
      }
  for (auto& c : p->components) {
    for (const char* std_counter : {"events_in", "events_out", "dropped", "errors"}) c.counters->get(std_counter);
    if (c.spec.plugin.empty()) continue;
    c.plugin = registry.find(c.spec.plugin);
    if (c.plugin == nullptr) {
      errors.push_back(ConfigError{c.spec.plugin_pos, c.spec.path() + ".plugin", registry.not_found_message(c.spec.plugin)});
      continue;
    }
    const Kind pk = c.plugin->api->kind();
    if (pk != c.spec.kind) {
      errors.push_back(ConfigError{c.spec.plugin_pos, c.spec.path() + ".plugin",
                                   quote_value(c.spec.plugin) + " is a " + kind_name(pk) + " plugin; declare it under '" +
                                       (pk == Kind::Source ? "sources" : pk == Kind::Transform ? "transforms" : "sinks") +
                                       "', not '" + c.spec.section() + "'"});
      continue;
    }
    SetupImpl setup(p->fields, c);
    std::vector<ConfigError> errs;
    c.instance = c.plugin->api->configure(c.spec.config, setup, errs);
    for (auto& e : errs) {
      e.path = c.spec.path() + (e.path.empty() ? "" : "." + e.path);
      if (e.pos.line == 0) e.pos = c.spec.pos;
      errors.push_back(std::move(e));
    }
    if (!c.instance && errs.empty())
      errors.push_back(ConfigError{c.spec.pos, c.spec.path(), "plugin " + quote_value(c.spec.plugin) + " failed to configure"});
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < p->components.size(); ++i) index[p->components[i].spec.name] = i;
  for (std::size_t i = 0; i < p->components.size(); ++i)
    for (const auto& in : p->components[i].spec.inputs)
      if (auto it = index.find(in); it != index.end()) {
        p->components[i].inputs.push_back(it->second);
        p->components[it->second].outputs.push_back(i);
      }
  p->fields.freeze();
  if (errors.size() != before) return nullptr;
  if (p->runtime.pushdown) push_down(*p);
  return p;
}

std::unique_ptr<Pipeline> load_pipeline(const std::string& path, PluginRegistry& registry,
                                        std::vector<ConfigError>& errors) {
  const std::size_t before = errors.size();
  ConfigNode root = load_yaml_file(path, process_env(), errors);
  if (errors.size() != before) return nullptr;
  PipelineSpec spec = parse_pipeline(root, path, errors);
  // Only the plugins the pipeline names are loaded.
  for (const auto& c : spec.components)
    if (!c.plugin.empty()) registry.require(c.plugin);
  // Configure even when the structure had errors, so one run lists plugin config errors too;
  // but only components that parsed.
  auto p = configure_pipeline(spec, registry, errors);
  if (errors.size() != before) return nullptr;
  return p;
}

}  // namespace cxflow::host
