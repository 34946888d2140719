#define BOOST_DLL_USE_STD_FS
#include "plugin_registry.hpp"

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <memory>
#include <cstdlib>
#include <set>

namespace cxflow::host {

namespace fs = std::filesystem;

std::vector<fs::path> PluginRegistry::search_path(const std::vector<std::string>& cli_dirs, const fs::path& executable) {
  std::vector<fs::path> dirs;
  for (const auto& d : cli_dirs) dirs.emplace_back(d);
  if (const char* env = std::getenv("CXFLOW_PLUGIN_PATH")) {
    std::string s(env);
    std::size_t start = 0;
    while (start <= s.size()) {
      const std::size_t colon = s.find(':', start);
      const std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty()) dirs.emplace_back(part);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  std::error_code ec;
  fs::path exe = fs::weakly_canonical(executable, ec);
  if (ec) exe = executable;
  dirs.push_back((exe.parent_path() / ".." / "lib" / "cxflow" / "plugins").lexically_normal());
  return dirs;
}

bool PluginRegistry::load(const fs::path& so) {
  using cxflow_entry_fn = const cxflow_plugin_descriptor*() noexcept;
  // Never unloaded: Asio handlers, coroutine frames and thread-local destructors of a plugin may
  // outlive its components. Kept reachable for the life of the process (so leak checkers agree).
  static auto* loaded = new std::vector<std::unique_ptr<boost::dll::shared_library>>();
  auto* lib = loaded->emplace_back(std::make_unique<boost::dll::shared_library>()).get();
  std::error_code ec;
  lib->load(so, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    warnings_.push_back(so.string() + ": skipped, cannot be loaded: " + ec.message());
    return false;
  }
  if (!lib->has(CXFLOW_PLUGIN_ENTRY_SYMBOL)) {
    warnings_.push_back(so.string() + ": skipped, not a cxflow plugin (no " CXFLOW_PLUGIN_ENTRY_SYMBOL " symbol)");
    return false;
  }
  const cxflow_plugin_descriptor* d = lib->get<cxflow_entry_fn>(CXFLOW_PLUGIN_ENTRY_SYMBOL)();
  if (d == nullptr || d->magic != CXFLOW_PLUGIN_MAGIC) {
    warnings_.push_back(so.string() + ": skipped, not a cxflow plugin (bad descriptor)");
    return false;
  }
  const std::string name = d->name ? d->name : so.stem().string();
  if (d->abi_version != kAbiVersion) {
    rejected_.push_back(RejectedPlugin{name, so,
                                       "plugin '" + name + "' at " + so.string() + " was built for ABI version " +
                                           std::to_string(d->abi_version) + ", but this cxflow expects ABI version " +
                                           std::to_string(kAbiVersion) + "; rebuild the plugin against this cxflow"});
    return false;
  }
  const std::string key = d->build_key ? d->build_key : "";
  if (key != kBuildKey) {
    rejected_.push_back(RejectedPlugin{name, so,
                                       "plugin '" + name + "' at " + so.string() + " has build key '" + key +
                                           "', but this cxflow expects build key '" + kBuildKey +
                                           "'; rebuild the plugin with the same compiler, standard library, Boost "
                                           "and sanitizer settings"});
    return false;
  }
  if (find(name) != nullptr) {
    warnings_.push_back(so.string() + ": plugin '" + name + "' ignored, already loaded from " + find(name)->path.string());
    return false;
  }
  plugins_.push_back(PluginRecord{name, so, static_cast<const PluginApi*>(d->api)});
  return true;
}

void PluginRegistry::scan() {
  for (const auto& dir : dirs_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load(f);
  }
}

const PluginRecord* PluginRegistry::find(const std::string& name) const {
  for (const auto& p : plugins_)
    if (p.name == name) return &p;
  return nullptr;
}

const RejectedPlugin* PluginRegistry::find_rejected(const std::string& name) const {
  for (const auto& p : rejected_)
    if (p.name == name) return &p;
  return nullptr;
}

std::string PluginRegistry::not_found_message(const std::string& name) const {
  if (const auto* r = find_rejected(name)) return r->reason;
  std::vector<std::string> names;
  for (const auto& p : plugins_) names.push_back(p.name);
  std::string msg = "plugin " + quote_value(name) + " not found" + did_you_mean(name, names);
  msg += " (searched: ";
  for (std::size_t i = 0; i < dirs_.size(); ++i) msg += (i ? ", " : "") + dirs_[i].string();
  msg += "; add a folder with --plugin-dir or CXFLOW_PLUGIN_PATH)";
  return msg;
}

}  // namespace cxflow::host
