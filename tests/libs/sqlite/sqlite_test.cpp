// cxflow-sqlite on its own: identifiers, URI paths, the retry policy, RAII handles, the
// transaction guard and file identity, against real database files.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cxflow/sqlite/sqlite.hpp>
#include <filesystem>

#include "process.hpp"

using namespace cxflow::sqlite;
using cxflow::test::sqlite_scalar;
using cxflow::test::TempDir;
namespace fs = std::filesystem;

TEST(SqliteLib, IdentifiersAreCheckedAndQuoted) {
  EXPECT_TRUE(is_identifier("queue_snapshots"));
  EXPECT_TRUE(is_identifier("_x1"));
  EXPECT_FALSE(is_identifier(""));
  EXPECT_FALSE(is_identifier("1x"));
  EXPECT_FALSE(is_identifier("a-b"));
  EXPECT_FALSE(is_identifier("a\"b"));
  EXPECT_FALSE(is_identifier(std::string(129, 'a')));
  EXPECT_TRUE(is_reserved("SQLite_master"));
  EXPECT_FALSE(is_reserved("sqlit"));
  EXPECT_EQ(identifier_problem("ok_name"), "");
  EXPECT_NE(identifier_problem("x y").find("letters, digits and '_'"), std::string::npos);
  EXPECT_NE(identifier_problem("sqlite_t").find("reserved"), std::string::npos);
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

TEST(SqliteLib, UriAndMemoryPathsAreRefusedUnlessAllowed) {
  EXPECT_TRUE(is_uri_path("file:x.db?mode=memory"));
  EXPECT_TRUE(is_uri_path("FILE:x.db"));
  EXPECT_TRUE(is_uri_path(":memory:"));
  EXPECT_FALSE(is_uri_path("file.db"));
  EXPECT_FALSE(is_uri_path("./file:x.db"));
  const std::string p = path_problem("file:x.db?mode=memory", false, "uri");
  EXPECT_NE(p.find("set uri: true"), std::string::npos) << p;
  EXPECT_EQ(path_problem("file:x.db?mode=memory", true, "uri"), "");
  EXPECT_EQ(path_problem("x.db", false, "uri"), "");
  EXPECT_NE(path_problem("", true, "uri"), "");
}

TEST(SqliteLib, RetryPolicyDoublesUpToItsCap) {
  RetryPolicy p{.busy_timeout_ms = 100, .retries = 4, .backoff_ms = 200, .max_backoff_ms = 500};
  EXPECT_EQ(p.delay_ms(1), 200);
  EXPECT_EQ(p.delay_ms(2), 400);
  EXPECT_EQ(p.delay_ms(3), 500);
  EXPECT_EQ(p.delay_ms(30), 500);
  EXPECT_EQ(p.worst_case_ms(), 100 + (200 + 400 + 500 + 500) + 4 * 100);
}

TEST(SqliteLib, ConnectionStatementsAndTransactionRollBackUnlessCommitted) {
  TempDir d;
  const auto db = d / "t.db";
  {
    Connection c(db.string(), {});
    c.exec("CREATE TABLE t (a INTEGER, b TEXT)", "creating");
    Statement ins = c.prepare("INSERT INTO t VALUES (?1, ?2)", true);
    {
      Transaction tx(c);
      ASSERT_EQ(tx.begin(), SQLITE_OK);
      ins.bind(1, std::int64_t{1}).bind(2, std::string_view("one"));
      EXPECT_EQ(ins.step(), SQLITE_DONE);
      ins.reset();
    }  // not committed: rolled back
    EXPECT_FALSE(c.in_transaction());
    Transaction tx(c);
    ASSERT_EQ(tx.begin(), SQLITE_OK);
    ins.bind(1, std::int64_t{2}).bind(2, std::string_view("two"));
    EXPECT_EQ(ins.step(), SQLITE_DONE);
    ins.reset();
    EXPECT_EQ(tx.commit(), SQLITE_OK);
    Statement q = c.prepare("SELECT a, b FROM t");
    ASSERT_EQ(q.step(), SQLITE_ROW);
    EXPECT_EQ(q.int64(0), 2);
    EXPECT_EQ(q.text(1), "two");
    EXPECT_EQ(q.step(), SQLITE_DONE);
    EXPECT_THROW(c.prepare("SELECT nope FROM t"), Error);
  }
  EXPECT_EQ(sqlite_scalar(db, "SELECT count(*) FROM t"), "1");
}

TEST(SqliteLib, OpenFailureNamesThePath) {
  TempDir d;
  try {
    Connection c((d / "missing" / "x.db").string(), {});
    FAIL() << "opened a database in a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x.db"), std::string::npos) << e.what();
    EXPECT_EQ(primary(e.rc()), SQLITE_CANTOPEN);
  }
}

TEST(SqliteLib, ReadOnlyOpenRefusesWritesEvenAsRoot) {
  TempDir d;
  const auto db = d / "ro.db";
  { Connection(db.string(), {}).exec("CREATE TABLE t (a)", "creating"); }
  Connection c(db.string(), {.create = false, .read_only = true});
  EXPECT_TRUE(c.read_only());
  const int rc = c.try_exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(primary(rc), SQLITE_READONLY);
}

TEST(SqliteLib, LockedExecIsRetriedByThePolicyThenReportsLocked) {
  TempDir d;
  const auto db = d / "lock.db";
  Connection holder(db.string(), {});
  holder.exec("CREATE TABLE t (a)", "creating");
  holder.exec("BEGIN IMMEDIATE", "locking");
  Connection c(db.string(), {});
  c.busy_timeout(10);
  int retries = 0;
  const int rc = c.exec_retrying("INSERT INTO t VALUES (1)", {.busy_timeout_ms = 10, .retries = 3, .backoff_ms = 5},
                                 [&](int attempt, std::int64_t) { retries = attempt; });
  EXPECT_TRUE(is_locked(rc));
  EXPECT_EQ(retries, 3);
  holder.exec("COMMIT", "unlocking");
  EXPECT_EQ(c.exec_retrying("INSERT INTO t VALUES (1)", {.retries = 3}), SQLITE_OK);
}

TEST(SqliteLib, FileIdChangesWhenTheFileIsDeletedAndRecreated) {
  TempDir d;
  const auto db = d / "id.db";
  Connection c(db.string(), {});
  c.exec("CREATE TABLE t (a)", "creating");
  const auto before = file_id(db.string());
  ASSERT_TRUE(before);
  EXPECT_EQ(file_id(db.string()), before);
  fs::remove(db);
  EXPECT_FALSE(file_id(db.string()));
  // Still-open connection keeps the old inode alive, so a new file cannot reuse it.
  { Connection(db.string(), {}).exec("CREATE TABLE u (a)", "creating"); }
  const auto after = file_id(db.string());
  ASSERT_TRUE(after);
  EXPECT_NE(*after, *before);
}

TEST(SqliteLib, OrphanedJournalOfADeletedDatabaseIsRemovedOnlyWhileThePathIsFree) {
  TempDir d;
  const auto db = d / "j.db";
  Connection c(db.string(), {});
  c.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (a); INSERT INTO t VALUES (1)", "writing");
  ASSERT_TRUE(fs::exists(db.string() + "-wal"));
  EXPECT_FALSE(remove_orphaned_journal(db.string())) << "the database exists: its journal is live";
  EXPECT_TRUE(fs::exists(db.string() + "-wal"));
  fs::remove(db);
  c.close();
  EXPECT_TRUE(fs::exists(db.string() + "-wal")) << "SQLite leaves the deleted file's journal behind";
  EXPECT_TRUE(remove_orphaned_journal(db.string()));
  EXPECT_FALSE(fs::exists(db.string() + "-wal"));
  EXPECT_FALSE(fs::exists(db.string() + "-shm"));
}
