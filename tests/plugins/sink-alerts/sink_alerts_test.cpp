// sink-alerts rule behaviour through the harness (the real .so). Notifications are read back from
// the structured log lines (and from the SQLite store where one is configured). Everything runs on
// event time: the windows pushed here carry their own times; the fake clock is never consulted.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>
#include <string>
#include <vector>

#include <cxflow/time.hpp>

#include "process.hpp"
#include "testing/harness.hpp"

using cxflow::Event;
using cxflow::Value;
using cxflow::testing::Harness;
using namespace cxflow::test;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

std::int64_t at(int window) { return kT0 + window * kMinute; }

// One window aggregate as aggregate-window emits it: time = window start.
Event window(Harness& h, int i, const char* queue, const char* metric, Value v) {
  const std::int64_t t = at(i);
  auto b = h.event(t);
  b.set("window_start", cxflow::format_iso8601_ms(t)).set("window_end", cxflow::format_iso8601_ms(t + kMinute));
  if (queue) b.set("metadata.queue", queue);
  b.set(metric, std::move(v));
  return b.build();
}
Event aht(Harness& h, int i, const char* queue, double v) { return window(h, i, queue, "avg_handle_time", Value(v)); }

struct Note {
  std::string state, rule, group, severity;
  double value = 0, threshold = 0;
  std::string message;
  std::string str() const { return state + " " + severity + " " + group; }
};

// Every notification logged so far.
std::vector<Note> notes(const Harness& h) {
  static const std::regex re(
      R"re(alert state=(\w+) rule=(\S+) group="([^"]*)" severity=(\w+) value=(\S+) threshold=(\S+) window=\S+ message="(.*)"$)re");
  std::vector<Note> out;
  for (const auto& l : h.logs()) {
    std::smatch m;
    if (!std::regex_search(l, m, re)) continue;
    out.push_back(Note{m[1], m[2], m[3], m[4], std::stod(m[5]), std::stod(m[6]), m[7]});
  }
  return out;
}

// Notifications as "state severity group", newest last, since the previous call.
class Reader {
 public:
  explicit Reader(const Harness& h) : h_(h) {}
  std::vector<std::string> next() {
    auto all = notes(h_);
    std::vector<std::string> out;
    for (std::size_t i = seen_; i < all.size(); ++i) out.push_back(all[i].str());
    seen_ = all.size();
    return out;
  }

 private:
  const Harness& h_;
  std::size_t seen_ = 0;
};

using Strings = std::vector<std::string>;

// Pushes one window per value for `queue`, starting at window `first`, and returns what it notified.
Strings feed(Harness& h, Reader& r, int first, std::vector<double> values, const char* queue = "sales") {
  for (std::size_t i = 0; i < values.size(); ++i) h.push({aht(h, first + static_cast<int>(i), queue, values[i])});
  return r.next();
}

std::string errors_text(const std::string& yaml) {
  std::string s;
  for (const auto& e : Harness::config_errors("sink-alerts", yaml)) s += e.str() + "\n";
  return s;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Rule "aht" on avg_handle_time, above: {warning: 240} unless the tail gives its own thresholds.
Harness load(const std::string& rule_tail, const std::string& extra = "") {
  const std::string above = contains(rule_tail, "above:") ? "" : ", above: {warning: 240}";
  return Harness::load("sink-alerts",
                       "rules:\n  - {name: aht, metric: avg_handle_time" + above + rule_tail + "}\n" + extra);
}

}  // namespace

TEST(SinkAlerts, ExampleConfigConfigures) {
  const auto& api = Harness::api("sink-alerts");
  EXPECT_TRUE(Harness::config_errors("sink-alerts", api.example()).empty()) << errors_text(api.example());
}

TEST(SinkAlerts, FiresOncePerEpisodeAndResolves) {
  auto h = load("");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {200}), Strings{});
  EXPECT_EQ(feed(h, r, 1, {250}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 2, {260, 300, 250}), Strings{}) << "no repeat by default";
  EXPECT_EQ(feed(h, r, 5, {240}), Strings{"resolved warning metadata.queue=sales"}) << "240 is not above 240";
  EXPECT_EQ(feed(h, r, 6, {241}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(h.counter("alerts"), 3u);
  EXPECT_EQ(h.counter("windows_evaluated"), 7u);
  const auto n = notes(h);
  EXPECT_EQ(n[0].rule, "aht");
  EXPECT_DOUBLE_EQ(n[0].value, 250);
  EXPECT_DOUBLE_EQ(n[0].threshold, 240);
  EXPECT_TRUE(contains(n[0].message, "[WARNING] aht: avg_handle_time = 250 is above the warning threshold 240"))
      << n[0].message;
  EXPECT_TRUE(contains(n[0].message, "2026-01-01T00:01:00.000Z - 2026-01-01T00:02:00.000Z")) << n[0].message;
  EXPECT_TRUE(contains(n[1].message, "[RESOLVED]")) << n[1].message;
}

TEST(SinkAlerts, CriticalDefaultsToOnePointFiveTimesWarning) {
  auto h = load("");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {360}), Strings{"firing warning metadata.queue=sales"}) << "360 is not above 1.5 x 240";
  EXPECT_EQ(feed(h, r, 1, {361}), Strings{"escalated critical metadata.queue=sales"});
  EXPECT_DOUBLE_EQ(notes(h).back().threshold, 360);
}

TEST(SinkAlerts, CriticalFactorZeroMeansWarningOnly) {
  auto h =
      Harness::load("sink-alerts", "rules: [{metric: avg_handle_time, above: {warning: 240, critical_factor: 0}}]\n");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {1000}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(notes(h).back().rule, "avg_handle_time_above") << "default rule name";
}

TEST(SinkAlerts, InclusiveThreshold) {
  auto h = load(", above: {warning: 240, inclusive: true}");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {240}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 1, {239.9}), Strings{"resolved warning metadata.queue=sales"});
}

TEST(SinkAlerts, ForNWindowsNeedsConsecutiveBreaches) {
  auto h = load(", for: 3");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {250, 250, 200, 250, 250}), Strings{}) << "the streak was broken at window 2";
  EXPECT_EQ(feed(h, r, 5, {250}), Strings{"firing warning metadata.queue=sales"});
  // Resolving is immediate; firing again needs three windows again.
  EXPECT_EQ(feed(h, r, 6, {100, 300, 300}), Strings{"resolved warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 9, {300}), Strings{"firing warning metadata.queue=sales"});
}

TEST(SinkAlerts, ForNWindowsGapBreaksTheStreak) {
  auto h = load(", for: 2");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {250}), Strings{});
  EXPECT_EQ(feed(h, r, 2, {250}), Strings{}) << "window 1 is missing: not two consecutive windows";
  EXPECT_EQ(feed(h, r, 3, {250}), Strings{"firing warning metadata.queue=sales"});
}

TEST(SinkAlerts, ForNFiresAtTheHighestLevelReached) {
  auto h = load(", for: 2");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {370, 380}), Strings{"firing critical metadata.queue=sales"});
}

TEST(SinkAlerts, HysteresisDelaysResolution) {
  auto h = load(", hysteresis: 20");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {250}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 1, {235, 221, 245}), Strings{}) << "not back below 240 - 20";
  EXPECT_EQ(feed(h, r, 4, {220}), Strings{"resolved warning metadata.queue=sales"});
  EXPECT_TRUE(contains(notes(h).back().message, "hysteresis 20")) << notes(h).back().message;
  // Firing again needs the real threshold, not the margin.
  EXPECT_EQ(feed(h, r, 5, {235}), Strings{});
}

TEST(SinkAlerts, EscalationAndDeescalationAreTheirOwnNotifications) {
  auto h = load(", above: {warning: 240, critical: 360}, hysteresis: 10");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {250}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 1, {370}), Strings{"escalated critical metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 2, {355}), Strings{}) << "critical held: not below 360 - 10";
  EXPECT_EQ(feed(h, r, 3, {345}), Strings{"deescalated warning metadata.queue=sales"});
  EXPECT_DOUBLE_EQ(notes(h).back().threshold, 360);
  EXPECT_EQ(feed(h, r, 4, {361}), Strings{"escalated critical metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 5, {100}), Strings{"resolved critical metadata.queue=sales"}) << "straight from critical";
  EXPECT_DOUBLE_EQ(notes(h).back().threshold, 240);
}

TEST(SinkAlerts, RepeatWhileFiringOnEventTime) {
  auto h = load(", repeat: 5m");
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 0, {250}), Strings{"firing warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 1, {250, 250, 250, 250}), Strings{});
  EXPECT_EQ(feed(h, r, 5, {250}), Strings{"repeat warning metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 6, {400}), Strings{"escalated critical metadata.queue=sales"});
  EXPECT_EQ(feed(h, r, 7, {400, 400, 400, 400}), Strings{}) << "the escalation restarted the interval";
  EXPECT_EQ(feed(h, r, 11, {400}), Strings{"repeat critical metadata.queue=sales"});
  EXPECT_TRUE(contains(notes(h).back().message, "still firing since 2026-01-01T00:00:00.000Z"))
      << notes(h).back().message;
  // The fake clock never moved: repeats follow window times only.
  h.clock().advance(3'600'000);
  EXPECT_EQ(feed(h, r, 12, {400}), Strings{});
}

TEST(SinkAlerts, BelowRulesHaveNoDerivedCritical) {
  auto h = Harness::load("sink-alerts",
                         "rules:\n"
                         "  - {name: sl, metric: service_level, below: {warning: 0.8, critical: 0.6}}\n"
                         "  - {name: agents, metric: active_agents, below: {warning: 2}}\n");
  h.start();
  Reader r(h);
  auto sl = [&](int i, double v) { return window(h, i, "sales", "service_level", Value(v)); };
  h.push({sl(0, 0.9), sl(1, 0.7)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
  h.push({sl(2, 0.5)});
  EXPECT_EQ(r.next(), Strings{"escalated critical metadata.queue=sales"});
  h.push({sl(3, 0.85)});
  EXPECT_EQ(r.next(), Strings{"resolved critical metadata.queue=sales"});
  h.push({window(h, 4, "sales", "active_agents", Value(std::int64_t{0}))});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"}) << "no critical level without below.critical";
  EXPECT_TRUE(contains(notes(h).back().message, "is below the warning threshold 2")) << notes(h).back().message;
}

TEST(SinkAlerts, StateIsPerGroup) {
  auto h = load("");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250), aht(h, 0, "support", 100)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
  h.push({aht(h, 1, "sales", 250), aht(h, 1, "support", 300)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=support"});
  h.push({aht(h, 2, "sales", 100), aht(h, 2, "support", 300)});
  EXPECT_EQ(r.next(), Strings{"resolved warning metadata.queue=sales"});
}

TEST(SinkAlerts, EmptyGroupByKeepsOneState) {
  auto h = load("", "group_by: []\n");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250), aht(h, 0, "support", 260)});
  EXPECT_EQ(r.next(), Strings{"firing warning all"});
}

TEST(SinkAlerts, WhereLimitsTheRule) {
  auto h = load(", where: metadata.queue != vip");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "vip", 900), aht(h, 0, "sales", 250)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
}

TEST(SinkAlerts, SilentGroupResolvesAfterMissingWindows) {
  auto h = load(", missing_windows: 3");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250), aht(h, 0, "support", 100)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
  // sales goes quiet; support keeps producing windows.
  h.push({aht(h, 1, "support", 100)});
  h.push({aht(h, 2, "support", 100)});
  EXPECT_EQ(r.next(), Strings{}) << "two windows missing";
  h.push({aht(h, 3, "support", 100)});
  EXPECT_EQ(r.next(), Strings{"resolved warning metadata.queue=sales"});
  EXPECT_TRUE(contains(notes(h).back().message, "no avg_handle_time for metadata.queue=sales for 3 windows"))
      << notes(h).back().message;
  EXPECT_DOUBLE_EQ(notes(h).back().value, 250) << "the last value seen";
  h.push({aht(h, 4, "support", 100)});
  EXPECT_EQ(r.next(), Strings{}) << "resolved once";
}

TEST(SinkAlerts, SilentStreamResolvesOnWatermarkAfterLateness) {
  auto h = load(", missing_windows: 2", "window_lateness: 30s\n");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
  h.watermark(at(3));  // minus 30s lateness: only window 1 has closed for sure
  EXPECT_EQ(r.next(), Strings{});
  h.watermark(at(3) + 30'000);
  EXPECT_EQ(r.next(), Strings{"resolved warning metadata.queue=sales"});
}

TEST(SinkAlerts, HoldKeepsFiringThroughSilence) {
  auto h = load(", on_missing: hold");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250)});
  EXPECT_EQ(r.next(), Strings{"firing warning metadata.queue=sales"});
  h.watermark(at(100));
  EXPECT_EQ(r.next(), Strings{});
  h.push({aht(h, 100, "sales", 250)});
  EXPECT_EQ(r.next(), Strings{}) << "still the same episode";
  h.push({aht(h, 101, "sales", 100)});
  EXPECT_EQ(r.next(), Strings{"resolved warning metadata.queue=sales"});
}

TEST(SinkAlerts, NullMetricCountsAsMissing) {
  auto h = load(", missing_windows: 2");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250)});
  h.push({window(h, 1, "sales", "avg_handle_time", Value{}), window(h, 2, "sales", "avg_handle_time", Value{})});
  EXPECT_EQ(r.next(), (Strings{"firing warning metadata.queue=sales", "resolved warning metadata.queue=sales"}));
  EXPECT_EQ(h.counter("no_value"), 2u);
}

TEST(SinkAlerts, ReplayedWindowsAreSkipped) {
  auto h = load("");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "sales", 250)});
  h.push({aht(h, 0, "sales", 250)});
  h.push({aht(h, 1, "sales", 100), aht(h, 0, "sales", 300)});
  EXPECT_EQ(r.next(), (Strings{"firing warning metadata.queue=sales", "resolved warning metadata.queue=sales"}));
  EXPECT_EQ(h.counter("stale_windows"), 2u);
}

TEST(SinkAlerts, MaxGroupsBoundsState) {
  auto h = load("", "max_groups: 2\n");
  h.start();
  Reader r(h);
  h.push({aht(h, 0, "a", 250), aht(h, 0, "b", 250), aht(h, 0, "c", 250)});
  EXPECT_EQ(r.next(), (Strings{"firing warning metadata.queue=a", "firing warning metadata.queue=b"}));
  EXPECT_EQ(h.counter("groups_dropped"), 1u);
}

TEST(SinkAlerts, LogCanBeSwitchedOff) {
  auto h = load("", "log: false\n");
  h.start();
  h.push({aht(h, 0, "sales", 250)});
  EXPECT_TRUE(notes(h).empty());
  EXPECT_EQ(h.counter("alerts"), 1u);
}

// ---- SQLite store --------------------------------------------------------------------------

bool exec_sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* c = nullptr;
  const bool ok =
      sqlite3_open(db.c_str(), &c) == SQLITE_OK && sqlite3_exec(c, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(c);
  return ok;
}

TEST(SinkAlerts, StoreWritesTheSeedsAlertsTable) {
  TempDir dir;
  const auto db = dir / "a.db";
  auto h = load(", above: {warning: 240, critical: 360}", "sqlite: {path: " + db.string() + "}\n");
  h.start();
  h.push({aht(h, 0, "sales", 250)});
  h.push({aht(h, 1, "sales", 400)});
  h.push({aht(h, 2, "sales", 100)});
  EXPECT_EQ(h.counter("rows_written"), 3u);
  const auto rows = sqlite_query(db,
                                 "SELECT timestamp, metric, value, threshold, severity, rule, group_key, state, "
                                 "window_start FROM alerts ORDER BY id");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"2026-01-01T00:01:00.000Z", "avg_handle_time", "250.0", "240.0", "warning", "aht",
                                      "metadata.queue=sales", "firing", "2026-01-01T00:00:00.000Z"}));
  EXPECT_EQ(rows[1][4], "critical");
  EXPECT_EQ(rows[1][7], "escalated");
  EXPECT_EQ(rows[2][7], "resolved");
  EXPECT_EQ(rows[2][4], "critical");
  EXPECT_EQ(sqlite_scalar(db, "SELECT level FROM alerts_state WHERE rule = 'aht'"), "ok");
}

TEST(SinkAlerts, RestartWithStoreDoesNotRefire) {
  TempDir dir;
  const auto db = dir / "a.db";
  const std::string store = "sqlite: {path: " + db.string() + "}\n";
  {
    auto h = load(", repeat: 10m", store);
    h.start();
    Reader r(h);
    EXPECT_EQ(feed(h, r, 0, {250, 260}), Strings{"firing warning metadata.queue=sales"});
    h.stop();
  }
  EXPECT_EQ(sqlite_scalar(db, "SELECT level FROM alerts_state"), "warning");
  {
    auto h = load(", repeat: 10m", store);
    h.start();
    Reader r(h);
    // The same windows again (a replay after a crash), then the next ones: no second "firing".
    EXPECT_EQ(feed(h, r, 0, {250, 260}), Strings{});
    EXPECT_EQ(h.counter("stale_windows"), 2u);
    EXPECT_EQ(feed(h, r, 2, {270}), Strings{});
    // The repeat interval survived too: 10 minutes after the firing at window 0.
    EXPECT_EQ(feed(h, r, 3, {270, 270, 270, 270, 270, 270, 270}), Strings{});
    EXPECT_EQ(feed(h, r, 10, {270}), Strings{"repeat warning metadata.queue=sales"});
    EXPECT_EQ(feed(h, r, 11, {100}), Strings{"resolved warning metadata.queue=sales"});
    EXPECT_TRUE(contains(notes(h).back().message, "since 2026-01-01T00:00:00.000Z")) << notes(h).back().message;
  }
  EXPECT_EQ(sqlite_scalar(db, "SELECT group_concat(state, ',') FROM (SELECT state FROM alerts ORDER BY id)"),
            "firing,repeat,resolved");
}

TEST(SinkAlerts, RestartKeepsTheForStreak) {
  TempDir dir;
  const std::string store = "sqlite: {path: " + (dir / "a.db").string() + "}\n";
  {
    auto h = load(", for: 3", store);
    h.start();
    h.push({aht(h, 0, "sales", 250), aht(h, 1, "sales", 250)});
  }
  auto h = load(", for: 3", store);
  h.start();
  Reader r(h);
  EXPECT_EQ(feed(h, r, 2, {250}), Strings{"firing warning metadata.queue=sales"});
}

TEST(SinkAlerts, ExistingSeedTableGetsTheExtraColumns) {
  TempDir dir;
  const auto db = dir / "seed.db";
  ASSERT_TRUE(exec_sql(db,
                       "CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, metric "
                       "TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, severity TEXT NOT NULL);"
                       "INSERT INTO alerts (timestamp, metric, value, threshold, severity) VALUES "
                       "('2025-12-31T00:00:00Z', 'avg_wait_time', 100, 90, 'warning')"));
  auto h = load("", "sqlite: {path: " + db.string() + "}\n");
  h.start();
  h.push({aht(h, 0, "sales", 250)});
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), "2");
  EXPECT_EQ(sqlite_scalar(db, "SELECT rule || '/' || state FROM alerts WHERE id = 2"), "aht/firing");
  bool noted = false;
  for (const auto& l : h.logs()) noted = noted || contains(l, "added column rule to the existing table alerts");
  EXPECT_TRUE(noted);
}

TEST(SinkAlerts, ExistingTableWithoutAlertColumnsIsAnError) {
  TempDir dir;
  const auto db = dir / "x.db";
  ASSERT_TRUE(exec_sql(db, "CREATE TABLE alerts (id INTEGER, note TEXT)"));
  auto h = load("", "sqlite: {path: " + db.string() + "}\n");
  std::string error;
  try {
    h.start();
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_TRUE(contains(
      error, "the existing table 'alerts' lacks the alert columns timestamp, metric, value, threshold, severity"))
      << error;
}

// ---- Storage faults (the store is cxflow-sqlite, with sink-sqlite's retry policy) ------------

namespace {

// Holds the write lock of `db` from another connection, as another process would.
class LockHolder {
 public:
  explicit LockHolder(const std::filesystem::path& db) {
    sqlite3_open(db.c_str(), &c_);
    locked_ = sqlite3_exec(c_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~LockHolder() {
    release();
    sqlite3_close(c_);
  }
  bool locked() const { return locked_; }
  void release() {
    if (locked_) sqlite3_exec(c_, "COMMIT", nullptr, nullptr, nullptr);
    locked_ = false;
  }

 private:
  sqlite3* c_ = nullptr;
  bool locked_ = false;
};

bool logged(const Harness& h, const std::string& part) {
  for (const auto& l : h.logs())
    if (contains(l, part)) return true;
  return false;
}

}  // namespace

TEST(SinkAlerts, StoreLockedLongerThanBusyTimeoutIsRetriedNotFatal) {
  TempDir dir;
  const auto db = dir / "a.db";
  auto h = load(
      "", "sqlite: {path: " + db.string() + ", busy_timeout: 200ms, lock_retries: 5, lock_retry_backoff: 500ms}\n");
  h.start();
  LockHolder lock(db);
  ASSERT_TRUE(lock.locked());
  // The lock is held for 2.5 s, far past busy_timeout: the commit waits it out by the retry policy.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    lock.release();
  });
  EXPECT_NO_THROW(h.push({aht(h, 0, "sales", 250)}));
  release.join();
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), "1");
  EXPECT_TRUE(
      logged(h, "is locked by another connection (waited busy_timeout 200ms to commit 1 alert rows): retry 1/5"));
  EXPECT_TRUE(logged(h, "committed the alerts to '" + db.string() + "' after "));
  EXPECT_EQ(h.counter("rows_written"), 1u);
}

// The reported case with the default keys: a 10 s lock (an sqlite3 shell inside BEGIN, a backup)
// used to fail the pipeline after busy_timeout's 5 s; the retry policy now waits it out.
TEST(SinkAlerts, StoreLockedForTenSecondsWithTheDefaultKeysDoesNotFailThePipeline) {
  TempDir dir;
  const auto db = dir / "a.db";
  auto h = load("", "sqlite: {path: " + db.string() + "}\n");
  h.start();
  LockHolder lock(db);
  ASSERT_TRUE(lock.locked());
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    lock.release();
  });
  EXPECT_NO_THROW(h.push({aht(h, 0, "sales", 250)}));
  release.join();
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), "1");
  EXPECT_TRUE(logged(h, "retry 1/5"));
}

TEST(SinkAlerts, StoreTableNamesAreCheckedAtTheirKeys) {
  const std::string rule = "rules: [{metric: x, above: {warning: 1}}]\n";
  const auto e = errors_text(rule + "sqlite: {path: a.db, state_table: 1st}\n");
  EXPECT_TRUE(contains(e, "sqlite.state_table") && contains(e, "not starting with a digit")) << e;
  EXPECT_TRUE(contains(errors_text(rule + "sqlite: {path: a.db, table: sqlite_alerts}\n"), "reserved by SQLite"));
  EXPECT_EQ(errors_text(rule + "sqlite: {path: a.db, table: alerts, state_table: alert_state}\n"), "");
}

TEST(SinkAlerts, StoreLockedPastItsRetriesFailsAndKeepsTheQueuedAlerts) {
  TempDir dir;
  const auto db = dir / "a.db";
  auto h =
      load("", "sqlite: {path: " + db.string() + ", busy_timeout: 50ms, lock_retries: 1, lock_retry_backoff: 10ms}\n");
  h.start();
  LockHolder lock(db);
  ASSERT_TRUE(lock.locked());
  std::string error;
  try {
    h.push({aht(h, 0, "sales", 250)});
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_TRUE(contains(error, "giving up on '" + db.string() + "': the database stayed locked")) << error;
  EXPECT_TRUE(contains(error, "raise busy_timeout or lock_retries")) << error;
  lock.release();
  h.stop();  // one more commit: the alert was kept, not dropped
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), "1");
}

TEST(SinkAlerts, StoreUriPathIsRefusedUnlessAsked) {
  const std::string rule = "rules: [{metric: x, above: {warning: 1}}]\n";
  const auto e = errors_text(rule + "sqlite: {path: 'file:a.db?mode=memory'}\n");
  EXPECT_TRUE(contains(e, "sqlite.path") && contains(e, "mode=memory writes nothing to disk") &&
              contains(e, "set uri: true"))
      << e;
  EXPECT_TRUE(contains(errors_text(rule + "sqlite: {path: ':memory:'}\n"), "set uri: true"));
  EXPECT_EQ(errors_text(rule + "sqlite: {path: 'file:a.db?mode=memory', uri: true}\n"), "");
}

TEST(SinkAlerts, StoreFileDeletedMidRunIsRecreatedAndReported) {
  TempDir dir;
  const auto db = dir / "a.db";
  auto h = load("", "sqlite: {path: " + db.string() + "}\n");
  h.start();
  h.push({aht(h, 0, "sales", 250)});
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), "1");
  std::filesystem::remove(db);
  h.push({aht(h, 1, "sales", 100)});  // resolved: an alert row, into the recreated file
  EXPECT_TRUE(logged(h, "the database file '" + db.string() + "' was deleted while sink-alerts had it open"));
  EXPECT_TRUE(logged(h, "recreated '" + db.string() + "' with the alert tables"));
  ASSERT_TRUE(std::filesystem::exists(db));
  EXPECT_EQ(sqlite_scalar(db, "SELECT state FROM alerts"), "resolved");
  h.stop();
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
}

// The store on a small tmpfs whose free space is then used up: SQLITE_FULL fails the component
// with a clear error, the queued alerts are kept, and once space is back stop() commits them.
TEST(SinkAlerts, StoreOnAFullDiskFailsClearlyAndLosesNothing) {
  TempDir dir;
  const auto mnt = dir / "small";
  std::filesystem::create_directory(mnt);
  if (std::system(("mount -t tmpfs -o size=512k tmpfs " + mnt.string() + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)";
  struct Unmount {
    std::string dir;
    ~Unmount() { (void)std::system(("umount " + dir).c_str()); }
  } unmount{mnt.string()};
  const auto db = mnt / "a.db";
  auto h = load("", "sqlite: {path: " + db.string() + "}\n");
  h.start();
  h.push({aht(h, 0, "sales", 250)});  // firing: committed while there is room
  ASSERT_EQ(h.counter("rows_written"), 1u);
  {
    // Fill the rest of the file system.
    std::FILE* f = std::fopen((mnt / "filler").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::vector<char> block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  std::string error;
  try {
    for (int i = 1; i < 200 && error.empty(); ++i) h.push({aht(h, i, "sales", i % 2 ? 100 : 250)});
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_TRUE(contains(error, "sink-alerts sqlite '" + db.string() + "'")) << error;
  EXPECT_TRUE(contains(error, "the disk is full")) << error;
  const std::uint64_t committed = h.counter("rows_written");
  const std::uint64_t raised = h.counter("alerts");
  EXPECT_GT(raised, committed) << "the failed commit's alerts are not counted as written";
  std::filesystem::remove(mnt / "filler");
  h.stop();
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM alerts"), std::to_string(raised)) << "every alert raised is stored";
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
}

// ---- Config errors: each names the key --------------------------------------------------------

TEST(SinkAlertsConfig, MissingThreshold) {
  const auto e = errors_text("rules: [{metric: avg_wait_time}]\n");
  EXPECT_TRUE(contains(e, "rules[0]")) << e;
  EXPECT_TRUE(contains(e, "give a threshold")) << e;
}

TEST(SinkAlertsConfig, EmptyThresholdRecord) {
  const auto e = errors_text("rules: [{metric: avg_wait_time, above: {inclusive: true}}]\n");
  EXPECT_TRUE(contains(e, "rules[0].above")) << e;
  EXPECT_TRUE(contains(e, "give warning and/or critical")) << e;
}

TEST(SinkAlertsConfig, AboveAndBelow) {
  const auto e = errors_text("rules: [{metric: x, above: {warning: 1}, below: {warning: 0}}]\n");
  EXPECT_TRUE(contains(e, "rules[0]") && contains(e, "not both")) << e;
}

TEST(SinkAlertsConfig, CriticalOnTheWrongSide) {
  auto e = errors_text("rules: [{metric: x}, {metric: x, above: {warning: 10, critical: 5}}]\n");
  EXPECT_TRUE(contains(e, "rules[1]") && contains(e, "above.critical (5) must not be below above.warning (10)")) << e;
  e = errors_text("rules: [{metric: x, below: {warning: 0.5, critical: 0.8}}]\n");
  EXPECT_TRUE(contains(e, "below.critical (0.8) must not be above below.warning (0.5)")) << e;
}

TEST(SinkAlertsConfig, RangesAndEnums) {
  auto e = errors_text("rules: [{metric: x, above: {warning: 1}, for: 0}]\n");
  EXPECT_TRUE(contains(e, "rules[0].for")) << e;
  e = errors_text("rules: [{metric: x, above: {warning: 1}, on_missing: resolv}]\n");
  EXPECT_TRUE(contains(e, "rules[0].on_missing") && contains(e, "did you mean 'resolve'")) << e;
  e = errors_text("rules: [{metric: x, above: {warning: 1}, hysteresis: -1}]\n");
  EXPECT_TRUE(contains(e, "rules[0].hysteresis")) << e;
}

TEST(SinkAlertsConfig, UnknownKey) {
  const auto e = errors_text("rules: [{metric: x, above: {warning: 1}, cooldown: 5m}]\n");
  EXPECT_TRUE(contains(e, "cooldown")) << e;
}

TEST(SinkAlertsConfig, NoRules) {
  auto e = errors_text("group_by: [metadata.queue]\n");
  EXPECT_TRUE(contains(e, "rules")) << e;
  e = errors_text("rules: []\n");
  EXPECT_TRUE(contains(e, "rules: give at least one rule")) << e;
}

TEST(SinkAlertsConfig, BadWhere) {
  const auto e = errors_text("rules: [{metric: x, above: {warning: 1}, where: 'metadata.queue =='}]\n");
  EXPECT_TRUE(contains(e, "rules[0].where")) << e;
}

TEST(SinkAlertsConfig, DuplicateRuleNames) {
  const auto e = errors_text("rules: [{metric: x, above: {warning: 1}}, {metric: x, above: {warning: 2}}]\n");
  EXPECT_TRUE(contains(e, "rules[1].name: 'x_above' is already the name of another rule")) << e;
}

TEST(SinkAlertsConfig, BadWebhookUrl) {
  auto e = errors_text("rules: [{metric: x, above: {warning: 1}}]\nwebhooks: [{url: 'ftp://example.com'}]\n");
  EXPECT_TRUE(contains(e, "webhooks[0].url: expected an http:// or https:// URL")) << e;
  e = errors_text("rules: [{metric: x, above: {warning: 1}}]\nwebhooks: [{url: 'http://h:99999/'}]\n");
  EXPECT_TRUE(contains(e, "webhooks[0].url: the port '99999'")) << e;
  e = errors_text("rules: [{metric: x, above: {warning: 1}}]\nwebhooks: [{url: 'http://u:p@h/'}]\n");
  EXPECT_TRUE(contains(e, "webhooks[0].url: credentials in the URL")) << e;
}

TEST(SinkAlertsConfig, BadTemplate) {
  const auto e = errors_text(
      "rules: [{metric: x, above: {warning: 1}}]\nwebhooks: [{url: 'http://h/', template: '{\"t\": "
      "\"{{mesage}}\"}'}]\n");
  EXPECT_TRUE(contains(e, "webhooks[0].template: unknown placeholder {{mesage}}")) << e;
}

TEST(SinkAlertsConfig, BadSqliteTable) {
  const auto e = errors_text("rules: [{metric: x, above: {warning: 1}}]\nsqlite: {path: a.db, table: 'a;drop'}\n");
  EXPECT_TRUE(contains(e, "sqlite") && contains(e, "letters, digits and '_'")) << e;
  const auto e2 = errors_text("rules: [{metric: x, above: {warning: 1}}]\nsqlite: {table: alerts}\n");
  EXPECT_TRUE(contains(e2, "sqlite") && contains(e2, "path")) << e2;
}

TEST(SinkAlertsConfig, HeadersAreSecret) {
  const auto& api = Harness::api("sink-alerts");
  bool secret = false;
  for (const auto& k : api.schema().keys)
    if (k.name == "webhooks")
      for (const auto& c : k.children) secret = secret || (c.name == "headers" && c.secret);
  EXPECT_TRUE(secret);
}
