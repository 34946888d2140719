// cxflow-sqlite: the one SQLite layer of the plugins that write SQLite (sink-sqlite, sink-alerts'
// store). RAII connection and statements, one busy/locked retry policy, identifier checks, a
// BEGIN IMMEDIATE transaction guard, refusal of URI and in-memory paths unless asked for, and the
// file identity (device, inode) that tells a deleted or replaced database file apart.
//
// A static library linked into each plugin (hidden visibility there); it knows nothing of the
// host or of plugin-api.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace cxflow::sqlite {

// ---- Identifiers --------------------------------------------------------------------------------

// Letters, digits and '_', not starting with a digit, at most 128 characters.
bool is_identifier(std::string_view name);
// True for names SQLite reserves (sqlite_..., any case).
bool is_reserved(std::string_view name);
// "" when `name` may name a table or column, else why not (for config messages).
std::string identifier_problem(std::string_view name);
// "name" with embedded quotes doubled.
std::string quote_identifier(std::string_view name);

// ---- Paths --------------------------------------------------------------------------------------

// A path SQLite would not treat as a plain file name: a URI (file:...) or ":memory:" / "".
bool is_uri_path(std::string_view path);
// "" when `path` is acceptable; else why not. URIs are accepted only with `allow_uri`.
std::string path_problem(std::string_view path, bool allow_uri, std::string_view key);

// Device and inode of a file, to notice it was deleted or replaced under an open connection.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};
std::optional<FileId> file_id(const std::string& path);
// After `path` was deleted under an open connection (and that connection closed): removes the
// deleted database's leftover PATH-wal and PATH-shm, so a database recreated at `path` does not
// start beside the old one's journal (SQLite would replay it into the new file). Connections
// still open on the deleted file keep their own handles. Returns true if a file was removed;
// does nothing when `path` exists again.
bool remove_orphaned_journal(const std::string& path);

// ---- Result codes -------------------------------------------------------------------------------

bool is_locked(int rc);  // SQLITE_BUSY or SQLITE_LOCKED (any extended code)
int primary(int rc);     // rc & 0xff

// An SQLite failure: the message says what was done and why it failed; rc is the extended code.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int rc) : std::runtime_error(message), rc_(rc) {}
  int rc() const noexcept { return rc_; }
  bool locked() const noexcept { return is_locked(rc_); }

 private:
  int rc_;
};

// ---- Retry policy -------------------------------------------------------------------------------

// How a locked database is retried, the same in every plugin: each attempt waits busy_timeout for
// the lock inside SQLite; a locked attempt is retried `retries` times, after `backoff`, doubling
// each time up to `max_backoff`. Config keys: busy_timeout, lock_retries, lock_retry_backoff.
struct RetryPolicy {
  std::int64_t busy_timeout_ms = 5000;
  int retries = 5;
  std::int64_t backoff_ms = 200;
  std::int64_t max_backoff_ms = 30'000;

  // Wait before retry number `retry` (1-based).
  std::int64_t delay_ms(int retry) const;
  // The longest a commit can wait in total before it gives up (for messages).
  std::int64_t worst_case_ms() const;
};

// ---- Connection and statements ------------------------------------------------------------------

class Statement;

struct OpenOptions {
  bool create = true;
  bool read_only = false;
  bool uri = false;  // let SQLite interpret file: URIs (refused otherwise by path_problem)
};

class Connection {
 public:
  Connection() = default;
  // Opens `path` (extended result codes on). Throws Error naming the path on failure.
  Connection(const std::string& path, const OpenOptions& options);
  ~Connection();
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  explicit operator bool() const noexcept { return db_ != nullptr; }
  sqlite3* get() const noexcept { return db_; }
  const std::string& path() const noexcept { return path_; }
  void close() noexcept;

  void busy_timeout(std::int64_t ms);
  bool read_only() const;
  // sqlite3_exec; returns the result code (no throw).
  int try_exec(const std::string& sql);
  // sqlite3_exec; throws Error("<what>: <errmsg>").
  void exec(const std::string& sql, const std::string& what);
  // try_exec, retried by `policy` while locked (blocking sleeps). Returns the last code.
  // `on_retry(attempt, delay_ms)` is called before each wait (to log it).
  int exec_retrying(const std::string& sql, const RetryPolicy& policy,
                    const std::function<void(int, std::int64_t)>& on_retry = {});
  Statement prepare(const std::string& sql, bool persistent = false);
  std::string errmsg() const;
  bool in_transaction() const;
  void rollback_quietly() noexcept;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement() = default;
  Statement(Connection& db, const std::string& sql, bool persistent);
  ~Statement();
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  explicit operator bool() const noexcept { return st_ != nullptr; }
  sqlite3_stmt* get() const noexcept { return st_; }

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);         // copied (SQLITE_TRANSIENT)
  Statement& bind_static(int i, std::string_view v);  // must outlive step()
  Statement& bind_null(int i);
  // One step: SQLITE_ROW, SQLITE_DONE or an error code (no throw).
  int step();
  void reset() noexcept;  // reset + clear bindings
  std::string text(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3_stmt* st_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& db) : db_(db) {}
  ~Transaction() {
    if (open_) db_.rollback_quietly();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  int begin();   // result code; open on SQLITE_OK
  int commit();  // result code; closed on SQLITE_OK
  bool open() const noexcept { return open_; }

 private:
  Connection& db_;
  bool open_ = false;
};

}  // namespace cxflow::sqlite
