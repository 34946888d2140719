// `cxflow plugins` and `cxflow plugins describe`: text for people, JSON for tools.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "plugin_registry.hpp"

namespace cxflow::host {

std::string describe_text(const PluginRecord& plugin);
nlohmann::json describe_json(const PluginRecord& plugin);
std::string list_text(const PluginRegistry& registry);

}  // namespace cxflow::host
