// Finding and loading plugin shared objects.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cxflow/plugin.hpp"

namespace cxflow::host {

struct PluginRecord {
  std::string name;
  std::filesystem::path path;
  const PluginApi* api = nullptr;
};

// A .so that is a cxflow plugin but cannot be used (ABI version or build key mismatch).
struct RejectedPlugin {
  std::string name;  // from the descriptor, which every version can read
  std::filesystem::path path;
  std::string reason;
};

class PluginRegistry {
 public:
  // The search path: --plugin-dir values, then CXFLOW_PLUGIN_PATH (':'-separated), then
  // ../lib/cxflow/plugins relative to the executable (build tree and install tree alike).
  static std::vector<std::filesystem::path> search_path(const std::vector<std::string>& cli_dirs,
                                                        const std::filesystem::path& executable);

  explicit PluginRegistry(std::vector<std::filesystem::path> dirs) : dirs_(std::move(dirs)) {}

  // Loads every *.so in the search path. Libraries are never unloaded (Asio handlers and
  // thread-local destructors may outlive a component). Non-plugins are noted as warnings.
  void scan();

  const PluginRecord* find(const std::string& name) const;
  const RejectedPlugin* find_rejected(const std::string& name) const;
  const std::vector<PluginRecord>& plugins() const noexcept { return plugins_; }
  const std::vector<RejectedPlugin>& rejected() const noexcept { return rejected_; }
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  const std::vector<std::filesystem::path>& dirs() const noexcept { return dirs_; }
  // "plugin 'x' not found; searched: a, b (did you mean 'y'?)" or the rejection reason.
  std::string not_found_message(const std::string& name) const;

  // Loads one library; returns false (with a warning or rejection recorded) if unusable.
  bool load(const std::filesystem::path& so);

 private:
  std::vector<std::filesystem::path> dirs_;
  std::vector<PluginRecord> plugins_;
  std::vector<RejectedPlugin> rejected_;
  std::vector<std::string> warnings_;
};

}  // namespace cxflow::host
