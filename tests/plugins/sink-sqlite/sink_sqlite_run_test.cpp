// sink-sqlite inside the real cxflow binary: several sinks on one database file, a locked
// database failing the pipeline with a non-zero exit, validate not touching the disk.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>

#include "process.hpp"

using namespace cxflow::test;
namespace fs = std::filesystem;

namespace {

const std::string kTestPlugins = CXFLOW_TEST_PLUGIN_DIR;

ProcessResult run_cxflow(const std::string& command, const fs::path& yaml) {
  return run_process({cxflow_bin(), command, yaml.string(), "--no-status", "--plugin-dir", plugin_dir(), "--plugin-dir",
                      kTestPlugins});
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The summary line the host logs for a component at exit ("[sink:sink-sqlite:out] commits=..., rows_written=...").
std::string summary_of(const std::string& log, const std::string& prefix) {
  std::string found;
  std::size_t at = 0;
  while ((at = log.find(prefix + " commits=", at)) != std::string::npos) {
    const std::size_t end = log.find('\n', at);
    found = log.substr(at, end == std::string::npos ? std::string::npos : end - at);
    ++at;
  }
  return found;
}

std::string sink(const std::string& name, const fs::path& db, const std::string& table, const std::string& extra = "") {
  return "  " + name + ":\n    plugin: sink-sqlite\n    inputs: [nums]\n    path: " + db.string() +
         "\n    table: " + table +
         "\n    columns: {t: $event_time, seq: {field: seq, type: integer}, grp: {field: group, type: text}}\n" + extra;
}

}  // namespace

TEST(SinkSqliteRun, SeveralSinksShareOneDatabaseFile) {
  TempDir d;
  const auto db = d / "shared.db";
  const auto y = d.write("p.yaml",
                         "runtime: {threads: 2}\n"
                         "sources:\n  nums: {plugin: test-source, count: 20000, batch: 50, groups: 7}\n"
                         "sinks:\n" +
                             sink("upserts", db, "by_seq", "    key: [seq]\n    max_batch_rows: 300\n") +
                             sink("inserts", db, "all_rows") +
                             sink("again", db, "by_group_seq", "    key: [grp, seq]\n    synchronous: full\n"));
  auto v = run_cxflow("validate", y);
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_FALSE(fs::exists(db)) << "validate must not create the database";

  auto r = run_cxflow("run", y);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM by_seq"), "20000");
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM all_rows"), "20000");
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM by_group_seq"), "20000");
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(DISTINCT grp) FROM all_rows"), "7");
  EXPECT_EQ(sqlite_scalar(db, "SELECT t FROM by_seq WHERE seq = 1"), "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
  for (const char* name : {"upserts", "inserts", "again"}) {
    const std::string line = summary_of(r.err, std::string("[sink:sink-sqlite:") + name + "]");
    EXPECT_TRUE(contains(line, "rows_written=20000")) << name << ": " << r.err;
    EXPECT_FALSE(contains(line, "write_errors")) << line;
  }
  EXPECT_TRUE(contains(r.err, "60000 rows written")) << r.err;

  // A second run re-writes the same rows: the keyed tables do not grow, the plain one does.
  auto again = run_cxflow("run", y);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM by_seq"), "20000");
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM by_group_seq"), "20000");
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM all_rows"), "40000");
}

TEST(SinkSqliteRun, LockedDatabaseFailsThePipelineWithANonZeroExit) {
  TempDir d;
  const auto db = d / "locked.db";
  {
    // The table exists already, so start-up needs no write lock.
    sqlite3* c = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &c), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t (t, seq INTEGER, grp TEXT)", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(c);
  }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  const auto y =
      d.write("p.yaml",
              "sources:\n  nums: {plugin: test-source, count: 100, batch: 10}\n"
              "sinks:\n" +
                  sink("out", db, "t", "    busy_timeout: 20ms\n    lock_retries: 2\n    lock_retry_backoff: 10ms\n"));
  auto r = run_cxflow("run", y);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "[sink:sink-sqlite:out]")) << r.err;
  EXPECT_TRUE(contains(r.err, "'" + db.string() + "' is locked by another connection")) << r.err;
  EXPECT_TRUE(contains(r.err, "giving up on table 't' in '" + db.string() + "'")) << r.err;
  EXPECT_TRUE(contains(r.err, "component 'out' failed")) << r.err;
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
}

TEST(SinkSqliteRun, StartErrorNamesThePath) {
  TempDir d;
  const auto db = d / "missing-folder" / "a.db";
  const auto y =
      d.write("p.yaml", "sources:\n  nums: {plugin: test-source, count: 10}\nsinks:\n" + sink("out", db, "t"));
  auto r = run_cxflow("run", y);
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "cannot open SQLite database '" + db.string() + "'")) << r.err;
}

TEST(SinkSqliteRun, KillDashNineLeavesWholeCommitsAndAnIntactDatabase) {
  TempDir d;
  const auto db = d / "crash.db";
  // Every source batch (10 rows) arrives with a watermark, so every commit holds whole batches.
  const auto y =
      d.write("p.yaml",
              "sources:\n  nums: {plugin: test-source, forever: true, batch: 10, pace: 1ms}\n"
              "sinks:\n" +
                  sink("out", db, "t", "    key: [seq]\n    commit_interval: 1h\n    max_batch_rows: 100000\n"));
  Child child(
      {cxflow_bin(), "run", y.string(), "--no-status", "--plugin-dir", plugin_dir(), "--plugin-dir", kTestPlugins},
      d.path());
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          return std::stoll("0" + sqlite_scalar(db, "SELECT count(*) FROM t")) >= 500;
        } catch (const std::exception&) {
          return false;  // not created yet
        }
      },
      std::chrono::seconds(60)))
      << child.err();
  child.signal(SIGKILL);
  ASSERT_TRUE(child.wait(std::chrono::seconds(30)).has_value());
  EXPECT_EQ(sqlite_scalar(db, "PRAGMA integrity_check"), "ok");
  const auto rows = std::stoll(sqlite_scalar(db, "SELECT count(*) FROM t"));
  EXPECT_GE(rows, 500);
  EXPECT_EQ(rows % 10, 0) << "a commit is never partial";
  EXPECT_EQ(sqlite_scalar(db, "SELECT max(seq) + 1 FROM t"), std::to_string(rows)) << "no gaps: commits land in order";
}

// ---- Storage faults -------------------------------------------------------------------------

TEST(SinkSqliteRun, UriPathIsRefusedByValidateAtThePathKeyUnlessAsked) {
  TempDir d;
  const std::string pipeline =
      "sources:\n  nums: {plugin: test-source, count: 10}\n"
      "sinks:\n  out:\n    plugin: sink-sqlite\n    inputs: [nums]\n"
      "    path: 'file:x.db?mode=memory'\n    table: t\n    columns: {seq: seq}\n";
  const auto y = d.write("p.yaml", pipeline);
  auto v = run_cxflow("validate", y);
  EXPECT_NE(v.exit_code, 0) << v.err;
  const std::string all = v.out + v.err;
  EXPECT_TRUE(contains(all, "p.yaml:7:")) << all;  // the line of `path`, not of the component
  EXPECT_TRUE(contains(all, "mode=memory writes nothing to disk")) << all;
  EXPECT_TRUE(contains(all, "set uri: true")) << all;
  auto r = run_cxflow("run", y);
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.err, "rows_written=10")) << r.err;

  const auto ok = d.write("ok.yaml", pipeline + "    uri: true\n");
  auto v2 = run_cxflow("validate", ok);
  EXPECT_EQ(v2.exit_code, 0) << v2.err;
}

// A tmpfs of 256 KiB fills up mid-run: SQLITE_FULL fails the sink with a clear error, the host
// drains and exits non-zero, and every row an earlier commit reported is in the file.
TEST(SinkSqliteRun, DiskFullFailsThePipelineAndKeepsEarlierCommits) {
  TempDir d;
  const auto mnt = d / "small";
  fs::create_directory(mnt);
  const std::string mount = "mount -t tmpfs -o size=256k tmpfs " + mnt.string() + " 2>/dev/null";
  if (std::system(mount.c_str()) != 0) GTEST_SKIP() << "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)";
  struct Unmount {
    std::string dir;
    ~Unmount() { (void)std::system(("umount " + dir).c_str()); }
  } unmount{mnt.string()};
  const auto db = mnt / "full.db";
  const auto y = d.write("p.yaml",
                         "sources:\n  nums: {plugin: test-source, count: 200000, batch: 100}\n"
                         "sinks:\n" +
                             sink("out", db, "t"));
  auto r = run_cxflow("run", y);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "database or disk is full")) << r.err;
  EXPECT_TRUE(contains(r.err, "the disk is full")) << r.err;
  EXPECT_TRUE(contains(r.err, "component 'out' failed")) << r.err;
  const std::string line = summary_of(r.err, "[sink:sink-sqlite:out]");
  const auto at = line.find("rows_written=");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string written = std::to_string(std::stoll(line.substr(at + 13)));
  EXPECT_GT(std::stoll(written), 0) << r.err;
  // Read a copy (the full tmpfs has no room for a reader's -shm): what was committed is there.
  const auto copy = d / "copy";
  fs::create_directory(copy);
  for (const char* suffix : {"", "-wal"})
    if (fs::exists(db.string() + suffix)) fs::copy_file(db.string() + suffix, copy.string() + "/full.db" + suffix);
  EXPECT_EQ(sqlite_scalar(copy / "full.db", "SELECT count(*) FROM t"), written);
  EXPECT_EQ(sqlite_scalar(copy / "full.db", "PRAGMA integrity_check"), "ok");
}
