#include "describe.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <cstdio>

#include "pipeline.hpp"

namespace cxflow::host {

namespace {

std::string type_text(const KeyInfo& k) {
  if (!k.type_name.empty()) return k.type_name;
  std::string t = key_type_name(k.type);
  if (k.type == KeyType::Enum) {
    t = "one of ";
    for (std::size_t i = 0; i < k.allowed.size(); ++i) t += (i ? " | " : "") + k.allowed[i];
  }
  return t;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void keys_text(const std::vector<KeyInfo>& keys, const std::string& indent, std::string& out) {
  for (const auto& k : keys) {
    out += indent + k.name + "  (" + type_text(k) + ")";
    if (k.required) out += "  required";
    if (k.default_text) out += "  default: " + (k.secret ? std::string(kRedacted) : *k.default_text);
    if (k.min || k.max) {
      out += "  range: ";
      out += k.min ? number_text(*k.min) : "";
      out += "..";
      out += k.max ? number_text(*k.max) : "";
      if (k.type == KeyType::Duration) out += " ms";
      if (k.type == KeyType::Size) out += " bytes";
    }
    if (k.secret) out += "  secret";
    out += "\n" + indent + "    " + k.description + "\n";
    if (!k.example.empty()) out += indent + "    example: " + k.example + "\n";
    if (!k.children.empty()) keys_text(k.children, indent + "    ", out);
  }
}

nlohmann::json keys_json(const std::vector<KeyInfo>& keys) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : keys) {
    nlohmann::json j;
    j["name"] = k.name;
    j["type"] = k.type_name.empty() ? std::string(key_type_name(k.type)) : k.type_name;
    j["description"] = k.description;
    j["required"] = k.required;
    j["secret"] = k.secret;
    if (k.default_text) j["default"] = k.secret ? std::string(kRedacted) : *k.default_text;
    if (k.min) j["min"] = *k.min;
    if (k.max) j["max"] = *k.max;
    if (!k.allowed.empty()) j["allowed"] = k.allowed;
    if (!k.example.empty()) j["example"] = k.example;
    if (!k.children.empty()) j["keys"] = keys_json(k.children);
    arr.push_back(std::move(j));
  }
  return arr;
}

std::string data_text(const PluginApi& a) {
  const ExampleInterface ex = example_interface(a);
  std::string out = "\nData (declared with the example config below; the lists depend on the config):\n";
  if (!ex.configured) return out + "  (the example did not configure: " + ex.error + ")\n";
  const DataInterface& d = ex.data;
  out += "  reads:";
  if (d.reads_all) out += " every field it gets";
  if (d.reads.empty() && !d.reads_all) out += " nothing";
  out += "\n";
  std::vector<std::string> seen;
  for (const auto& r : d.reads) {
    if (std::find(seen.begin(), seen.end(), r.name) != seen.end()) continue;
    seen.push_back(r.name);
    out += "    " + r.name + "  (" + field_type_name(r.type) + ")" + (r.optional ? "  if present" : "") + "\n";
  }
  out += "  produces:";
  if (a.kind() == Kind::Sink)
    out += " nothing (a sink)";
  else if (d.passes_through)
    out += " its input, passed through";
  else if (!d.declared_output())
    out += " not declared (treated as its input, passed through)";
  if (a.kind() != Kind::Sink && d.produces.empty() && !d.passes_through && d.open) out += " fields of its input data";
  out += "\n";
  for (const auto& [name, type] : d.produces) out += "    " + name + "  (" + field_type_name(type) + ")\n";
  if (d.open && !d.produces.empty()) out += "    ... and any other field its input data holds\n";
  out += "\nCounters (besides the host's events_in, events_out, dropped, errors):\n";
  for (const auto& c : ex.counters) {
    if (c.name == "events_in" || c.name == "events_out" || c.name == "dropped" || c.name == "errors") continue;
    out += "  " + c.key() + "  (" + counter_kind_name(c.kind);
    if (!c.unit.empty()) out += ", " + c.unit;
    if (c.role != CounterRole::None) out += std::string(", role ") + counter_role_name(c.role);
    out += ")";
    if (!c.help.empty()) out += "  " + c.help;
    out += "\n";
  }
  return out;
}

nlohmann::json data_json(const PluginApi& a) {
  const ExampleInterface ex = example_interface(a);
  nlohmann::json j;
  j["from"] = "example";
  j["configured"] = ex.configured;
  if (!ex.configured) {
    j["error"] = ex.error;
    return j;
  }
  const DataInterface& d = ex.data;
  nlohmann::json reads = nlohmann::json::array();
  std::vector<std::string> seen;
  for (const auto& r : d.reads) {
    if (std::find(seen.begin(), seen.end(), r.name) != seen.end()) continue;
    seen.push_back(r.name);
    reads.push_back({{"name", r.name}, {"type", field_type_name(r.type)}, {"optional", r.optional}});
  }
  nlohmann::json produces = nlohmann::json::array();
  for (const auto& [name, type] : d.produces) produces.push_back({{"name", name}, {"type", field_type_name(type)}});
  j["reads"] = std::move(reads);
  j["reads_all"] = d.reads_all;
  j["produces"] = std::move(produces);
  j["passes_through"] = d.passes_through || (a.kind() == Kind::Transform && !d.declared_output());
  j["open"] = d.open;
  return j;
}

nlohmann::json counters_json(const PluginApi& a) {
  const ExampleInterface ex = example_interface(a);
  nlohmann::json counters = nlohmann::json::array();
  for (const auto& c : ex.counters) {
    if (c.name == "events_in" || c.name == "events_out" || c.name == "dropped" || c.name == "errors") continue;
    nlohmann::json cj{
        {"name", c.name}, {"kind", counter_kind_name(c.kind)}, {"unit", c.unit}, {"role", counter_role_name(c.role)}};
    if (!c.labels.empty()) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& l : c.labels) labels[l.name] = l.value;
      cj["labels"] = std::move(labels);
    }
    if (!c.help.empty()) cj["help"] = c.help;
    counters.push_back(std::move(cj));
  }
  return counters;
}

}  // namespace

std::string describe_text(const PluginRecord& p) {
  const PluginApi& a = *p.api;
  std::string out = std::string(a.name()) + " " + a.version() + " (" + kind_name(a.kind()) + ")\n";
  out += "  " + std::string(a.description()) + "\n";
  out += "  loaded from " + p.path.string() + "\n\n";
  out += "Keys:\n";
  out += std::string("  plugin  (string)  required\n      Always '") + a.name() + "'.\n";
  if (a.kind() != Kind::Source)
    out += "  inputs  (list<string>)  required\n      The components this one reads from.\n";
  keys_text(a.schema().keys, "  ", out);
  out += "\nExample:\n";
  std::string ex = a.example();
  std::string indented;
  std::size_t start = 0;
  while (start < ex.size()) {
    std::size_t nl = ex.find('\n', start);
    if (nl == std::string::npos) nl = ex.size();
    indented += "  " + ex.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  out += indented;
  out += data_text(a);
  return out;
}

nlohmann::json describe_json(const PluginRecord& p) {
  const PluginApi& a = *p.api;
  nlohmann::json j;
  j["name"] = a.name();
  j["kind"] = kind_name(a.kind());
  j["version"] = a.version();
  j["description"] = a.description();
  j["example"] = a.example();
  j["keys"] = keys_json(a.schema().keys);
  j["data"] = data_json(a);
  j["counters"] = counters_json(a);
  return j;
}

std::string list_text(const PluginRegistry& r) {
  std::string out;
  for (const auto& p : r.plugins()) {
    char line[512];
    std::snprintf(line, sizeof line, "%-22s %-10s %-8s %s\n", p.name.c_str(), kind_name(p.api->kind()),
                  p.api->version(), p.api->description());
    out += line;
  }
  for (const auto& rej : r.rejected()) out += "refused: " + rej.reason + "\n";
  return out;
}

}  // namespace cxflow::host
