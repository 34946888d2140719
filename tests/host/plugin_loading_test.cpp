// How the host loads plugin libraries, through the real binary: a library that crashes or cannot
// be loaded is named and cannot take other commands down; commands that run a pipeline load only
// the plugins it names; folders others can write are refused; a built-in is replaced only when
// the user says so.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "process.hpp"

using namespace cxflow::test;
namespace fs = std::filesystem;

namespace {

const std::string kGoodDir = CXFLOW_TEST_PLUGIN_DIR;
const std::string kCrashDir = CXFLOW_CRASH_PLUGIN_DIR;
const std::string kUndefinedDir = CXFLOW_UNDEFINED_PLUGIN_DIR;
const std::string kShadowDir = CXFLOW_SHADOW_PLUGIN_DIR;

ProcessResult cli(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), cxflow_bin());
  return run_process(args, env);
}

const char* kGood = R"(sources:
  nums: {plugin: test-source, count: 10}
sinks:
  out: {plugin: test-sink, inputs: [nums], path: /dev/null}
)";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A folder of its own holding a copy of test-source.so and test-sink.so, with the given modes.
fs::path plugin_copy(const TempDir& dir, mode_t dir_mode, mode_t file_mode) {
  const fs::path d = dir / "plugins";
  fs::create_directory(d);
  for (const char* p : {"test-source.so", "test-sink.so"}) {
    fs::copy_file(fs::path(kGoodDir) / p, d / p);
    chmod((d / p).c_str(), file_mode);
  }
  chmod(d.c_str(), dir_mode);
  return d;
}

}  // namespace

TEST(PluginLoading, LibraryCrashingInItsInitializerDoesNotBrickOtherCommands) {
  TempDir dir;
  const auto pipeline = dir.write("p.yaml", kGood);
  // Listing loads every library, each first in a child process: the crash is named, the rest listed.
  auto list = cli({"plugins", "--plugin-dir", kCrashDir, "--plugin-dir", kGoodDir});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(has(list.err, kCrashDir + "/crash-on-load.so: skipped, crashed while loading (Segmentation fault)"))
      << list.err;
  EXPECT_TRUE(has(list.out, "test-sink")) << list.out;
  auto all = cli({"plugins", "describe", "--all", "--plugin-dir", kCrashDir, "--plugin-dir", kGoodDir});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  // validate and run load only what the pipeline names: the crashing library is never touched.
  for (const char* cmd : {"validate", "run"}) {
    auto r = cli({cmd, pipeline.string(), "--no-status", "--plugin-dir", kCrashDir, "--plugin-dir", kGoodDir});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_FALSE(has(r.err, "crash-on-load")) << cmd << ": " << r.err;
  }
}

TEST(PluginLoading, LibraryThatCannotBeLoadedReportsTheLoadersOwnError) {
  auto list = cli({"plugins", "--plugin-dir", kUndefinedDir, "--plugin-dir", kGoodDir});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(has(list.err, "undefined-symbol.so: cannot be loaded: "));
  EXPECT_TRUE(has(list.err, "undefined symbol: cxflow_test_symbol_nobody_defines")) << list.err;
  EXPECT_FALSE(has(list.err, "Bad file descriptor")) << list.err;

  TempDir dir;
  const auto pipeline = dir.write("p.yaml", R"(sources:
  nums: {plugin: test-source}
sinks:
  out: {plugin: undefined-symbol, inputs: [nums]}
)");
  auto r = cli({"validate", pipeline.string(), "--plugin-dir", kUndefinedDir, "--plugin-dir", kGoodDir});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_TRUE(has(r.err, "p.yaml:4:17: 'sinks.out.plugin': plugin 'undefined-symbol': " + kUndefinedDir +
                             "/undefined-symbol.so: cannot be loaded: "))
      << r.err;
  EXPECT_TRUE(has(r.err, "undefined symbol: cxflow_test_symbol_nobody_defines")) << r.err;
}

TEST(PluginLoading, FolderWritableByOthersIsRefusedUnlessAllowed) {
  TempDir dir;
  const auto pipeline = dir.write("p.yaml", kGood);
  const fs::path d = plugin_copy(dir, 0777, 0755);
  auto r = cli({"validate", pipeline.string(), "--plugin-dir", d.string()});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_TRUE(has(r.err, "refused: the folder " + d.string() + " is writable by others than its owner (mode 0777)"))
      << r.err;
  EXPECT_TRUE(has(r.err, "chmod go-w " + d.string())) << r.err;
  auto allowed = cli({"validate", pipeline.string(), "--plugin-dir", d.string()}, {"CXFLOW_ALLOW_INSECURE_PLUGINS=1"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  auto flag = cli({"validate", pipeline.string(), "--plugin-dir", d.string(), "--allow-insecure-plugins"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
}

TEST(PluginLoading, FileWritableByOthersIsRefused) {
  TempDir dir;
  const auto pipeline = dir.write("p.yaml", kGood);
  const fs::path d = plugin_copy(dir, 0755, 0666);
  auto r = cli({"validate", pipeline.string(), "--plugin-dir", d.string()});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_TRUE(has(r.err, "refused: the file " + (d / "test-source.so").string() +
                             " is writable by others than its owner (mode 0666)"))
      << r.err;
  auto list = cli({"plugins", "--plugin-dir", d.string()});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_TRUE(has(list.err, "test-sink.so is writable by others")) << list.err;
  EXPECT_FALSE(has(list.out, "test-sink ")) << list.out;
}

TEST(PluginLoading, PluginNamedLikeABuiltinReplacesItOnlyWhenAsked) {
  auto r = cli({"plugins", "describe", "sink-sqlite", "--plugin-dir", kShadowDir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(has(r.out, "host tests only")) << r.out;  // the built-in's description
  EXPECT_TRUE(has(r.err, kShadowDir + "/sink-sqlite.so: ignored")) << r.err;
  EXPECT_TRUE(has(r.err, "--override-plugin sink-sqlite")) << r.err;
  auto over =
      cli({"plugins", "describe", "sink-sqlite", "--plugin-dir", kShadowDir, "--override-plugin", "sink-sqlite"});
  EXPECT_EQ(over.exit_code, 0) << over.err;
  EXPECT_TRUE(has(over.out, "host tests only")) << over.out;
  // The listing takes the built-in too.
  auto list = cli({"plugins", "--plugin-dir", kShadowDir});
  EXPECT_TRUE(has(list.err, kShadowDir + "/sink-sqlite.so: ignored")) << list.err;
}

TEST(PluginLoading, FileNamedOtherThanItsPluginIsNamedInTheError) {
  TempDir dir;
  const fs::path d = dir / "plugins";
  fs::create_directory(d);
  fs::copy_file(fs::path(kGoodDir) / "test-sink.so", d / "other-sink.so");
  const auto pipeline = dir.write("p.yaml", R"(sources:
  nums: {plugin: test-source}
sinks:
  out: {plugin: other-sink, inputs: [nums], path: /dev/null}
)");
  auto r = cli({"validate", pipeline.string(), "--plugin-dir", d.string(), "--plugin-dir", kGoodDir});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_TRUE(has(r.err, (d / "other-sink.so").string() + " holds plugin 'test-sink', not 'other-sink'")) << r.err;
}
