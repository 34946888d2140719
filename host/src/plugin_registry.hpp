// Finding and loading plugin shared objects.
//
// `run`, `validate` and `plugins describe NAME` load only the plugins they name, each from the
// file named after it (NAME.so), so a broken or foreign library on the path cannot affect them.
// `plugins` and `plugins describe --all` look at every *.so, each first loaded in a child
// process (as GStreamer's plugin scanner does), so a library that crashes or hangs in its static
// initializers is named and skipped instead of taking cxflow down.
//
// Before anything is loaded, the folder and the file must not be writable by anyone but their
// owner, and the owner must be root or the user running cxflow: loading a library runs its code.
// CXFLOW_ALLOW_INSECURE_PLUGINS=1 (or --allow-insecure-plugins) turns the check off.
//
// The built-in plugin folder (next to the executable) wins over a same-named plugin elsewhere on
// the path unless the user names it with --override-plugin NAME.
#pragma once

#include <filesystem>
#include <deque>
#include <map>
#include <set>
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

struct RegistryOptions {
  std::set<std::string> overrides;  // plugin names a user plugin may take from the built-in folder
  bool allow_insecure = false;      // load from folders and files others can write
};

class PluginRegistry {
 public:
  // The search path: --plugin-dir values, then CXFLOW_PLUGIN_PATH (':'-separated), then
  // ../lib/cxflow/plugins relative to the executable (build tree and install tree alike). The
  // last entry is the built-in folder.
  static std::vector<std::filesystem::path> search_path(const std::vector<std::string>& cli_dirs,
                                                        const std::filesystem::path& executable);

  // `dirs.back()` is the built-in folder. CXFLOW_ALLOW_INSECURE_PLUGINS=1 in the environment
  // sets options.allow_insecure.
  explicit PluginRegistry(std::vector<std::filesystem::path> dirs, RegistryOptions options = {});

  // Loads the plugin NAME from NAME.so on the search path (at most once). Returns nullptr when it
  // is missing or unusable; not_found_message() then says why.
  const PluginRecord* require(const std::string& name);
  // Loads every *.so on the search path. With `isolated`, each is first loaded in a child
  // process, and one that crashes or hangs there is skipped with a warning.
  void scan(bool isolated = true);

  const PluginRecord* find(const std::string& name) const;
  const RejectedPlugin* find_rejected(const std::string& name) const;
  const std::deque<PluginRecord>& plugins() const noexcept { return plugins_; }
  const std::vector<RejectedPlugin>& rejected() const noexcept { return rejected_; }
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  const std::vector<std::filesystem::path>& dirs() const noexcept { return dirs_; }
  // "plugin 'x' not found; searched: a, b (did you mean 'y'?)", the loader's error, or the
  // rejection reason.
  std::string not_found_message(const std::string& name) const;

  // Loads one library (with `isolated`, after loading it in a child process first); returns false
  // (with a warning, rejection or failure recorded) if unusable.
  bool load(const std::filesystem::path& so, bool isolated = false);

 private:
  // Records why `so` was not loaded (a warning, and what not_found_message() says); false.
  bool skip(const std::filesystem::path& so, const std::string& why);
  // Why `so` (and its folder) may not be loaded, or "".
  std::string insecure_reason(const std::filesystem::path& so) const;
  bool is_builtin(const std::filesystem::path& so) const;
  // The files named STEM.so on the path, the one to load first (built-in folder first unless
  // overridden, else path order), then the ignored ones.
  std::vector<std::filesystem::path> files_for(const std::string& stem) const;
  void note_ignored(const std::vector<std::filesystem::path>& files);

  std::vector<std::filesystem::path> dirs_;
  RegistryOptions options_;
  std::deque<PluginRecord> plugins_;  // a deque: records handed out stay where they are
  std::vector<RejectedPlugin> rejected_;
  std::vector<std::string> warnings_;
  std::map<std::string, std::string> failures_;  // plugin name -> why it could not be loaded
};

}  // namespace cxflow::host
