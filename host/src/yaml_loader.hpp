// YAML text -> cxflow::ConfigNode, with positions and ${VAR} expansion inside scalars.
#pragma once

#include <cstddef>
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

// What a pipeline file may make cxflow do (docs/pipeline.md, "Limits"). Real pipelines are a few
// KiB, a few hundred values and about six levels deep; the limits are far above that and far
// below what hurts (a 574-byte alias bomb expanded to 4 GB; 20,000 nested '[' or '(').
inline constexpr std::size_t kMaxPipelineFileBytes = 4u << 20;  // the file, before parsing
inline constexpr std::size_t kMaxConfigValues = 100'000;        // values after YAML aliases are expanded
inline constexpr std::size_t kMaxConfigTextBytes = 16u << 20;   // scalar text after aliases and ${VAR}
inline constexpr std::size_t kMaxConfigDepth = 64;              // nesting of maps and lists

// Parses YAML `text` (named `file` in messages). Syntax errors and expansion errors are appended
// to `errors`; the returned tree holds what could be read. A document past one of the limits
// above is an error (and an empty tree); so is a tab in the indentation that broke the parse.
ConfigNode parse_yaml(const std::string& text, const std::string& file, const EnvLookup& env,
                      std::vector<ConfigError>& errors);
// Reads and parses a file; a missing, unreadable or oversized file, or a directory, is an error
// naming it.
ConfigNode load_yaml_file(const std::string& path, const EnvLookup& env, std::vector<ConfigError>& errors);

}  // namespace cxflow::host
