// source-replay through the real cxflow binary (real .so plugins, a real SQLite file): lines
// that the JSON decoder used to let an exception escape from (issue 12: `{"metadata":{"queue":nul}}`
// stopped the replay with "The JSON element does not have the requested type.") are counted by
// reason and dead-lettered, every good line around them is stored, and cxflow exits 0.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"

using namespace cxflow::test;

namespace {

const char* const kQueues[] = {"sales", "support", "billing"};

std::string good(int i) {
  char ts[40];  // one event per second from 08:00:00, in order: all in one 1h window
  std::snprintf(ts, sizeof ts, "2026-01-05T08:%02d:%02d.%03dZ", i / 60, i % 60, (i * 37) % 1000);
  return std::string(R"({"eventType":"interaction","timestamp":")") + ts + R"(","interactionId":"c-)" +
         std::to_string(i) + R"(","agentId":"agent-)" + std::to_string(i % 7) +
         R"(","metrics":{"state":"ended","waitTime":)" + std::to_string(i % 30) + R"(,"handleTime":120},)" +
         R"("metadata":{"queue":")" + kQueues[i % 3] + R"("}})";
}

std::string pipeline(const TempDir& d, const std::string& source_extra = "") {
  return "sources:\n"
         "  replay:\n"
         "    plugin: source-replay\n"
         "    path: " +
         (d / "in.jsonl").string() +
         "\n"
         "    dead_letter: " +
         (d / "dead.jsonl").string() + "\n" + source_extra +
         "transforms:\n"
         "  per_queue:\n"
         "    plugin: aggregate-window\n"
         "    inputs: [replay]\n"
         "    window: 1h\n"
         "    group_by: [metadata.queue]\n"
         "    metrics:\n"
         "      contacts: count\n"
         "      total_wait: sum(metrics.waitTime)\n"
         "sinks:\n"
         "  rows:\n"
         "    plugin: sink-sqlite\n"
         "    inputs: [per_queue]\n"
         "    path: " +
         (d / "out.db").string() +
         "\n"
         "    table: queue_windows\n"
         "    key: [window_start, queue]\n"
         "    columns:\n"
         "      window_start: {field: window_start, type: text}\n"
         "      queue: {field: metadata.queue, type: text}\n"
         "      contacts: {field: contacts, type: integer}\n"
         "      total_wait: {field: total_wait, type: real}\n";
}

struct Bad {
  std::string line;
  std::string reason;
};

// Lines of the classes that used to throw or were accepted wrongly; every value sits in a field
// the pipeline uses (metadata.queue, metrics.waitTime, timestamp).
std::vector<Bad> bad_lines() {
  const std::string head = R"({"eventType":"interaction","timestamp":"2026-01-05T08:00:00Z","metrics":{"waitTime":1},)";
  std::vector<Bad> v;
  for (const char* lit : {"nul", "tru", "fals", "nan", "-", "1e", "0x1F", "01", "Infinity"})
    v.push_back({head + R"("metadata":{"queue":)" + lit + "}}", "invalid_json"});
  v.push_back({R"({"metadata":{"queue":nul}})", "invalid_json"});  // the line of the issue
  v.push_back({head + R"("metadata":{"queue":"sales\q"}})", "invalid_json"});
  v.push_back({head + R"("metadata":{"queue":"sales)", "invalid_json"});
  v.push_back({head + R"("metadata":{"queue":"sales"}} trailing)", "invalid_json"});
  v.push_back({head + R"("metadata":{"queue":")" + std::string("\xff\xfe") + R"("}})", "invalid_json"});
  v.push_back({head + R"("metadata":{"queue":"sa)" + std::string(1, '\0') + R"(les"}})", "invalid_json"});
  v.push_back({head + R"("metadata":{"queue":)" + std::string(5000, '[') + "}}", "invalid_json"});
  v.push_back({R"([{"eventType":"interaction"}])", "not_an_object"});
  for (const char* ts :
       {"2026-02-31T10:00:00Z", "2026-13-01T10:00:00Z", "2026-01-05T25:00:00Z", "2026-01-05T10:00:60Z"})
    v.push_back({std::string(R"({"eventType":"interaction","timestamp":")") + ts +
                     R"(","metrics":{"waitTime":1},"metadata":{"queue":"sales"}})",
                 "bad_timestamp"});
  return v;
}

}  // namespace

TEST(SourceReplayE2E, BadLiteralsAndImpossibleTimesAmongGoodLinesAreCountedAndEveryGoodLineIsStored) {
  TempDir d;
  const auto bad = bad_lines();
  std::string file;
  std::map<std::string, std::int64_t> contacts, wait;
  std::map<std::string, int> by_reason;
  int good_n = 0;
  for (std::size_t b = 0; b <= bad.size(); ++b) {
    for (int k = 0; k < 10; ++k, ++good_n) {  // 10 good lines before each bad one
      file += good(good_n) + "\n";
      ++contacts[kQueues[good_n % 3]];
      wait[kQueues[good_n % 3]] += good_n % 30;
    }
    if (b < bad.size()) {
      file += bad[b].line + "\n";
      ++by_reason[bad[b].reason];
    }
  }
  d.write("in.jsonl", file);
  const auto yaml = d.write("p.yaml", pipeline(d));
  const auto r = run_process({cxflow_bin(), "run", yaml.string(), "--no-status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const Rows rows = sqlite_query(d / "out.db", "SELECT queue, contacts, total_wait FROM queue_windows ORDER BY queue");
  ASSERT_EQ(rows.size(), 3u) << r.err;
  std::int64_t stored = 0;
  for (const auto& row : rows) {
    EXPECT_EQ(std::stoll(row[1]), contacts[row[0]]) << row[0];
    EXPECT_DOUBLE_EQ(std::stod(row[2]), static_cast<double>(wait[row[0]])) << row[0];
    stored += std::stoll(row[1]);
  }
  EXPECT_EQ(stored, good_n);

  // Counted by reason, in the end-of-file summary and in the counters.
  const std::string total = std::to_string(bad.size());
  EXPECT_NE(r.err.find(total + " malformed (invalid_json " + std::to_string(by_reason["invalid_json"]) +
                       ", not_an_object 1, bad_timestamp 4)"),
            std::string::npos)
      << r.err;
  for (const auto& [reason, n] : by_reason)
    EXPECT_NE(r.err.find("malformed{reason=" + reason + "}=" + std::to_string(n)), std::string::npos) << reason << "\n"
                                                                                                      << r.err;

  // Every bad line in the dead letter, verbatim, in order.
  std::string expected_dead;
  for (const Bad& b : bad) expected_dead += b.line + "\n";
  EXPECT_EQ(read_file(d / "dead.jsonl"), expected_dead);
}

TEST(SourceReplayE2E, BadLiteralLinesWithAPrefilterAreStillMalformedAndGoodLinesStored) {
  // The pushed-down path (prefilter / keep conditions) must not let a decoder error escape either.
  TempDir d;
  std::string file;
  int good_n = 0;
  for (int b = 0; b < 20; ++b) {
    for (int k = 0; k < 5; ++k, ++good_n) file += good(good_n) + "\n";
    file +=
        R"({"eventType":"interaction","timestamp":"2026-01-05T08:00:00Z","metrics":{"state":"ended"},"metadata":{"queue":nul}})"
        "\n";
  }
  d.write("in.jsonl", file);
  const auto yaml = d.write("p.yaml", pipeline(d, "    prefilter: {event_types: [interaction], states: [ended]}\n"));
  const auto r = run_process({cxflow_bin(), "run", yaml.string(), "--no-status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sqlite_scalar(d / "out.db", "SELECT SUM(contacts) FROM queue_windows"), std::to_string(good_n)) << r.err;
  EXPECT_NE(r.err.find("malformed{reason=invalid_json}=20"), std::string::npos) << r.err;
}
