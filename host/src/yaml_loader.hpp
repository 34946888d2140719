// YAML text -> cxflow::ConfigNode, with positions and ${VAR} expansion inside scalars.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cxflow/config.hpp"

namespace cxflow::host {

// Looks up an environment variable; tests substitute their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

// Expands ${VAR}, ${VAR:-default} and ${VAR:?message} in `text`; "$$" is a literal '$'.
// Returns false and sets `error` when a variable is unset (without a default) or the syntax is
// wrong.
bool expand_env(const std::string& text, const EnvLookup& env, std::string& out, std::string& error);

// Parses YAML `text` (named `file` in messages). Syntax errors and expansion errors are appended
// to `errors`; the returned tree holds what could be read.
ConfigNode parse_yaml(const std::string& text, const std::string& file, const EnvLookup& env,
                      std::vector<ConfigError>& errors);
// Reads and parses a file; a missing or unreadable file is an error naming it.
ConfigNode load_yaml_file(const std::string& path, const EnvLookup& env, std::vector<ConfigError>& errors);

}  // namespace cxflow::host
