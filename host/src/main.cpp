// cxflow: the host executable.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#if defined(CXFLOW_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

#include "cxflow/version.hpp"
#include "describe.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "plugin_registry.hpp"
#include "runtime.hpp"

namespace {

using namespace cxflow;
using namespace cxflow::host;

// Which malloc this executable runs on (--version). With mimalloc the answer comes from the
// library itself, and whether it really replaced malloc: a call it cannot see (a malloc bound
// elsewhere) would not be in its heap.
std::string allocator_name() {
#if defined(CXFLOW_WITH_MIMALLOC)
  const int v = mi_version();
  void* p = std::malloc(64);
  const bool active = mi_is_in_heap_region(p);
  std::free(p);
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10) +
         (active ? "" : " (linked, but malloc is not routed to it)");
#else
  return "glibc malloc";
#endif
}

constexpr int kExitUsage = 64;
constexpr int kExitConfig = 65;

const char* kUsage = R"(usage:
  cxflow run PIPELINE.yaml         run a pipeline until its sources end or SIGINT/SIGTERM
  cxflow validate PIPELINE.yaml    check a pipeline (config, plugins, graph) without starting any I/O
  cxflow plugins [--json]          list the plugins found
  cxflow plugins describe NAME [--json]
  cxflow plugins describe --all [--json]
                                   every key of a plugin: type, default, description

options:
  --plugin-dir DIR     search DIR for plugins first (repeatable); then CXFLOW_PLUGIN_PATH,
                       then <prefix>/lib/cxflow/plugins next to the executable
  --override-plugin NAME
                       use a plugin NAME found on the path instead of the built-in one
                       (repeatable); without it a built-in plugin always wins
  --allow-insecure-plugins
                       load plugins from folders or files that others than their owner can
                       write (also CXFLOW_ALLOW_INSECURE_PLUGINS=1); refused by default
  --log-level LEVEL    debug | info | warn | error (default info)
  --no-status          no live status line, even on a terminal
  --version            print version, ABI version, build key and allocator
)";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> plugin_dirs;
  bool json = false;
  bool all = false;
  bool no_status = false;
  bool allow_insecure_plugins = false;
  std::vector<std::string> overrides;
  std::string log_level = "info";
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "cxflow: %s\n\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

std::filesystem::path self_exe(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(argv0) : p;
}

PluginRegistry make_registry(const Args& a, const char* argv0) {
  RegistryOptions opts;
  opts.overrides.insert(a.overrides.begin(), a.overrides.end());
  opts.allow_insecure = a.allow_insecure_plugins;
  return PluginRegistry(PluginRegistry::search_path(a.plugin_dirs, self_exe(argv0)), std::move(opts));
}

void log_registry_warnings(const PluginRegistry& reg) {
  for (const auto& w : reg.warnings()) log_line(LogLevel::Warn, "[host]", w);
}

void print_errors(const std::vector<ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "error: %s\n", e.str().c_str());
  std::fprintf(stderr, "%zu error%s; nothing was started\n", errors.size(), errors.size() == 1 ? "" : "s");
}

int cmd_validate(const Args& a, const char* argv0, bool and_run) {
  if (a.positional.size() != 2)
    return usage_error(std::string(and_run ? "run" : "validate") + " takes one pipeline file");
  const std::string& file = a.positional[1];
  PluginRegistry reg = make_registry(a, argv0);
  std::vector<ConfigError> errors;
  auto pipeline = load_pipeline(file, reg, errors);
  log_registry_warnings(reg);
  if (!pipeline) {
    print_errors(errors);
    return kExitConfig;
  }
  if (!and_run) {
    std::size_t s = 0, t = 0, k = 0;
    for (const auto& c : pipeline->components)
      (c.spec.kind == Kind::Source ? s : c.spec.kind == Kind::Transform ? t : k)++;
    std::printf("%s: ok (%zu sources, %zu transforms, %zu sinks, %zu fields)\n", file.c_str(), s, t, k,
                pipeline->fields.size());
    return 0;
  }
  RunOptions opts;
  opts.status_line = !a.no_status && isatty(STDERR_FILENO);
  log_line(LogLevel::Info, "[host]",
           "running " + file + " (" + std::to_string(pipeline->components.size()) + " components)");
  Runtime runtime(*pipeline, opts);
  return runtime.run();
}

int cmd_plugins(const Args& a, const char* argv0) {
  PluginRegistry reg = make_registry(a, argv0);
  // Listing looks at every library on the path, each first in a child process; describing one
  // plugin loads only that one.
  const bool one = a.positional.size() == 3 && a.positional[1] == "describe" && !a.all;
  if (one)
    reg.require(a.positional[2]);
  else
    reg.scan(/*isolated=*/true);
  log_registry_warnings(reg);
  if (a.positional.size() == 1) {
    if (a.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& p : reg.plugins()) {
        nlohmann::json j = describe_json(p);
        j.erase("keys");
        j.erase("example");
        j["path"] = p.path.string();
        arr.push_back(j);
      }
      std::cout << arr.dump(2) << "\n";
    } else {
      std::cout << list_text(reg);
      if (reg.plugins().empty()) {
        std::cout << "no plugins found; searched:";
        for (const auto& d : reg.dirs()) std::cout << " " << d.string();
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (a.positional[1] != "describe") return usage_error("unknown plugins subcommand '" + a.positional[1] + "'");
  std::vector<const PluginRecord*> chosen;
  if (a.all) {
    for (const auto& p : reg.plugins()) chosen.push_back(&p);
  } else {
    if (a.positional.size() != 3) return usage_error("plugins describe takes one plugin name (or --all)");
    const auto* p = reg.find(a.positional[2]);
    if (p == nullptr) {
      std::fprintf(stderr, "error: %s\n", reg.not_found_message(a.positional[2]).c_str());
      return kExitConfig;
    }
    chosen.push_back(p);
  }
  if (a.json) {
    if (a.all) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto* p : chosen) arr.push_back(describe_json(*p));
      std::cout << arr.dump(2) << "\n";
    } else {
      std::cout << describe_json(*chosen[0]).dump(2) << "\n";
    }
  } else {
    for (std::size_t i = 0; i < chosen.size(); ++i) std::cout << (i ? "\n" : "") << describe_text(*chosen[i]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(name) + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--version") {
        std::printf("cxflow %s\nABI version %u\nbuild key %s\nallocator %s\n", CXFLOW_VERSION_STRING, kAbiVersion,
                    kBuildKey, allocator_name().c_str());
        return 0;
      } else if (arg == "--plugin-dir") {
        a.plugin_dirs.push_back(value("--plugin-dir"));
      } else if (arg.rfind("--plugin-dir=", 0) == 0) {
        a.plugin_dirs.push_back(arg.substr(13));
      } else if (arg == "--override-plugin") {
        a.overrides.push_back(value("--override-plugin"));
      } else if (arg == "--allow-insecure-plugins") {
        a.allow_insecure_plugins = true;
      } else if (arg == "--json") {
        a.json = true;
      } else if (arg == "--all") {
        a.all = true;
      } else if (arg == "--no-status") {
        a.no_status = true;
      } else if (arg == "--log-level") {
        a.log_level = value("--log-level");
      } else if (arg.size() > 1 && arg[0] == '-') {
        return usage_error("unknown option '" + arg + "'");
      } else {
        a.positional.push_back(arg);
      }
    } catch (const std::invalid_argument& e) {
      return usage_error(e.what());
    }
  }
  if (a.log_level == "debug")
    set_log_level(LogLevel::Debug);
  else if (a.log_level == "info")
    set_log_level(LogLevel::Info);
  else if (a.log_level == "warn")
    set_log_level(LogLevel::Warn);
  else if (a.log_level == "error")
    set_log_level(LogLevel::Error);
  else
    return usage_error("--log-level must be debug, info, warn or error");

  if (a.positional.empty()) return usage_error("missing command");
  const std::string& cmd = a.positional[0];
  if (cmd == "run") return cmd_validate(a, argv[0], true);
  if (cmd == "validate") return cmd_validate(a, argv[0], false);
  if (cmd == "plugins") return cmd_plugins(a, argv[0]);
  return usage_error("unknown command '" + cmd + "'");
}
