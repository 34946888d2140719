// sink-sqlite through the harness (the real .so) against real SQLite files in a TempDir.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "process.hpp"
#include "cxflow/testing.hpp"

using cxflow::Event;
using cxflow::Value;
using cxflow::testing::Harness;
using namespace cxflow::test;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// A window-aggregate-like table: one row per (window_end, queue).
std::string snapshot_config(const fs::path& db, const std::string& extra = "") {
  return "path: " + db.string() +
         "\n"
         "table: queue_snapshots\n"
         "columns:\n"
         "  window_end: $event_time\n"
         "  queue: {field: metadata.queue, type: text}\n"
         "  contacts: {field: contacts, type: integer}\n"
         "  avg_wait_time: {field: avg_wait_time, type: real}\n"
         "key: [window_end, queue]\n" +
         extra;
}

Event snapshot(Harness& h, std::int64_t t, const char* queue, int contacts, double avg_wait) {
  return h.event(t).set("metadata.queue", queue).set("contacts", contacts).set("avg_wait_time", Value(avg_wait));
}

std::string count(const fs::path& db, const std::string& table = "queue_snapshots") {
  return sqlite_scalar(db, "SELECT count(*) FROM " + table);
}

void expect_integrity(const fs::path& db) { EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok") << db; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool logged(const Harness& h, const std::string& part) {
  for (const auto& l : h.logs())
    if (contains(l, part)) return true;
  return false;
}
std::string all_logs(const Harness& h) {
  std::string s;
  for (const auto& l : h.logs()) s += l + "\n";
  return s;
}

// The message start() failed with.
std::string start_error(Harness& h) {
  try {
    h.start();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Another connection, as another process would hold it.
class Connection {
 public:
  explicit Connection(const fs::path& db) {
    if (sqlite3_open(db.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + db.string());
  }
  ~Connection() { sqlite3_close(db_); }
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
};

std::string config_error(const std::string& yaml) {
  auto errors = Harness::config_errors("sink-sqlite", yaml);
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

}  // namespace

// ---- Writing ----------------------------------------------------------------------------------

TEST(SinkSqlite, CreatesTableAndCommitsRowsOnWatermark) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  EXPECT_FALSE(fs::exists(db)) << "configuring must not touch the disk (cxflow validate)";
  h.start();
  ASSERT_TRUE(fs::exists(db));
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA journal_mode"), "wal");
  const std::string ddl = sqlite_scalar(db, "SELECT sql FROM sqlite_master WHERE name = 'queue_snapshots'");
  EXPECT_TRUE(contains(ddl, "UNIQUE (\"window_end\", \"queue\")")) << ddl;
  EXPECT_TRUE(contains(ddl, "\"contacts\" INTEGER")) << ddl;

  h.push({snapshot(h, kT0 + kMinute, "sales", 12, 30.5), snapshot(h, kT0 + kMinute, "support", 7, 12.0),
          snapshot(h, kT0 + kMinute, "billing", 3, 90.25)});
  EXPECT_EQ(count(db), "0") << "rows are not visible to another connection before the commit point";
  EXPECT_EQ(h.counter("rows_written"), 0u);

  h.watermark(kT0 + kMinute);
  EXPECT_EQ(count(db), "3");
  EXPECT_EQ(h.counter("rows_written"), 3u);
  EXPECT_EQ(h.counter("commits"), 1u);
  EXPECT_EQ(h.counter("write_errors"), 0u);
  const Rows rows =
      sqlite_query(db, "SELECT window_end, queue, contacts, avg_wait_time FROM queue_snapshots ORDER BY queue");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"2026-01-01T00:01:00.000Z", "billing", "3", "90.25"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2026-01-01T00:01:00.000Z", "sales", "12", "30.5"}));
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, UpsertOnKeyKeepsOneRowWithTheLatestValues) {
  TempDir d;
  const auto db = d / "a.db";
  {
    auto h = Harness::load("sink-sqlite", snapshot_config(db));
    h.start();
    h.push({snapshot(h, kT0 + kMinute, "sales", 12, 30.0), snapshot(h, kT0 + kMinute, "support", 7, 12.0)});
    h.watermark(kT0 + kMinute);
    // The same window again (a late update, or a replay).
    h.push({snapshot(h, kT0 + kMinute, "sales", 13, 31.0)});
    h.watermark(kT0 + kMinute + 1);
    EXPECT_EQ(count(db), "2");
    EXPECT_EQ(sqlite_scalar(db, "SELECT contacts || '/' || avg_wait_time FROM queue_snapshots WHERE queue = 'sales'"),
              "13/31.0");
    h.stop();
  }
  {
    // A restart re-writes the window: still one row per (window_end, queue).
    auto h = Harness::load("sink-sqlite", snapshot_config(db));
    h.start();
    h.push({snapshot(h, kT0 + kMinute, "sales", 14, 32.0), snapshot(h, kT0 + kMinute, "support", 8, 11.0),
            snapshot(h, kT0 + 2 * kMinute, "sales", 1, 1.0)});
    h.end_of_stream();
    h.stop();
  }
  EXPECT_EQ(count(db), "3");
  EXPECT_EQ(
      sqlite_scalar(db, "SELECT contacts FROM queue_snapshots WHERE queue = 'sales' AND window_end LIKE '%00:01:00%'"),
      "14");
  EXPECT_EQ(sqlite_scalar(db, "SELECT contacts FROM queue_snapshots WHERE queue = 'support'"), "8");
  expect_integrity(db);
}

TEST(SinkSqlite, WithoutKeyEveryRowIsInserted) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite",
                         "path: " + db.string() + "\ntable: raw\ncolumns: {t: $event_time_ms, q: metadata.queue}\n");
  h.start();
  h.push({h.event(kT0).set("metadata.queue", "sales"), h.event(kT0).set("metadata.queue", "sales")});
  h.end_of_stream();
  EXPECT_EQ(count(db, "raw"), "2");
  EXPECT_EQ(sqlite_scalar(db, "SELECT typeof(t) || ':' || t FROM raw LIMIT 1"), "integer:" + std::to_string(kT0));
  EXPECT_FALSE(contains(sqlite_scalar(db, "SELECT sql FROM sqlite_master WHERE name = 'raw'"), "UNIQUE"));
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, EndOfStreamCommitsEverything) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0), snapshot(h, kT0, "support", 2, 2.0)});
  EXPECT_EQ(count(db), "0");
  h.end_of_stream();
  EXPECT_EQ(count(db), "2") << "nothing may stay uncommitted after on_end_of_stream returns";
  EXPECT_EQ(h.counter("rows_written"), 2u);
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, StopCommitsWhatWasAccepted) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.stop();
  EXPECT_EQ(count(db), "1");
  expect_integrity(db);
}

TEST(SinkSqlite, CommitIntervalBoundsHowLongRowsStayUncommitted) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "commit_interval: 5s\n"));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.advance(4'999);
  EXPECT_EQ(count(db), "0");
  h.push({snapshot(h, kT0, "support", 1, 1.0)});  // does not restart the clock of the first row
  h.advance(1);
  EXPECT_EQ(count(db), "2");
  EXPECT_EQ(h.counter("commits"), 1u);
  // Nothing pending: the timer does not fire empty commits.
  h.advance(60'000);
  EXPECT_EQ(h.counter("commits"), 1u);
  h.push({snapshot(h, kT0 + kMinute, "sales", 1, 1.0)});
  h.advance(5'000);
  EXPECT_EQ(count(db), "3");
  EXPECT_EQ(h.counter("commits"), 2u);
  h.stop();
}

TEST(SinkSqlite, MaxBatchRowsForcesACommit) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "max_batch_rows: 3\ncommit_interval: 1h\n"));
  h.start();
  std::vector<Event> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(snapshot(h, kT0, ("q" + std::to_string(i)).c_str(), i, 0.0));
  h.push(std::move(batch));
  EXPECT_EQ(count(db), "6");
  EXPECT_EQ(h.counter("commits"), 2u);
  h.end_of_stream();
  EXPECT_EQ(count(db), "7");
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, TypeMappingConversionsAndNulls) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", "path: " + db.string() +
                                            "\ntable: types\n"
                                            "columns:\n"
                                            "  a: f.a\n"  // any: by the value's type
                                            "  i: {field: f.i, type: integer}\n"
                                            "  r: {field: f.r, type: real}\n"
                                            "  t: {field: f.t, type: text}\n"
                                            "  d: {field: f.d, type: integer, default: -1}\n"
                                            "  ms: {field: $event_time_ms, type: integer}\n"
                                            "  iso: $event_time\n");
  h.start();
  auto row = [&](Value a, Value i, Value r, Value t) {
    return h.event(kT0 + 1500)
        .set("f.a", std::move(a))
        .set("f.i", std::move(i))
        .set("f.r", std::move(r))
        .set("f.t", std::move(t))
        .build();
  };
  h.push({row(Value(std::int64_t{5}), Value(2.6), Value(std::int64_t{5}), Value(std::int64_t{7})),         // 1
          row(Value(2.5), Value(std::string("42")), Value(std::string("1.25")), Value(true)),              // 2
          row(Value(std::string("x")), Value(std::string("abc")), Value(std::string("n/a")), Value(2.5)),  // 3
          row(Value(true), Value(), Value(), Value(std::string("s"))),                                     // 4
          h.event(kT0).set("f.d", Value(std::string("9"))).build()});                                      // 5
  h.end_of_stream();
  const Rows rows = sqlite_query(db,
                                 "SELECT typeof(a)||':'||ifnull(a,''), typeof(i)||':'||ifnull(i,''), "
                                 "typeof(r)||':'||ifnull(r,''), typeof(t)||':'||ifnull(t,''), "
                                 "typeof(d)||':'||d, ms, iso FROM types ORDER BY rowid");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"integer:5", "integer:3", "real:5.0", "text:7", "integer:-1",
                                               std::to_string(kT0 + 1500), "2026-01-01T00:00:01.500Z"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"real:2.5", "integer:42", "real:1.25", "text:true", "integer:-1",
                                               std::to_string(kT0 + 1500), "2026-01-01T00:00:01.500Z"}));
  // Values that do not convert are stored as the default (NULL here) and counted.
  EXPECT_EQ(rows[2], (std::vector<std::string>{"text:x", "null:", "null:", "text:2.5", "integer:-1",
                                               std::to_string(kT0 + 1500), "2026-01-01T00:00:01.500Z"}));
  // Missing and null fields are NULL, or the default where one is configured.
  EXPECT_EQ(rows[3], (std::vector<std::string>{"integer:1", "null:", "null:", "text:s", "integer:-1",
                                               std::to_string(kT0 + 1500), "2026-01-01T00:00:01.500Z"}));
  EXPECT_EQ(rows[4], (std::vector<std::string>{"null:", "null:", "null:", "null:", "integer:9", std::to_string(kT0),
                                               "2026-01-01T00:00:00.000Z"}));
  EXPECT_EQ(h.counter("conversion_errors"), 2u);
  EXPECT_EQ(h.counter("rows_written"), 5u);
  EXPECT_TRUE(logged(h, "value 'abc' of field 'f.i' is not an integer")) << all_logs(h);
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, RowWithoutAKeyValueIsSkippedAndCounted) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0), h.event(kT0).set("contacts", 3).build()});
  h.end_of_stream();
  EXPECT_EQ(count(db), "1");
  EXPECT_EQ(h.counter("write_errors"), 1u);
  EXPECT_EQ(h.counter("rows_written"), 1u);
  EXPECT_TRUE(logged(h, "key column 'queue' has no value")) << all_logs(h);
  h.stop();
}

TEST(SinkSqlite, KeyColumnDefaultKeepsRowsWithoutTheField) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite",
                         "path: " + db.string() +
                             "\ntable: t\ncolumns: {w: $event_time, q: {field: metadata.queue, default: ''}, n: n}\n"
                             "key: [w, q]\n");
  h.start();
  h.push({h.event(kT0).set("n", 1).build()});
  h.watermark(kT0);
  h.push({h.event(kT0).set("n", 2).build()});  // the same window again: updated, not duplicated
  h.end_of_stream();
  EXPECT_EQ(sqlite_query(db, "SELECT q, n FROM t"), (Rows{{"", "2"}}));
  EXPECT_EQ(h.counter("write_errors"), 0u);
  h.stop();
}

TEST(SinkSqlite, RowsRejectedByTheTableAreCountedAndTheRestCommitted) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE t (q TEXT, n INTEGER CHECK (n >= 0))"), SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", "path: " + db.string() +
                                            "\ntable: t\ncolumns: {q: metadata.queue, n: {field: n, type: integer}}\n");
  h.start();
  h.push({h.event(kT0).set("metadata.queue", "a").set("n", 1).build(),
          h.event(kT0).set("metadata.queue", "b").set("n", -1).build(),
          h.event(kT0).set("metadata.queue", "c").set("n", 2).build()});
  h.watermark(kT0);
  EXPECT_EQ(sqlite_query(db, "SELECT q FROM t ORDER BY q"), (Rows{{"a"}, {"c"}}));
  EXPECT_EQ(h.counter("write_errors"), 1u);
  EXPECT_EQ(h.counter("rows_written"), 2u);
  EXPECT_TRUE(logged(h, "CHECK constraint failed")) << all_logs(h);
  EXPECT_TRUE(h.failure().empty());
  h.stop();
}

// ---- Existing tables ----------------------------------------------------------------------------

TEST(SinkSqlite, ExistingTableWithOtherColumnsIsAClearError) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE queue_snapshots (window_end TEXT, queue INTEGER, calls INTEGER)"), SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "table 'queue_snapshots' in '" + db.string() + "'")) << err;
  EXPECT_TRUE(contains(err, "missing column 'contacts'")) << err;
  EXPECT_TRUE(contains(err, "missing column 'avg_wait_time'")) << err;
  EXPECT_TRUE(contains(err, "column 'queue' is declared INTEGER but 'columns.queue.type' is text")) << err;
  EXPECT_TRUE(contains(err, "Expected columns: window_end, queue TEXT, contacts INTEGER, avg_wait_time REAL")) << err;
  EXPECT_TRUE(contains(err, "Found columns: window_end TEXT, queue INTEGER, calls INTEGER")) << err;
  EXPECT_TRUE(contains(err, "Pick another table name, or migrate the table")) << err;
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM pragma_table_info('queue_snapshots')"), "3")
      << "the table is left alone";
}

TEST(SinkSqlite, ExistingTableWithARequiredExtraColumnIsAnError) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE t (q TEXT, agent TEXT NOT NULL)"), SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", "path: " + db.string() + "\ntable: t\ncolumns: {q: metadata.queue}\n");
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "column 'agent' is NOT NULL without a default and is not configured")) << err;
}

TEST(SinkSqlite, ExistingTableWithoutAUniqueIndexAndCreateFalseIsAnError) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE queue_snapshots (window_end TEXT, queue TEXT, contacts INTEGER, avg_wait_time REAL);"
                     "CREATE UNIQUE INDEX only_queue ON queue_snapshots (queue)"),
              SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "create: false\n"));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "table 'queue_snapshots' in '" + db.string() +
                                "' has no UNIQUE index or PRIMARY KEY on exactly (window_end, queue)"))
      << err;
  EXPECT_TRUE(
      contains(err, "CREATE UNIQUE INDEX \"queue_snapshots_key\" ON \"queue_snapshots\" (\"window_end\", \"queue\")"))
      << err;
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM pragma_index_list('queue_snapshots')"), "1")
      << "create: false adds no index";
}

// The seed tutorial's own service makes metric_snapshots without a unique index on timestamp.
constexpr const char* kSeedSnapshots =
    "CREATE TABLE IF NOT EXISTS metric_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, "
    "total_interactions INTEGER NOT NULL, avg_handle_time REAL NOT NULL, avg_wait_time REAL NOT NULL, "
    "active_agents INTEGER NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP);";

std::string seed_config(const fs::path& db) {
  return "path: " + db.string() +
         "\ntable: metric_snapshots\ncolumns:\n  timestamp: $event_time\n"
         "  total_interactions: {field: contacts, type: integer, default: 0}\n"
         "  avg_handle_time: {field: aht, type: real, default: 0}\n"
         "  avg_wait_time: {field: avg_wait_time, type: real, default: 0}\n"
         "  active_agents: {field: agents, type: integer, default: 0}\nkey: [timestamp]\n";
}

TEST(SinkSqlite, SeedTutorialTableWithoutAUniqueTimestampIsMigrated) {
  TempDir d;
  const auto db = d / "seed.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec(std::string(kSeedSnapshots) +
                     "INSERT INTO metric_snapshots (timestamp, total_interactions, avg_handle_time, avg_wait_time, "
                     "active_agents) VALUES ('2025-12-31T23:59:00.000Z', 3, 1.5, 2.5, 4)"),
              SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", seed_config(db));
  h.start();
  EXPECT_TRUE(logged(h, "migrated table 'metric_snapshots'")) << all_logs(h);
  EXPECT_TRUE(logged(h, "CREATE UNIQUE INDEX \"metric_snapshots_key\" ON \"metric_snapshots\" (\"timestamp\")"))
      << all_logs(h);
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);
  h.push({snapshot(h, kT0, "sales", 7, 1.0)});  // the same window again: an upsert, not a second row
  h.end_of_stream();
  h.stop();
  EXPECT_EQ(sqlite_query(db, "SELECT timestamp, total_interactions FROM metric_snapshots ORDER BY id"),
            (Rows{{"2025-12-31T23:59:00.000Z", "3"}, {"2026-01-01T00:00:00.000Z", "7"}}));
  // The next start finds the index and logs no migration.
  auto again = Harness::load("sink-sqlite", seed_config(db));
  again.start();
  EXPECT_FALSE(logged(again, "migrated")) << all_logs(again);
  again.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, SeedTutorialTableWithDuplicateTimestampsIsRefusedWithTheQueryThatFindsThem) {
  TempDir d;
  const auto db = d / "seed.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec(std::string(kSeedSnapshots) +
                     "INSERT INTO metric_snapshots (timestamp, total_interactions, avg_handle_time, avg_wait_time, "
                     "active_agents) VALUES ('t1', 1, 1, 1, 1), ('t1', 2, 2, 2, 2), ('t2', 3, 3, 3, 3)"),
              SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", seed_config(db));
  const std::string err = start_error(h);
  const std::string query =
      "SELECT \"timestamp\", count(*) FROM \"metric_snapshots\" GROUP BY \"timestamp\" HAVING count(*) > 1";
  EXPECT_TRUE(contains(err, "2 rows share 1 key values")) << err;
  EXPECT_TRUE(contains(err, query)) << err;
  EXPECT_TRUE(contains(err, "remove 'key' for plain inserts")) << err;
  // The query really lists the duplicates, and nothing was changed.
  EXPECT_EQ(sqlite_query(db, query), (Rows{{"t1", "2"}}));
  EXPECT_EQ(count(db, "metric_snapshots"), "3");
}

TEST(SinkSqlite, ExistingTableWithAMatchingIndexIsUsed) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    // Other column order, index columns in another order, compatible declared types, an extra nullable column.
    ASSERT_EQ(c.exec("CREATE TABLE queue_snapshots (note TEXT, queue VARCHAR(40), avg_wait_time DOUBLE, "
                     "contacts BIGINT, window_end);"
                     "CREATE UNIQUE INDEX k ON queue_snapshots (queue, window_end)"),
              SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "create: false\n"));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);
  h.push({snapshot(h, kT0, "sales", 2, 1.0)});
  h.end_of_stream();
  EXPECT_EQ(sqlite_query(db, "SELECT queue, contacts, note IS NULL FROM queue_snapshots"), (Rows{{"sales", "2", "1"}}));
  h.stop();
}

TEST(SinkSqlite, IntegerPrimaryKeyServesAsTheKey) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"), SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", "path: " + db.string() + "\ntable: t\ncolumns: {id: seq, n: n}\nkey: [id]\n");
  h.start();
  h.push({h.event(kT0).set("seq", 1).set("n", 1).build(), h.event(kT0).set("seq", 1).set("n", 2).build()});
  h.end_of_stream();
  EXPECT_EQ(sqlite_query(db, "SELECT id, n FROM t"), (Rows{{"1", "2"}}));
  h.stop();
}

TEST(SinkSqlite, MissingTableWithCreateFalseIsAnError) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "create: false\n"));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "table 'queue_snapshots' in '" + db.string() + "' does not exist and 'create' is false"))
      << err;
}

// ---- Unusable paths -----------------------------------------------------------------------------

TEST(SinkSqlite, MissingFolderIsAClearErrorAtStart) {
  TempDir d;
  const auto db = d / "no" / "such" / "folder" / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "cannot open SQLite database '" + db.string() + "'")) << err;
  EXPECT_TRUE(contains(err, "the folder '" + (d / "no" / "such" / "folder").string() + "' does not exist")) << err;
  EXPECT_EQ(h.failure(), err.substr(err.find(": ") + 2)) << "reported as the component's failure";
}

TEST(SinkSqlite, PathThatIsAFolderOrBelowAFileIsAClearError) {
  TempDir d;
  {
    auto h = Harness::load("sink-sqlite", snapshot_config(d.path()));
    const std::string err = start_error(h);
    EXPECT_TRUE(contains(err, "'" + d.path().string() + "' is a folder: 'path' must name a database file")) << err;
  }
  {
    const auto file = d.write("plain.txt", "x");
    auto h = Harness::load("sink-sqlite", snapshot_config(file / "a.db"));
    const std::string err = start_error(h);
    EXPECT_TRUE(contains(err, "cannot open SQLite database '" + (file / "a.db").string() + "'")) << err;
    EXPECT_TRUE(contains(err, "'" + file.string() + "' is not a folder")) << err;
  }
}

TEST(SinkSqlite, FileThatIsNotADatabaseIsAClearError) {
  TempDir d;
  std::string junk;
  for (int i = 0; i < 200; ++i) junk += "this is a text file, not an SQLite database\n";
  const auto db = d.write("notes.db", junk);
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "file is not a database")) << err;
  EXPECT_TRUE(contains(err, "'" + db.string() + "' exists but is not an SQLite database")) << err;
  EXPECT_EQ(read_file(db), junk) << "the file is left alone";
}

TEST(SinkSqlite, ReadOnlyFolderIsAClearError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores folder permissions";
  TempDir d;
  const auto dir = d / "ro";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0555);
  auto h = Harness::load("sink-sqlite", snapshot_config(dir / "a.db"));
  const std::string err = start_error(h);
  ::chmod(dir.c_str(), 0755);
  EXPECT_TRUE(contains(err, "cannot open SQLite database '" + (dir / "a.db").string() + "'")) << err;
  EXPECT_TRUE(contains(err, "is not writable")) << err;
}

TEST(SinkSqlite, ReadOnlyDatabaseFileIsAClearError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE t (a)"), SQLITE_OK);
  }
  ::chmod(db.c_str(), 0444);
  auto h = Harness::load("sink-sqlite", "path: " + db.string() + "\ntable: t\ncolumns: {a: b}\n");
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "SQLite database '" + db.string() + "'")) << err;
  EXPECT_TRUE(contains(err, "the file is not writable")) << err;
}

// Root ignores permission bits, but not the immutable attribute (chattr +i, ext4/xfs/btrfs/tmpfs).
bool make_immutable(const fs::path& p, bool on) {
  return std::system(((on ? "chattr +i '" : "chattr -i '") + p.string() + "' 2>/dev/null").c_str()) == 0;
}

TEST(SinkSqlite, ReadOnlyDatabaseFileIsAClearErrorEvenAsRoot) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE t (a); INSERT INTO t VALUES (1)"), SQLITE_OK);
  }
  if (!make_immutable(db, true)) GTEST_SKIP() << "chattr +i is not available on " << d.path() << "'s file system";
  auto h = Harness::load("sink-sqlite", "path: " + db.string() + "\ntable: t\ncolumns: {a: b}\n");
  const std::string err = start_error(h);
  make_immutable(db, false);
  EXPECT_TRUE(contains(err, "SQLite database '" + db.string() + "'")) << err;
  EXPECT_TRUE(contains(err, "read-only")) << err;
  EXPECT_EQ(count(db, "t"), "1") << "what was committed stays";
}

TEST(SinkSqlite, DatabaseFileDeletedMidRunIsRecreatedWithTheTableAndReported) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);
  EXPECT_EQ(count(db), "1");
  fs::remove(db);  // an operator's rm, leaving -wal and -shm behind
  h.push({snapshot(h, kT0 + kMinute, "sales", 2, 1.0), snapshot(h, kT0 + kMinute, "support", 3, 1.0)});
  h.watermark(kT0 + kMinute);
  EXPECT_TRUE(logged(h, "the database file '" + db.string() + "' was deleted while sink-sqlite had it open"))
      << all_logs(h);
  EXPECT_TRUE(logged(h, "recreated '" + db.string() + "' with table 'queue_snapshots'")) << all_logs(h);
  ASSERT_TRUE(fs::exists(db));
  EXPECT_EQ(sqlite_query(db, "SELECT queue, contacts FROM queue_snapshots ORDER BY queue"),
            (Rows{{"sales", "2"}, {"support", "3"}}));
  EXPECT_EQ(h.counter("rows_written"), 3u);
  h.push({snapshot(h, kT0 + 2 * kMinute, "sales", 4, 1.0)});
  h.end_of_stream();
  h.stop();
  EXPECT_EQ(count(db), "3");
  expect_integrity(db);
}

TEST(SinkSqlite, DatabaseFileDeletedWithCreateFalseFailsTheComponent) {
  TempDir d;
  const auto db = d / "a.db";
  {
    Connection c(db);
    ASSERT_EQ(c.exec("CREATE TABLE queue_snapshots (window_end TEXT, queue TEXT, contacts INTEGER, avg_wait_time REAL, "
                     "UNIQUE (window_end, queue))"),
              SQLITE_OK);
  }
  auto h = Harness::load("sink-sqlite", snapshot_config(db, "create: false\n"));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);
  fs::remove(db);
  h.push({snapshot(h, kT0 + kMinute, "sales", 2, 1.0)});
  std::string err;
  try {
    h.watermark(kT0 + kMinute);
  } catch (const std::exception& e) {
    err = e.what();
  }
  EXPECT_TRUE(logged(h, "was deleted while sink-sqlite had it open")) << all_logs(h);
  EXPECT_TRUE(contains(err, "does not exist and 'create' is false")) << err;
}

// The database turns read-only under a running sink (chattr +i on the file and its -wal: even
// root's writes through open handles fail, as on a file system the kernel remounted read-only):
// a clear error, nothing committed lost, and the pending rows written by stop() once it is
// writable again.
TEST(SinkSqlite, DatabaseTurnedReadOnlyMidRunIsAClearErrorAndLosesNoCommit) {
  TempDir d;
  const auto db = d / "a.db";
  const fs::path wal = db.string() + "-wal";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  h.start();
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);
  ASSERT_EQ(count(db), "1");
  if (!make_immutable(db, true) || !make_immutable(wal, true)) {
    make_immutable(db, false);
    GTEST_SKIP() << "chattr +i is not available on " << d.path() << "'s file system";
  }
  h.push({snapshot(h, kT0 + kMinute, "sales", 2, 1.0)});
  std::string err;
  try {
    h.watermark(kT0 + kMinute);
  } catch (const std::exception& e) {
    err = e.what();
  }
  make_immutable(db, false);
  make_immutable(wal, false);
  EXPECT_TRUE(contains(err, "table 'queue_snapshots' in '" + db.string() + "'")) << err;
  EXPECT_TRUE(contains(err, "check the disk and the permissions")) << err;
  EXPECT_EQ(count(db), "1") << "the earlier commit is intact";
  h.stop();
  EXPECT_TRUE(logged(h, "committed 1 rows to table 'queue_snapshots'")) << all_logs(h);
  EXPECT_EQ(count(db), "2");
  expect_integrity(db);
}

TEST(SinkSqlite, UnwritableLocationIsAClearErrorEvenForRoot) {
  // procfs refuses new files to everyone, root included.
  const fs::path db = "/proc/cxflow-sink-sqlite-test.db";
  auto h = Harness::load("sink-sqlite", snapshot_config(db));
  const std::string err = start_error(h);
  EXPECT_TRUE(contains(err, "'" + db.string() + "'")) << err;
  EXPECT_FALSE(err.empty());
}

// ---- Locked database ---------------------------------------------------------------------------

TEST(SinkSqlite, LockedDatabaseIsRetriedWithBackoffThenFails) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite",
                         snapshot_config(db, "busy_timeout: 20ms\nlock_retries: 2\nlock_retry_backoff: 100ms\n"));
  h.start();
  Connection other(db);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK) << other.error();  // holds the write lock

  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  h.watermark(kT0);  // attempt 1: locked, a retry is scheduled; the pipeline keeps going
  EXPECT_TRUE(h.failure().empty()) << h.failure();
  EXPECT_TRUE(logged(h, "WARN '" + db.string() + "' is locked by another connection")) << all_logs(h);
  EXPECT_TRUE(logged(h, "retry 1/2 in 100 ms")) << all_logs(h);
  EXPECT_EQ(h.counter("rows_written"), 0u);

  h.push({snapshot(h, kT0 + kMinute, "sales", 2, 1.0)});
  h.watermark(kT0 + kMinute);  // a retry is pending: it takes these rows too, no extra attempt
  EXPECT_FALSE(logged(h, "retry 2/2")) << all_logs(h);

  h.advance(100);  // attempt 2
  EXPECT_TRUE(logged(h, "retry 2/2 in 200 ms")) << all_logs(h);
  EXPECT_TRUE(h.failure().empty());
  h.advance(199);
  EXPECT_TRUE(h.failure().empty());
  h.advance(1);  // attempt 3: gives up
  const std::string f = h.failure();
  EXPECT_TRUE(contains(f, "giving up on table 'queue_snapshots' in '" + db.string() + "'")) << f;
  EXPECT_TRUE(contains(f, "locked by another connection through 3 attempts to commit 2 rows")) << f;
  EXPECT_EQ(h.counter("commit_retries"), 2u);
  EXPECT_EQ(h.counter("rows_written"), 0u);

  // stop() tries once more: the lock is still held, so it reports the rows it could not write.
  try {
    h.stop();
    ADD_FAILURE() << "stop() should report the unwritten rows";
  } catch (const std::exception& e) {
    EXPECT_TRUE(contains(e.what(), "2 rows were not written")) << e.what();
  }
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  expect_integrity(db);
}

TEST(SinkSqlite, LockedDatabaseSucceedsOnceTheLockIsReleased) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite",
                         snapshot_config(db, "busy_timeout: 20ms\nlock_retries: 3\nlock_retry_backoff: 100ms\n"));
  h.start();
  Connection other(db);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK) << other.error();
  h.push({snapshot(h, kT0, "sales", 1, 1.0), snapshot(h, kT0, "support", 1, 1.0)});
  h.watermark(kT0);
  ASSERT_TRUE(logged(h, "retry 1/3")) << all_logs(h);
  ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);  // the other writer finishes
  h.advance(100);
  EXPECT_TRUE(h.failure().empty()) << h.failure();
  EXPECT_EQ(count(db), "2");
  EXPECT_EQ(h.counter("rows_written"), 2u);
  EXPECT_EQ(h.counter("commit_retries"), 1u);
  EXPECT_TRUE(logged(h, "committed 2 rows to table 'queue_snapshots' in '" + db.string() + "' after 1 retry"))
      << all_logs(h);
  // The retry count starts again for the next commit.
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  h.push({snapshot(h, kT0 + kMinute, "sales", 1, 1.0)});
  h.watermark(kT0 + kMinute);
  EXPECT_EQ(
      std::count_if(h.logs().begin(), h.logs().end(), [](const std::string& l) { return contains(l, "retry 1/3"); }),
      2);
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  h.end_of_stream();
  EXPECT_EQ(count(db), "3");
  h.stop();
  expect_integrity(db);
}

TEST(SinkSqlite, LockedDatabaseAtEndOfStreamFailsAfterBlockingRetries) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load("sink-sqlite",
                         snapshot_config(db, "busy_timeout: 10ms\nlock_retries: 2\nlock_retry_backoff: 1ms\n"));
  h.start();
  Connection other(db);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  h.push({snapshot(h, kT0, "sales", 1, 1.0)});
  EXPECT_THROW(h.end_of_stream(), std::runtime_error);
  EXPECT_TRUE(contains(h.failure(), "giving up on table 'queue_snapshots' in '" + db.string() + "'")) << h.failure();
  EXPECT_TRUE(logged(h, "retry 2/2 in 2 ms")) << all_logs(h);
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  // The lock is gone: stop() writes what was accepted after all.
  h.stop();
  EXPECT_EQ(count(db), "1");
  expect_integrity(db);
}

TEST(SinkSqlite, MaxBatchRowsWaitsForALockedDatabaseInsteadOfGrowing) {
  TempDir d;
  const auto db = d / "a.db";
  auto h = Harness::load(
      "sink-sqlite",
      snapshot_config(db, "busy_timeout: 10ms\nlock_retries: 1\nlock_retry_backoff: 1ms\nmax_batch_rows: 2\n"));
  h.start();
  Connection other(db);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  h.push({snapshot(h, kT0, "a", 1, 1.0)});
  EXPECT_THROW(h.push({snapshot(h, kT0, "b", 1, 1.0)}), std::runtime_error);
  EXPECT_TRUE(contains(h.failure(), "giving up on table 'queue_snapshots'")) << h.failure();
  EXPECT_TRUE(contains(h.failure(), "on max_batch_rows")) << h.failure();
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  h.stop();
  EXPECT_EQ(count(db), "2");
}

// ---- Concurrency -------------------------------------------------------------------------------

TEST(SinkSqlite, SeveralComponentsWriteOneFileConcurrently) {
  TempDir d;
  const auto db = d / "shared.db";
  constexpr int kComponents = 3, kWindows = 60, kQueues = 20;
  std::vector<Harness> sinks;
  for (int c = 0; c < kComponents; ++c) {
    sinks.push_back(
        Harness::load("sink-sqlite", "path: " + db.string() + "\ntable: t" + std::to_string(c) +
                                         "\ncolumns: {w: $event_time, q: metadata.queue, n: contacts}\nkey: [w, q]\n"
                                         "max_batch_rows: 7\n"));
  }
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kComponents);
  for (int c = 0; c < kComponents; ++c) {
    threads.emplace_back([&, c] {
      try {
        Harness& h = sinks[c];
        h.start();
        for (int w = 0; w < kWindows; ++w) {
          std::vector<Event> batch;
          for (int q = 0; q < kQueues; ++q)
            batch.push_back(
                h.event(kT0 + w * kMinute).set("metadata.queue", ("q" + std::to_string(q)).c_str()).set("contacts", w));
          h.push(std::move(batch));
          h.watermark(kT0 + w * kMinute);
        }
        h.end_of_stream();
        h.stop();
      } catch (const std::exception& e) {
        errors[c] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kComponents; ++c) {
    EXPECT_EQ(errors[c], "") << "component " << c;
    EXPECT_EQ(count(db, "t" + std::to_string(c)), std::to_string(kWindows * kQueues));
    EXPECT_EQ(sinks[c].counter("rows_written"), static_cast<std::uint64_t>(kWindows * kQueues));
  }
  expect_integrity(db);
}

// ---- Config errors -----------------------------------------------------------------------------

TEST(SinkSqliteConfig, BadTableName) {
  const auto e = config_error("path: a.db\ntable: queue-snapshots\ncolumns: {a: b}\n");
  EXPECT_TRUE(contains(e, "'table': 'queue-snapshots' is not a valid table name")) << e;
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: sqlite_x\ncolumns: {a: b}\n"),
                       "'table': names starting with 'sqlite_' are reserved"));
}

TEST(SinkSqliteConfig, BadColumnName) {
  const auto e = config_error("path: a.db\ntable: t\ncolumns:\n  ok: a\n  1bad: b\n");
  EXPECT_TRUE(contains(e, "<test>:5:3: 'columns.1bad': not a valid column name")) << e;
}

TEST(SinkSqliteConfig, DuplicateColumnIgnoringCase) {
  const auto e = config_error("path: a.db\ntable: t\ncolumns:\n  Queue: a\n  queue: b\n");
  EXPECT_TRUE(contains(e, "'columns.queue': duplicate column")) << e;
}

TEST(SinkSqliteConfig, KeyColumnNotInColumns) {
  const auto e = config_error(
      "path: a.db\ntable: t\ncolumns: {window_end: $event_time, queue: metadata.queue}\nkey: [window_end, queeu]\n");
  EXPECT_TRUE(
      contains(e, "'key': 'queeu' is not one of the configured columns [window_end, queue]; did you mean 'queue'?"))
      << e;
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\ncolumns: {a: b}\nkey: [a, A]\n"),
                       "'key': column 'A' is listed twice"));
}

TEST(SinkSqliteConfig, UnknownColumnType) {
  const auto e = config_error("path: a.db\ntable: t\ncolumns:\n  n: {field: contacts, type: integr}\n");
  EXPECT_TRUE(contains(
      e, "<test>:4:30: 'columns.n.type': 'integr' is not one of [text, integer, real, any]; did you mean 'integer'?"))
      << e;
}

TEST(SinkSqliteConfig, UnknownColumnKey) {
  const auto e = config_error("path: a.db\ntable: t\ncolumns:\n  n: {feild: contacts}\n");
  EXPECT_TRUE(contains(e, "'columns.n.feild': unknown key; did you mean 'field'?")) << e;
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\ncolumns:\n  n: {type: integer}\n"),
                       "'columns.n': missing required key 'field'"));
}

TEST(SinkSqliteConfig, DefaultThatDoesNotFitTheType) {
  const auto e = config_error("path: a.db\ntable: t\ncolumns:\n  n: {field: contacts, type: integer, default: 2.5}\n");
  EXPECT_TRUE(contains(e, "'columns.n.default': '2.5' is not an integer")) << e;
}

TEST(SinkSqliteConfig, SpecialFields) {
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\ncolumns: {w: $event_tme}\n"),
                       "'columns.w': unknown special field '$event_tme'"));
  EXPECT_TRUE(
      contains(config_error("path: a.db\ntable: t\ncolumns: {w: {field: $event_time, type: integer}}\n"),
               "'columns.w': $event_time is ISO 8601 text and cannot be stored as integer; use $event_time_ms"));
}

TEST(SinkSqliteConfig, ColumnsMustBeAMap) {
  EXPECT_TRUE(
      contains(config_error("path: a.db\ntable: t\ncolumns: [a, b]\n"), "'columns': expected a map of column: field"));
  EXPECT_TRUE(
      contains(config_error("path: a.db\ntable: t\ncolumns: {}\n"), "'columns': at least one column is required"));
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\n"), "missing required key 'columns'"));
}

TEST(SinkSqliteConfig, BadEnumAndRanges) {
  EXPECT_TRUE(
      contains(config_error("path: a.db\ntable: t\ncolumns: {a: b}\nsynchronous: fulll\n"), "did you mean 'full'?"));
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\ncolumns: {a: b}\nmax_batch_rows: 0\n"), "'max_batch_rows'"));
  EXPECT_TRUE(contains(config_error("path: a.db\ntable: t\ncolumns: {a: b}\nlock_retries: -1\n"), "'lock_retries'"));
}

TEST(SinkSqliteConfig, ExampleConfiguresAndEveryKeyIsDescribed) {
  const auto& api = Harness::api("sink-sqlite");
  EXPECT_NO_THROW(Harness::load("sink-sqlite", api.example()));
  for (const auto& k : api.schema().keys) EXPECT_GT(k.description.size(), 30u) << k.name;
}
