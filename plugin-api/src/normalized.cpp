#include "cxflow/normalized.hpp"

#include <algorithm>

#include "cxflow/config.hpp"

namespace cxflow::normalized {

const std::vector<Field>& fields() {
  static const std::vector<Field> v = {
      {"eventType", FieldType::String},
      {"timestamp", FieldType::Any},
      {"interactionId", FieldType::String},
      {"agentId", FieldType::String},
      {"metadata.queue", FieldType::String},
      {"metadata.skill", FieldType::String},
      {"metadata.team", FieldType::String},
      {"metadata.mediaType", FieldType::String},
      {"metrics.state", FieldType::String},
      {"metrics.reason", FieldType::String},
      {"metrics.waitTime", FieldType::Number},
      {"metrics.handleTime", FieldType::Number},
      {"metrics.queueLength", FieldType::Number},
      {"metrics.agentsAvailable", FieldType::Number},
      {"metrics.agentsLoggedIn", FieldType::Number},
      {"metrics.contactsActive", FieldType::Number},
      {"metrics.longestWait", FieldType::Number},
      {"metrics.serviceLevel", FieldType::Number},
  };
  return v;
}

void declare_fields(Setup& setup) {
  for (const auto& f : fields()) setup.produces(f.name, f.type);
}

const std::vector<std::string>& event_types() {
  static const std::vector<std::string> v = {"interaction", "agent", "queue"};
  return v;
}

const std::vector<std::string>& states() {
  static const std::vector<std::string> v = {"queued", "active",    "hold", "wrapup",      "ended",     "abandoned",
                                             "idle",   "available", "busy", "unavailable", "logged_out"};
  return v;
}

std::string check_values(const std::string& key, const std::vector<std::string>& values,
                         const std::vector<std::string>& allowed) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::find(allowed.begin(), allowed.end(), values[i]) != allowed.end()) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "'" + key + "[" + std::to_string(i) + "]': " + quote_value(values[i]) + " is not one of [" + list + "]" +
           did_you_mean(values[i], allowed);
  }
  return "";
}

}  // namespace cxflow::normalized
