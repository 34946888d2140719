#include "pipeline.hpp"

#include <algorithm>
#include <cctype>
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
    s.key("queue_batches", &RuntimeSettings::queue_batches,
          "Maximum batches waiting on one edge before the producer is held back")
        .def("8")
        .range(1, 1'000'000);
    s.key("queue_bytes", &RuntimeSettings::queue_bytes,
          "Maximum bytes waiting on one edge before the producer is held back")
        .def("32MiB")
        .min(4096);
    s.key("batch_events", &RuntimeSettings::batch_events, "Largest batch a transform emits in one piece")
        .def("1024")
        .range(1, 1'000'000);
    s.key("status_interval", &RuntimeSettings::status_interval,
          "How often the live status line (on a terminal) is refreshed")
        .def("1s")
        .min(50);
    s.key("log_interval", &RuntimeSettings::log_interval,
          "How often a progress line is logged when not on a terminal (0 = never)")
        .def("10s");
    s.key("drain_timeout", &RuntimeSettings::drain_timeout,
          "On shutdown, how long to wait for in-flight batches and open windows to be written before giving up")
        .def("30s")
        .min(100);
    s.key("stall_warning", &RuntimeSettings::stall_warning,
          "Log a warning naming a component that has been inside one call (process, write, a timer...) this long (0 = "
          "never)")
        .def("10s");
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
  if (it == counters_.end()) {
    it = counters_.emplace(std::string(name), Entry{}).first;
    it->second.spec.name = std::string(name);
  }
  return *it->second.counter;
}

Counter& CounterSet::declare(const CounterSpec& spec) {
  std::lock_guard lock(mutex_);
  const std::string key = spec.key();
  auto it = counters_.find(key);
  if (it == counters_.end()) it = counters_.emplace(key, Entry{}).first;
  it->second.spec = spec;
  return *it->second.counter;
}

std::vector<std::pair<std::string, std::uint64_t>> CounterSet::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [k, v] : counters_) out.emplace_back(k, v.counter->value());
  return out;
}

std::uint64_t CounterSet::sum(CounterRole role) const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [k, v] : counters_)
    if (v.spec.role == role) n += v.counter->value();
  return n;
}

std::vector<CounterSpec> CounterSet::specs() const {
  std::lock_guard lock(mutex_);
  std::vector<CounterSpec> out;
  for (const auto& [k, v] : counters_) out.push_back(v.spec);
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
          errors.push_back(
              ConfigError{v.pos, path + ".plugin", "expected a plugin name, e.g. plugin: source-simulator"});
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
          errors.push_back(
              ConfigError{v.pos, path + ".inputs", "expected a list of component names, e.g. inputs: [calls]"});
        }
        if (c.inputs.empty() && v.is_sequence())
          errors.push_back(
              ConfigError{v.pos, path + ".inputs", quote_value(name) + " has no inputs: list at least one component"});
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
                                   "component name " + quote_value(c.name) + " is already used by " +
                                       it->second->path() + " at " + it->second->pos.str()});
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
        errors.push_back(
            ConfigError{c.input_pos[i], c.path() + ".inputs", quote_value(c.name) + " reads its own output (a cycle)"});
        continue;
      }
      ++readers[in];
    }
  }
  for (const auto& c : spec.components) {
    if (c.kind == Kind::Sink || readers[c.name] > 0) continue;
    errors.push_back(
        ConfigError{c.pos, c.path(),
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
  const bool any_source =
      std::any_of(spec.components.begin(), spec.components.end(), [](auto& c) { return c.kind == Kind::Source; });
  const bool any_sink =
      std::any_of(spec.components.begin(), spec.components.end(), [](auto& c) { return c.kind == Kind::Sink; });
  const SourcePos top{file, 1, 1};
  if (!any_source)
    errors.push_back(ConfigError{top, "sources", "the pipeline has no sources; declare at least one under 'sources:'"});
  if (!any_sink)
    errors.push_back(ConfigError{top, "sinks", "the pipeline has no sinks; declare at least one under 'sinks:'"});
  check_graph(spec, errors);
  return spec;
}

namespace {
void add_unique(std::vector<std::string>& v, std::string_view name) {
  if (std::find(v.begin(), v.end(), name) == v.end()) v.emplace_back(name);
}

class SetupImpl final : public Setup {
 public:
  SetupImpl(FieldTable& table, Component& c) : table_(table), c_(c), prefix_(c.prefix()) {}
  FieldId field(std::string_view name) override {
    add_unique(c_.data.used, name);
    return table_.intern(name);
  }
  FieldId reads(std::string_view name, FieldType type, const SourcePos& pos) override {
    c_.data.reads.push_back(FieldRead{std::string(name), type, pos, false});
    return table_.intern(name);
  }
  FieldId reads_if_present(std::string_view name, FieldType type) override {
    c_.data.reads.push_back(FieldRead{std::string(name), type, {}, true});
    return table_.intern(name);
  }
  FieldId produces(std::string_view name, FieldType type) override {
    auto& out = c_.data.produces;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& f) { return f.first == name; });
    if (it == out.end())
      out.emplace_back(std::string(name), type);
    else if (it->second != type)
      it->second = FieldType::Any;
    return table_.intern(name);
  }
  void passes_through() override { c_.data.passes_through = true; }
  void produces_open() override { c_.data.open = true; }
  void reads_all() override { c_.data.reads_all = true; }
  const std::string& component_name() const noexcept override { return c_.spec.name; }
  Counter& counter(std::string_view name) override { return c_.counters->get(name); }
  Counter& declare_counter(const CounterSpec& spec) override { return c_.counters->declare(spec); }
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

namespace {

// What flows out of a component: the fields it carries, with their type and who made them.
struct Output {
  struct Field {
    FieldType type = FieldType::Any;
    std::size_t origin = 0;  // index of the component that produces it
  };
  std::map<std::string, Field, std::less<>> fields;
  bool open = false;  // may carry fields beyond `fields`
};

bool is_name_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '.' || ch == '$';
}

// Where the component's config names `field`: a scalar equal to it (columns.x.field, group_by[i],
// rules[i].metric), else the first place a scalar mentions it as a whole word (inside an
// expression or condition). Returns the key path too.
struct Mention {
  SourcePos pos;
  std::string path;
};
bool find_exact(const ConfigNode& n, std::string_view field, const std::string& path, Mention& out) {
  if (n.is_scalar()) {
    if (n.scalar != field) return false;
    out = Mention{n.pos, path};
    return true;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string sub =
        n.is_map() ? (path.empty() ? "" : path + ".") + n.keys[i] : path + "[" + std::to_string(i) + "]";
    if (find_exact(n.items[i], field, sub, out)) return true;
  }
  return false;
}
bool find_word(const ConfigNode& n, std::string_view field, const std::string& path, Mention& out) {
  if (n.is_scalar()) {
    for (std::size_t at = n.scalar.find(field); at != std::string::npos; at = n.scalar.find(field, at + 1)) {
      const std::size_t end = at + field.size();
      if ((at > 0 && is_name_char(n.scalar[at - 1])) || (end < n.scalar.size() && is_name_char(n.scalar[end])))
        continue;
      out = Mention{n.pos, path};
      if (out.pos.line > 0 && n.scalar.find('\n') == std::string::npos) out.pos.column += static_cast<int>(at);
      return true;
    }
    return false;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string sub =
        n.is_map() ? (path.empty() ? "" : path + ".") + n.keys[i] : path + "[" + std::to_string(i) + "]";
    if (find_word(n.items[i], field, sub, out)) return true;
  }
  return false;
}

// The key path of the scalar written at `pos` (or containing that column).
bool find_at(const ConfigNode& n, const SourcePos& pos, const std::string& path, Mention& out) {
  if (n.is_scalar()) {
    if (n.pos.line != pos.line || pos.column < n.pos.column ||
        pos.column > n.pos.column + static_cast<int>(n.scalar.size()) + 1)
      return false;
    out = Mention{pos, path};
    return true;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string sub =
        n.is_map() ? (path.empty() ? "" : path + ".") + n.keys[i] : path + "[" + std::to_string(i) + "]";
    if (find_at(n.items[i], pos, sub, out)) return true;
  }
  return false;
}

std::string list_names(const std::vector<std::string>& names, std::size_t max = 12) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// Outputs of every component, in an order where inputs come first (memoized depth-first; a
// cycle, already reported by check_graph, is cut).
std::vector<Output> outputs_of(const Pipeline& p) {
  std::vector<Output> out(p.components.size());
  std::vector<int> state(p.components.size(), 0);  // 0 todo, 1 in progress, 2 done
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    if (state[i] != 0) return;
    state[i] = 1;
    const Component& c = p.components[i];
    Output& o = out[i];
    const DataInterface& d = c.data;
    if (!c.instance) {
      o.open = true;  // failed to configure: unknown, so nothing downstream is refused for it
    } else if (c.spec.kind == Kind::Transform && (d.passes_through || !d.declared_output())) {
      for (std::size_t in : c.inputs) {
        visit(in);
        if (state[in] != 2) {
          o.open = true;
          continue;
        }
        const Output& src = out[in];
        o.open = o.open || src.open;
        for (const auto& [name, f] : src.fields) {
          auto [it, inserted] = o.fields.emplace(name, f);
          if (!inserted && it->second.type != f.type) it->second.type = FieldType::Any;
        }
      }
      if (!d.declared_output()) o.open = true;
    } else if (c.spec.kind == Kind::Source && !d.declared_output()) {
      o.open = true;
    }
    if (c.instance) {
      o.open = o.open || d.open;
      for (const auto& [name, type] : d.produces) o.fields[name] = Output::Field{type, i};
    }
    state[i] = 2;
  };
  for (std::size_t i = 0; i < p.components.size(); ++i) visit(i);
  return out;
}

}  // namespace

void check_data(const Pipeline& p, std::vector<ConfigError>& errors) {
  const std::vector<Output> outputs = outputs_of(p);
  for (std::size_t i = 0; i < p.components.size(); ++i) {
    const Component& c = p.components[i];
    if (!c.instance || c.data.reads.empty()) continue;
    // A source reads its own output (a prefilter); everything else reads its inputs'.
    std::vector<std::size_t> from = c.spec.kind == Kind::Source ? std::vector<std::size_t>{i} : c.inputs;
    if (from.empty()) continue;
    bool open = false;
    std::vector<std::string> produced;
    for (std::size_t in : from) {
      open = open || outputs[in].open;
      for (const auto& [name, f] : outputs[in].fields) add_unique(produced, name);
    }
    std::vector<std::string> input_names;
    for (std::size_t in : from) input_names.push_back(p.components[in].spec.name);
    std::set<std::string> reported, warned;
    for (const FieldRead& r : c.data.reads) {
      if (r.name.empty() || r.name[0] == '$') continue;
      const Output::Field* found = nullptr;
      for (std::size_t in : from)
        if (auto it = outputs[in].fields.find(r.name); it != outputs[in].fields.end()) {
          found = &it->second;
          break;
        }
      std::string msg;
      if (found == nullptr && open && !r.optional) {
        // Accepted (an open source may carry it), but a near miss of a declared field is most
        // likely a typo: say so without refusing.
        std::string m = closest_match(r.name, produced);
        if (!m.empty() && edit_distance(r.name, m) > 2) m.clear();  // only a near miss
        if (!m.empty() && warned.insert(r.name).second) {
          Mention at{r.pos, ""};
          if (at.pos.line == 0 && !find_exact(c.spec.config, r.name, "", at) &&
              !find_word(c.spec.config, r.name, "", at))
            at = Mention{c.spec.pos, ""};
          log_line(LogLevel::Warn, c.prefix(),
                   at.pos.str() + ": field '" + r.name +
                       "' is not among the fields declared upstream (accepted: an input may "
                       "carry fields it does not declare); did you mean '" +
                       m + "'?");
        }
        continue;
      }
      if (found == nullptr) {
        if (r.optional) continue;
        msg = "field '" + r.name + "' is not produced by " +
              (c.spec.kind == Kind::Source ? std::string("this source")
                                           : "any input of '" + c.spec.name + "' (" + list_names(input_names) + ")");
        const std::string m = closest_match(r.name, produced);
        if (!m.empty())
          msg += "; did you mean '" + m + "'?";
        else if (!produced.empty())
          msg += "; produced: " + list_names(produced);
        else
          msg += "; its inputs produce no fields";
      } else if (r.type != FieldType::Any && found->type != FieldType::Any && found->type != r.type) {
        const Component& origin = p.components[found->origin];
        msg = "field '" + r.name + "' is read as a " + field_type_name(r.type) + ", but " + origin.spec.path() + " (" +
              origin.spec.plugin + ") produces it as a " + field_type_name(found->type);
      } else {
        continue;
      }
      if (!reported.insert(r.name + "|" + r.pos.str()).second) continue;
      Mention at{r.pos, ""};
      if (r.pos.line > 0)
        find_at(c.spec.config, r.pos, "", at);
      else if (!find_exact(c.spec.config, r.name, "", at) && !find_word(c.spec.config, r.name, "", at))
        at = Mention{c.spec.pos, ""};
      errors.push_back(ConfigError{at.pos, c.spec.path() + (at.path.empty() ? "" : "." + at.path), msg});
    }
  }
}

void compute_projections(Pipeline& p) {
  // What component i needs from its inputs: its own reads plus, when it passes its input
  // through (or declares no output), what its readers need. nullopt = every field.
  using Need = std::optional<std::set<std::string>>;
  std::vector<Need> needs(p.components.size(), Need{std::set<std::string>{}});
  std::vector<int> state(p.components.size(), 0);
  std::function<void(std::size_t)> visit;
  auto downstream = [&](std::size_t i) -> Need {
    std::set<std::string> all;
    for (std::size_t o : p.components[i].outputs) {
      visit(o);
      if (!needs[o]) return std::nullopt;
      all.insert(needs[o]->begin(), needs[o]->end());
    }
    return all;
  };
  visit = [&](std::size_t i) {
    if (state[i] != 0) return;
    state[i] = 1;
    const Component& c = p.components[i];
    const DataInterface& d = c.data;
    Need n = std::set<std::string>{};
    if (d.reads_all || !c.instance) {
      n = std::nullopt;
    } else {
      for (const auto& r : d.reads) n->insert(r.name);
      n->insert(d.used.begin(), d.used.end());
      if (c.spec.kind == Kind::Transform && (d.passes_through || !d.declared_output())) {
        Need more = downstream(i);
        if (!more)
          n = std::nullopt;
        else
          for (const auto& f : *more)
            if (std::none_of(d.produces.begin(), d.produces.end(), [&](const auto& x) { return x.first == f; }))
              n->insert(f);
      }
    }
    needs[i] = std::move(n);
    state[i] = 2;
  };
  for (std::size_t i = 0; i < p.components.size(); ++i) {
    Component& c = p.components[i];
    if (c.spec.kind != Kind::Source) continue;
    visit(i);
    Need n = needs[i];
    if (n) {
      Need more = downstream(i);
      if (!more)
        n = std::nullopt;
      else
        n->insert(more->begin(), more->end());
    }
    if (!n) {
      c.projection.reset();
      continue;
    }
    std::vector<FieldId> ids;
    for (const auto& name : *n)
      if (auto id = p.fields.find(name)) ids.push_back(*id);
    std::sort(ids.begin(), ids.end());
    c.projection = std::move(ids);
  }
}

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
    c.counters->declare(
        CounterSpec{"events_in", CounterKind::Counter, "events", {}, CounterRole::None, "events received"});
    c.counters->declare(
        CounterSpec{"events_out", CounterKind::Counter, "events", {}, CounterRole::None, "events emitted"});
    c.counters->declare(CounterSpec{"dropped",
                                    CounterKind::Counter,
                                    "events",
                                    {},
                                    CounterRole::Dropped,
                                    "events the host dropped for this component"});
    c.counters->declare(CounterSpec{
        "errors", CounterKind::Counter, "errors", {}, CounterRole::Errors, "calls into the component that failed"});
    if (c.spec.plugin.empty()) continue;
    c.plugin = registry.find(c.spec.plugin);
    if (c.plugin == nullptr) {
      errors.push_back(
          ConfigError{c.spec.plugin_pos, c.spec.path() + ".plugin", registry.not_found_message(c.spec.plugin)});
      continue;
    }
    const Kind pk = c.plugin->api->kind();
    if (pk != c.spec.kind) {
      errors.push_back(ConfigError{c.spec.plugin_pos, c.spec.path() + ".plugin",
                                   quote_value(c.spec.plugin) + " is a " + kind_name(pk) +
                                       " plugin; declare it under '" +
                                       (pk == Kind::Source      ? "sources"
                                        : pk == Kind::Transform ? "transforms"
                                                                : "sinks") +
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
      errors.push_back(
          ConfigError{c.spec.pos, c.spec.path(), "plugin " + quote_value(c.spec.plugin) + " failed to configure"});
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
  check_data(*p, errors);
  if (errors.size() != before) return nullptr;
  compute_projections(*p);
  if (p->runtime.pushdown) push_down(*p);
  return p;
}

ExampleInterface example_interface(const PluginApi& api) {
  ExampleInterface out;
  std::vector<ConfigError> errs;
  const EnvLookup no_env = [](const std::string&) { return std::optional<std::string>{}; };
  ConfigNode config = parse_yaml(api.example(), "<example>", no_env, errs);
  if (config.is_null()) config = ConfigNode::make_map();
  FieldTable table;
  Component c;
  c.spec.name = "example";
  c.spec.kind = api.kind();
  c.spec.plugin = api.name();
  if (errs.empty()) {
    SetupImpl setup(table, c);
    c.instance = api.configure(config, setup, errs);
  }
  out.configured = c.instance != nullptr;
  if (!errs.empty()) out.error = errs.front().str();
  out.data = std::move(c.data);
  out.counters = c.counters->specs();
  return out;
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
