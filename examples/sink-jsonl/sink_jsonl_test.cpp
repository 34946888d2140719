// Tests for sink-jsonl, through the cxflow plugin harness: the real .so, loaded and configured
// the way the host does it.
#include <cxflow/testing.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

using cxflow::testing::Harness;

namespace {
std::string read(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("sink-jsonl-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}
}  // namespace

TEST(SinkJsonl, WritesSelectedFieldsAsJsonLines) {
  const std::string path = temp_path("a.jsonl");
  std::filesystem::remove(path);
  auto h = Harness::load("sink-jsonl", "path: " + path + "\nfields: [interactionId, metrics.waitTime]\n");
  h.start();
  h.push({h.event(0).set("interactionId", "c-1").set("metrics.waitTime", 12.5),
          h.event(1000).set("interactionId", "say \"hi\"")});
  h.end_of_stream();
  h.stop();
  EXPECT_EQ(read(path),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"interactionId\":\"c-1\",\"metrics.waitTime\":12.5}\n"
            "{\"time\":\"1970-01-01T00:00:01.000Z\",\"interactionId\":\"say \\\"hi\\\"\",\"metrics.waitTime\":null}\n");
  EXPECT_EQ(h.counter("rows_written"), 2u);
}

TEST(SinkJsonl, RotatesBySize) {
  const std::string path = temp_path("r.jsonl");
  for (const auto& p : {path, path + ".1", path + ".2"}) std::filesystem::remove(p);
  auto h = Harness::load("sink-jsonl", "path: " + path + "\nfields: [interactionId]\nrotate_size: 100\nkeep: 1\n");
  h.start();
  for (int i = 0; i < 10; ++i) h.push({h.event(i).set("interactionId", "c-" + std::to_string(i))});
  h.stop();
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_FALSE(std::filesystem::exists(path + ".2"));
  EXPECT_GE(h.counter("rotations"), 2u);
}

TEST(SinkJsonl, ConfigErrorsNameTheKey) {
  auto errors = Harness::config_errors("sink-jsonl", "rotate_size: huge\n");
  ASSERT_EQ(errors.size(), 2u);
  const std::string all = errors[0].str() + "\n" + errors[1].str();
  EXPECT_NE(all.find("<test>:1:14: 'rotate_size': expected a size"), std::string::npos) << all;
  EXPECT_NE(all.find("'path': missing required key 'path'"), std::string::npos) << all;
}
