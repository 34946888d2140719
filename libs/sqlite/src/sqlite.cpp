#include "cxflow/sqlite/sqlite.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <thread>
#include <utility>

namespace cxflow::sqlite {

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool is_reserved(std::string_view name) {
  if (name.size() < 7) return false;
  std::string p(name.substr(0, 7));
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return p == "sqlite_";
}

std::string identifier_problem(std::string_view name) {
  if (!is_identifier(name))
    return "'" + std::string(name) + "' is not a valid name: use letters, digits and '_', not starting with a digit";
  if (is_reserved(name)) return "names starting with 'sqlite_' are reserved by SQLite; pick another name";
  return {};
}

std::string quote_identifier(std::string_view name) {
  std::string q = "\"";
  for (char c : name) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

bool is_uri_path(std::string_view path) {
  if (path.empty() || path == ":memory:") return true;
  if (path.size() < 5) return false;
  std::string p(path.substr(0, 5));
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return p == "file:";
}

std::string path_problem(std::string_view path, bool allow_uri, std::string_view key) {
  if (path.empty()) return "must name a database file, e.g. cxflow.db";
  if (allow_uri || !is_uri_path(path)) return {};
  return "'" + std::string(path) +
         "' is an SQLite URI or in-memory name, not a file: SQLite would honour its options (mode=memory writes "
         "nothing to disk). Name a plain file, or set " +
         std::string(key) + ": true if a URI is meant";
}

std::optional<FileId> file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

bool remove_orphaned_journal(const std::string& path) {
  if (file_id(path)) return false;
  bool removed = false;
  for (const char* suffix : {"-wal", "-shm"}) removed = ::unlink((path + suffix).c_str()) == 0 || removed;
  return removed;
}

bool is_locked(int rc) { return primary(rc) == SQLITE_BUSY || primary(rc) == SQLITE_LOCKED; }
int primary(int rc) { return rc & 0xff; }

std::int64_t RetryPolicy::delay_ms(int retry) const {
  const std::int64_t cap = std::max<std::int64_t>(1, max_backoff_ms);
  std::int64_t d = std::max<std::int64_t>(1, backoff_ms);
  for (int i = 1; i < retry && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

std::int64_t RetryPolicy::worst_case_ms() const {
  std::int64_t total = busy_timeout_ms;
  for (int i = 1; i <= retries; ++i) total += delay_ms(i) + busy_timeout_ms;
  return total;
}

// ---- Connection ---------------------------------------------------------------------------------

Connection::Connection(const std::string& path, const OpenOptions& o) : path_(path) {
  int flags = o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (o.create && !o.read_only) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  // Without SQLITE_OPEN_URI a "file:" name is still a URI when SQLite was built with
  // SQLITE_USE_URI (Debian's is); callers refuse such paths first (path_problem).
  if (o.uri) flags |= SQLITE_OPEN_URI;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw Error("cannot open SQLite database '" + path + "': " + msg, rc);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Connection::~Connection() { close(); }

Connection::Connection(Connection&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

void Connection::close() noexcept {
  // close_v2: statements still alive (members destroyed later) keep the handle until finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void Connection::busy_timeout(std::int64_t ms) {
  sqlite3_busy_timeout(db_, static_cast<int>(std::clamp<std::int64_t>(ms, 0, INT_MAX)));
}

bool Connection::read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }

int Connection::try_exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }

void Connection::exec(const std::string& sql, const std::string& what) {
  const int rc = try_exec(sql);
  if (rc != SQLITE_OK) throw Error(what + ": " + errmsg(), rc);
}

int Connection::exec_retrying(const std::string& sql, const RetryPolicy& policy,
                              const std::function<void(int, std::int64_t)>& on_retry) {
  for (int attempt = 1;; ++attempt) {
    const int rc = try_exec(sql);
    if (!is_locked(rc) || attempt > policy.retries) return rc;
    const std::int64_t delay = policy.delay_ms(attempt);
    if (on_retry) on_retry(attempt, delay);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
}

Statement Connection::prepare(const std::string& sql, bool persistent) { return Statement(*this, sql, persistent); }

std::string Connection::errmsg() const { return db_ ? sqlite3_errmsg(db_) : "no connection"; }

bool Connection::in_transaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

void Connection::rollback_quietly() noexcept {
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

// ---- Statement ----------------------------------------------------------------------------------

Statement::Statement(Connection& db, const std::string& sql, bool persistent) {
  const int rc = sqlite3_prepare_v3(db.get(), sql.c_str(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st_, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db.errmsg();
    sqlite3_finalize(st_);
    st_ = nullptr;
    throw Error("preparing " + sql.substr(0, 120) + ": " + msg, rc);
  }
}

Statement::~Statement() { sqlite3_finalize(st_); }

Statement::Statement(Statement&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    st_ = std::exchange(o.st_, nullptr);
  }
  return *this;
}

Statement& Statement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  sqlite3_bind_double(st_, i, v);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_static(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(st_, i);
  return *this;
}
int Statement::step() { return sqlite3_step(st_); }
void Statement::reset() noexcept {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}
std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(st_, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(st_, col); }
double Statement::real(int col) const { return sqlite3_column_double(st_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

// ---- Transaction --------------------------------------------------------------------------------

int Transaction::begin() {
  const int rc = db_.try_exec("BEGIN IMMEDIATE");
  open_ = rc == SQLITE_OK;
  return rc;
}

int Transaction::commit() {
  const int rc = db_.try_exec("COMMIT");
  if (rc == SQLITE_OK) open_ = false;
  return rc;
}

}  // namespace cxflow::sqlite
