// Every plugin in the build's plugin folder: loads, describes itself completely, configures from
// its own example, starts, runs a little, stops and is destroyed without error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "plugin_registry.hpp"
#include "process.hpp"
#include "testing/harness.hpp"

using cxflow::testing::Harness;

namespace {

std::vector<std::string> plugin_names() {
  cxflow::host::PluginRegistry reg({Harness::plugin_dir()});
  reg.scan(/*isolated=*/false);
  std::vector<std::string> names;
  for (const auto& p : reg.plugins()) names.push_back(p.name);
  return names;
}

void describe_is_complete(const std::vector<cxflow::KeyInfo>& keys, const std::string& plugin) {
  for (const auto& k : keys) {
    EXPECT_FALSE(k.description.empty()) << plugin << ": key '" << k.name << "' has no description";
    describe_is_complete(k.children, plugin + "." + k.name);
  }
}

class Conformance : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(Conformance, FindsTheShippedPlugins) {
  const auto names = plugin_names();
  for (const char* expected :
       {"source-simulator", "source-replay", "filter-interaction", "aggregate-window", "sink-sqlite"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST_P(Conformance, LoadsDescribesConfiguresStartsAndStops) {
  const std::string name = GetParam();
  const auto& api = Harness::api(name);
  EXPECT_STREQ(api.name(), name.c_str()) << "the .so's file name must be the plugin's name";
  EXPECT_GT(std::strlen(api.description()), 10u);
  EXPECT_GT(std::strlen(api.version()), 0u);
  describe_is_complete(api.schema().keys, name);

  // Run inside a fresh folder: examples may name relative output files.
  cxflow::test::TempDir dir;
  struct Cwd {
    std::filesystem::path saved = std::filesystem::current_path();
    explicit Cwd(const std::filesystem::path& to) { std::filesystem::current_path(to); }
    ~Cwd() { std::filesystem::current_path(saved); }
  } cwd(dir.path());
  {
    auto h = Harness::load(name, api.example());
    h.start();
    if (api.kind() == cxflow::Kind::Source) {
      h.run(1000, 60'000);  // at most a minute of (fake) time: network sources have nobody to talk to
    } else {
      h.end_of_stream();
    }
    h.stop();
    EXPECT_EQ(h.failure(), "");
  }
}

INSTANTIATE_TEST_SUITE_P(AllPlugins, Conformance, ::testing::ValuesIn(plugin_names()), [](const auto& info) {
  std::string n = info.param;
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});
