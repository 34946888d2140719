// The simulated pipeline end to end: cxflow + source-simulator + filter-interaction +
// aggregate-window + sink-sqlite, checked against the simulator's own ground truth (every
// completed contact it emitted), not against another sink.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "cxflow/time.hpp"
#include "process.hpp"

using namespace cxflow::test;

namespace {

struct Expected {
  std::int64_t contacts = 0, handled = 0, abandoned = 0, within_20s = 0;
  double total_wait = 0, total_handle = 0, total_answered_wait = 0;
  std::set<std::string> agents;
};

// (window start ISO, queue) -> expected aggregates; queue "" = all queues.
using Truth = std::map<std::pair<std::string, std::string>, Expected>;

Truth load_truth(const std::filesystem::path& path, std::int64_t window_ms, std::size_t* contacts_out = nullptr) {
  Truth t;
  std::istringstream in(read_file(path));
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    ++n;
    const std::int64_t at = j.at("event_time_ms").get<std::int64_t>();
    const std::string window = cxflow::format_iso8601_ms(at - ((at % window_ms) + window_ms) % window_ms);
    const bool ended = j.at("state") == "ended";
    const double wait = j.at("wait_s").get<double>();
    for (const std::string& q : {j.at("queue").get<std::string>(), std::string()}) {
      Expected& e = t[{window, q}];
      ++e.contacts;
      e.total_wait += wait;
      if (ended) {
        ++e.handled;
        e.total_handle += j.at("handle_s").get<double>();
        e.total_answered_wait += wait;
        if (wait <= 20) ++e.within_20s;
        e.agents.insert(j.at("agentId").get<std::string>());
      } else {
        ++e.abandoned;
      }
    }
  }
  if (contacts_out) *contacts_out = n;
  return t;
}

double num(const std::string& s) { return s.empty() ? std::nan("") : std::stod(s); }

void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-6 * std::max(1.0, std::fabs(expected))) << what;
}

std::string pipeline(const TempDir& d, const std::string& sim_extra) {
  return R"(sources:
  calls:
    plugin: source-simulator
    seed: 7
    speed: max
    ground_truth: )" +
         (d / "truth.jsonl").string() + "\n" + sim_extra + R"(
transforms:
  completed:
    plugin: filter-interaction
    inputs: [calls]
    event_types: [interaction]
    states: [ended, abandoned]
  per_queue:
    plugin: aggregate-window
    inputs: [completed]
    window: 60s
    group_by: [metadata.queue]
    metrics:
      contacts: count
      handled: count where metrics.state == ended
      abandoned: count where metrics.state == abandoned
      total_wait: sum(metrics.waitTime)
      total_handle: sum(metrics.handleTime) where metrics.state == ended
      service_level: ratio(metrics.state == ended and metrics.waitTime <= 20)
sinks:
  rows:
    plugin: sink-sqlite
    inputs: [per_queue]
    path: )" +
         (d / "out.db").string() + R"(
    table: queue_windows
    key: [window_start, queue]
    columns:
      window_start: {field: window_start, type: text}
      queue: {field: metadata.queue, type: text}
      contacts: {field: contacts, type: integer}
      handled: {field: handled, type: integer}
      abandoned: {field: abandoned, type: integer}
      total_wait: {field: total_wait, type: real}
      total_handle: {field: total_handle, type: real}
      service_level: {field: service_level, type: real}
)";
}

// Every (window, queue) row equals the ground truth, and every ground-truth window has its row.
void check_queue_rows(const TempDir& d, std::int64_t min_contacts = 100) {
  const Truth truth = load_truth(d / "truth.jsonl", 60'000);
  const Rows rows = sqlite_query(d / "out.db",
                                 "SELECT window_start, queue, contacts, handled, abandoned, total_wait, total_handle, "
                                 "service_level FROM queue_windows ORDER BY window_start, queue");
  std::size_t expected_rows = 0;
  for (const auto& [k, v] : truth)
    if (!k.second.empty()) ++expected_rows;
  ASSERT_EQ(rows.size(), expected_rows);
  std::int64_t total = 0;
  for (const auto& r : rows) {
    const auto it = truth.find({r[0], r[1]});
    ASSERT_NE(it, truth.end()) << "row for a window/queue the simulator never completed: " << r[0] << " " << r[1];
    const Expected& e = it->second;
    const std::string at = r[0] + " " + r[1];
    EXPECT_EQ(std::stoll(r[2]), e.contacts) << at;
    EXPECT_EQ(std::stoll(r[3]), e.handled) << at;
    EXPECT_EQ(std::stoll(r[4]), e.abandoned) << at;
    expect_close(num(r[5]), e.total_wait, "total_wait " + at);
    expect_close(e.handled ? num(r[6]) : 0.0, e.total_handle, "total_handle " + at);
    expect_close(num(r[7]), static_cast<double>(e.within_20s) / static_cast<double>(e.contacts), "service_level " + at);
    total += e.contacts;
  }
  EXPECT_GE(total, min_contacts);
}

}  // namespace

TEST(SimulatedPipeline, SqliteRowsEqualTheSimulatorsGroundTruth) {
  TempDir d;
  const auto y = d.write("p.yaml", pipeline(d, "    duration: 2h\n"));
  auto r = run_process({cxflow_bin(), "run", y.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  check_queue_rows(d);
  EXPECT_EQ(sqlite_scalar(d / "out.db", "PRAGMA integrity_check"), "ok");
}

TEST(SimulatedPipeline, RerunningUpsertsInsteadOfDuplicating) {
  TempDir d;
  const auto y = d.write("p.yaml", pipeline(d, "    duration: 30m\n"));
  ASSERT_EQ(run_process({cxflow_bin(), "run", y.string()}).exit_code, 0);
  const std::string first = sqlite_scalar(d / "out.db", "SELECT count(*) FROM queue_windows");
  ASSERT_EQ(run_process({cxflow_bin(), "run", y.string()}).exit_code, 0);
  EXPECT_EQ(sqlite_scalar(d / "out.db", "SELECT count(*) FROM queue_windows"), first);
  check_queue_rows(d);
}

TEST(SimulatedPipeline, SigtermMidRunWritesOpenWindowsAndLeavesAConsistentDatabase) {
  TempDir d;
  // 600x real time: ten simulated minutes per second, for up to a simulated week.
  std::string y = pipeline(d, "    duration: 7d\n");
  y.replace(y.find("speed: max"), 10, "speed: 600");
  const auto path = d.write("p.yaml", y);
  Child child({cxflow_bin(), "run", path.string()}, d.path());
  const auto db = d / "out.db";
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          return std::filesystem::exists(db) &&
                 std::stoll("0" + sqlite_scalar(db, "SELECT count(*) FROM queue_windows")) >= 6;
        } catch (const std::exception&) {
          return false;  // table not created yet
        }
      },
      std::chrono::seconds(60)))
      << child.err();
  child.signal(SIGTERM);
  const auto code = child.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << child.err();
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
  // Everything the simulator emitted (its ground truth) is in the database, including the window
  // that was still open when the signal came.
  check_queue_rows(d, 6);
}

TEST(DefaultPipeline, MetricSnapshotsDescribeOneWindowEach) {
  TempDir d;
  const auto db = d / "analytics.db";
  const auto truth_path = d / "truth.jsonl";
  auto r = run_process({cxflow_bin(), "run", source_dir() + "/pipelines/simulated.yaml", "--no-status"},
                       {"CXFLOW_DB=" + db.string(), "CXFLOW_GROUND_TRUTH=" + truth_path.string(), "CXFLOW_SPEED=max"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Truth truth = load_truth(truth_path, 60'000);
  const Rows rows = sqlite_query(
      db,
      "SELECT timestamp, total_interactions, avg_handle_time, avg_wait_time, active_agents FROM metric_snapshots "
      "ORDER BY timestamp");
  std::size_t windows = 0;
  for (const auto& [k, v] : truth)
    if (k.second.empty()) ++windows;
  ASSERT_EQ(rows.size(), windows);
  for (const auto& row : rows) {
    const auto it = truth.find({row[0], ""});
    ASSERT_NE(it, truth.end()) << row[0];
    const Expected& e = it->second;
    EXPECT_EQ(std::stoll(row[1]), e.contacts) << row[0];
    if (e.handled) {
      expect_close(num(row[2]), e.total_handle / static_cast<double>(e.handled), "avg_handle_time " + row[0]);
      expect_close(num(row[3]), e.total_answered_wait / static_cast<double>(e.handled), "avg_wait_time " + row[0]);
    }
    EXPECT_EQ(std::stoll("0" + row[4]), static_cast<std::int64_t>(e.agents.size())) << row[0];
  }
  // The per-queue table exists with service level and abandonment.
  EXPECT_GT(std::stoll(sqlite_scalar(db, "SELECT count(*) FROM queue_snapshots")), 0);
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
}
