#include "plugin_registry.hpp"

#include <dlfcn.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <set>

namespace cxflow::host {

namespace fs = std::filesystem;

namespace {

using cxflow_entry_fn = const cxflow_plugin_descriptor*() noexcept;

constexpr int kProbeTimeoutMs = 10'000;

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::vector<fs::path> so_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Loads `so` in a child process: what its static initializers and entry point do cannot reach
// this one. Returns "" when the child loaded it and called the entry point, else what happened.
std::string probe_in_child(const fs::path& so) {
  int fds[2];
  if (pipe(fds) != 0) return "";  // cannot isolate: load in-process as before
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return "";
  }
  if (pid == 0) {
    close(fds[0]);
    char ok = 'x';
    if (void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      ok = 'n';
      if (auto* entry = reinterpret_cast<cxflow_entry_fn*>(dlsym(h, CXFLOW_PLUGIN_ENTRY_SYMBOL))) {
        entry();
        ok = 'y';
      }
    }
    (void)!write(fds[1], &ok, 1);
    _exit(0);  // no static destructors of anything the child loaded
  }
  close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  int n;
  do n = poll(&p, 1, kProbeTimeoutMs);
  while (n < 0 && errno == EINTR);
  char answer = 0;
  const bool answered = n > 0 && read(fds[0], &answer, 1) == 1;
  close(fds[0]);
  if (!answered) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status) && !(n == 0 && WTERMSIG(status) == SIGKILL))
    return std::string("crashed while loading (") + strsignal(WTERMSIG(status)) +
           ") in its static initializers or entry point";
  if (n == 0) return "hung while loading (no answer after " + std::to_string(kProbeTimeoutMs / 1000) + " s)";
  return "";
}

}  // namespace

std::vector<fs::path> PluginRegistry::search_path(const std::vector<std::string>& cli_dirs,
                                                  const fs::path& executable) {
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

PluginRegistry::PluginRegistry(std::vector<fs::path> dirs, RegistryOptions options)
    : dirs_(std::move(dirs)), options_(std::move(options)) {
  if (const char* v = std::getenv("CXFLOW_ALLOW_INSECURE_PLUGINS"); v && std::string(v) == "1")
    options_.allow_insecure = true;
}

bool PluginRegistry::is_builtin(const fs::path& so) const { return !dirs_.empty() && so.parent_path() == dirs_.back(); }

std::string PluginRegistry::insecure_reason(const fs::path& so) const {
  if (options_.allow_insecure) return "";
  for (const fs::path& p : {so.parent_path(), so}) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0) return "";  // the loader reports what is missing
    const std::string kind = p == so ? "file" : "folder";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      return "refused: the " + kind + " " + p.string() + " is writable by others than its owner (mode " +
             mode_text(st.st_mode) + "); loading a plugin runs its code. Run 'chmod go-w " + p.string() +
             "', or set CXFLOW_ALLOW_INSECURE_PLUGINS=1 to load it anyway";
    if (st.st_uid != 0 && st.st_uid != geteuid())
      return "refused: the " + kind + " " + p.string() + " belongs to user id " + std::to_string(st.st_uid) +
             ", neither root nor the user running cxflow; loading a plugin runs its code. Set "
             "CXFLOW_ALLOW_INSECURE_PLUGINS=1 to load it anyway";
  }
  return "";
}

bool PluginRegistry::skip(const fs::path& so, const std::string& why) {
  const std::string text = so.string() + ": " + why;
  warnings_.push_back(text);
  failures_.emplace(so.stem().string(), text);
  return false;
}

bool PluginRegistry::load(const fs::path& so, bool isolated) {
  if (std::string why = insecure_reason(so); !why.empty()) return skip(so, why);
  if (isolated)
    if (std::string why = probe_in_child(so); !why.empty()) return skip(so, "skipped, " + why);
  // Never unloaded (RTLD_NODELETE, and the handle is kept): Asio handlers, coroutine frames and
  // thread-local destructors of a plugin may outlive its components.
  void* handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* err = dlerror();
    std::string detail = err ? err : "unknown loader error";
    // The loader's text starts with the path it was given; say it once.
    if (const std::string prefix = so.string() + ": "; detail.rfind(prefix, 0) == 0) detail.erase(0, prefix.size());
    return skip(so, "cannot be loaded: " + detail);
  }
  auto* entry = reinterpret_cast<cxflow_entry_fn*>(dlsym(handle, CXFLOW_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) return skip(so, "skipped, not a cxflow plugin (no " CXFLOW_PLUGIN_ENTRY_SYMBOL " symbol)");
  const cxflow_plugin_descriptor* d = entry();
  if (d == nullptr || d->magic != CXFLOW_PLUGIN_MAGIC) return skip(so, "skipped, not a cxflow plugin (bad descriptor)");
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
  if (const auto* other = find(name)) {
    warnings_.push_back(so.string() + ": plugin '" + name + "' ignored, already loaded from " + other->path.string());
    return false;
  }
  plugins_.push_back(PluginRecord{name, so, static_cast<const PluginApi*>(d->api)});
  return true;
}

std::vector<fs::path> PluginRegistry::files_for(const std::string& stem) const {
  std::vector<fs::path> files;
  std::set<fs::path> seen;
  for (const auto& dir : dirs_) {
    fs::path f = dir / (stem + ".so");
    std::error_code ec;
    if (fs::exists(f, ec) && seen.insert(fs::weakly_canonical(f, ec)).second) files.push_back(f);
  }
  // The built-in folder (last on the path) wins unless the user asked for the override.
  if (files.size() > 1 && is_builtin(files.back()) && !options_.overrides.count(stem))
    std::rotate(files.begin(), files.end() - 1, files.end());
  return files;
}

void PluginRegistry::note_ignored(const std::vector<fs::path>& files) {
  for (std::size_t i = 1; i < files.size(); ++i)
    warnings_.push_back(files[i].string() + ": ignored, plugin file " + files[i].filename().string() +
                        " is taken from " + files[0].string() +
                        (is_builtin(files[0]) ? " (built-in); pass --override-plugin " + files[i].stem().string() +
                                                    " to use this one instead"
                                              : std::string(", which comes first on the plugin path")));
}

const PluginRecord* PluginRegistry::require(const std::string& name) {
  if (const auto* p = find(name)) return p;
  if (failures_.count(name) || find_rejected(name)) return nullptr;
  const std::vector<fs::path> files = files_for(name);
  if (files.empty()) return nullptr;
  note_ignored(files);
  if (!load(files.front())) return nullptr;
  const PluginRecord& loaded = plugins_.back();
  if (loaded.name != name) {
    failures_.emplace(name, files.front().string() + " holds plugin '" + loaded.name + "', not '" + name +
                                "'; a plugin's file must be named after the plugin (" + loaded.name + ".so)");
    return nullptr;
  }
  return &loaded;
}

void PluginRegistry::scan(bool isolated) {
  std::set<std::string> stems;
  for (const auto& dir : dirs_)
    for (const auto& f : so_files(dir)) stems.insert(f.stem().string());
  for (const auto& stem : stems) {
    const std::vector<fs::path> files = files_for(stem);
    note_ignored(files);
    load(files.front(), isolated);
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
  if (auto it = failures_.find(name); it != failures_.end()) return "plugin " + quote_value(name) + ": " + it->second;
  std::vector<std::string> names;
  for (const auto& p : plugins_) names.push_back(p.name);
  for (const auto& dir : dirs_)
    for (const auto& f : so_files(dir)) names.push_back(f.stem().string());
  std::string msg = "plugin " + quote_value(name) + " not found" + did_you_mean(name, names);
  msg += name.size() <= kQuoteMaxChars ? " (searched for " + name + ".so in: " : std::string(" (searched in: ");
  for (std::size_t i = 0; i < dirs_.size(); ++i) msg += (i ? ", " : "") + dirs_[i].string();
  msg += "; add a folder with --plugin-dir or CXFLOW_PLUGIN_PATH)";
  return msg;
}

}  // namespace cxflow::host
