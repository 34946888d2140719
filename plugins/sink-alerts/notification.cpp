// Rendering notifications: log line, JSON body, templates.
#include <cstdio>

#include <nlohmann/json.hpp>

#include <cxflow/time.hpp>

#include "sink-alerts.hpp"

namespace cxflow::alerts {

const char* level_name(Level l) {
  switch (l) {
    case Level::Ok:
      return "ok";
    case Level::Warning:
      return "warning";
    case Level::Critical:
      return "critical";
  }
  return "ok";
}

const char* change_name(Change c) {
  switch (c) {
    case Change::Firing:
      return "firing";
    case Change::Escalated:
      return "escalated";
    case Change::Deescalated:
      return "deescalated";
    case Change::Repeat:
      return "repeat";
    case Change::Resolved:
      return "resolved";
  }
  return "firing";
}

namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

nlohmann::json as_json(const Notification& n) {
  nlohmann::json group = nlohmann::json::object();
  for (const auto& [k, v] : n.group_fields) group[k] = v;
  nlohmann::json j = {
      {"state", change_name(n.change)},
      {"rule", n.rule},
      {"metric", n.metric},
      {"direction", n.direction},
      {"group", n.group},
      {"group_fields", group},
      {"severity", level_name(n.severity)},
      {"previous_severity", level_name(n.previous)},
      {"value", n.value},
      {"threshold", n.threshold},
      {"window_start", format_iso8601_ms(n.window_start_ms)},
      {"window_end", format_iso8601_ms(n.window_end_ms)},
      {"timestamp", format_iso8601_ms(n.window_end_ms)},
      {"since", format_iso8601_ms(n.since_ms)},
      {"no_data", n.no_data},
      {"message", n.message},
  };
  return j;
}

}  // namespace

std::string log_line(const Notification& n) {
  std::string s = "alert state=";
  s += change_name(n.change);
  s += " rule=" + n.rule + " group=" + quote(n.group) + " severity=" + level_name(n.severity) +
       " value=" + number(n.value) + " threshold=" + number(n.threshold) +
       " window=" + format_iso8601_ms(n.window_start_ms) + "/" + format_iso8601_ms(n.window_end_ms) +
       " message=" + quote(n.message);
  return s;
}

std::string to_json(const Notification& n) { return as_json(n).dump(); }

std::string check_template(const std::string& tmpl) {
  static const char* const known[] = {"json",         "state",     "rule",
                                      "metric",       "direction", "group",
                                      "group_fields", "severity",  "previous_severity",
                                      "value",        "threshold", "window_start",
                                      "window_end",   "timestamp", "since",
                                      "no_data",      "message"};
  std::size_t i = 0;
  while ((i = tmpl.find("{{", i)) != std::string::npos) {
    const auto close = tmpl.find("}}", i + 2);
    if (close == std::string::npos) return "'{{' at offset " + std::to_string(i) + " is not closed with '}}'";
    std::string name = tmpl.substr(i + 2, close - i - 2);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    bool ok = name.rfind("group.", 0) == 0 && name.size() > 6;
    for (const char* k : known) ok = ok || name == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      return "unknown placeholder {{" + name + "}}; known: " + list + ", group.<field>";
    }
    i = close + 2;
  }
  return "";
}

std::string render_template(const std::string& tmpl, const Notification& n) {
  const nlohmann::json j = as_json(n);
  auto lookup = [&](const std::string& name) -> std::string {
    if (name == "json") return j.dump();
    if (name.rfind("group.", 0) == 0) {
      for (const auto& [k, v] : n.group_fields)
        if (k == name.substr(6)) {
          std::string q = nlohmann::json(v).dump();
          return q.substr(1, q.size() - 2);
        }
      return "";
    }
    auto it = j.find(name);
    if (it == j.end()) return "{{" + name + "}}";
    if (it->is_string()) {
      std::string q = it->dump();  // JSON-escaped, strip the quotes: the template supplies them
      return q.substr(1, q.size() - 2);
    }
    if (it->is_number_float()) return number(it->get<double>());
    return it->dump();
  };
  std::string out;
  out.reserve(tmpl.size() + 128);
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const auto open = tmpl.find("{{", i);
    if (open == std::string::npos) {
      out.append(tmpl, i, std::string::npos);
      break;
    }
    const auto close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) {
      out.append(tmpl, i, std::string::npos);
      break;
    }
    out.append(tmpl, i, open - i);
    std::string name = tmpl.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    out += lookup(name);
    i = close + 2;
  }
  return out;
}

}  // namespace cxflow::alerts
