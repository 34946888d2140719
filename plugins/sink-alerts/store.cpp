#include "store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>

#include <cxflow/time.hpp>

namespace cxflow::alerts {

namespace {

Level level_from(const std::string& s) {
  if (s == "critical") return Level::Critical;
  if (s == "warning") return Level::Warning;
  return Level::Ok;
}

std::string hint(int rc) {
  switch (sqlite::primary(rc)) {
    case SQLITE_FULL:
      return "; the disk is full (the alerts are kept in memory and retried at the next commit)";
    case SQLITE_READONLY:
      return "; the database is read-only: check the permissions of the file and its folder";
    case SQLITE_CANTOPEN:
      return "; check that the folder exists and is writable";
    case SQLITE_NOTADB:
      return "; the file is not an SQLite database";
    default:
      return "";
  }
}

}  // namespace

Store::Store(const SqliteConfig& cfg) : cfg_(cfg) {
  if (cfg_.state_table.empty()) cfg_.state_table = cfg_.table + "_state";
}

Store::~Store() = default;

sqlite::RetryPolicy Store::retry_policy() const {
  return {.busy_timeout_ms = cfg_.busy_timeout.ms,
          .retries = cfg_.lock_retries,
          .backoff_ms = cfg_.lock_retry_backoff.ms,
          .max_backoff_ms = 30'000};
}

void Store::fail(const std::string& what, int rc) {
  throw std::runtime_error("sink-alerts sqlite '" + cfg_.path + "': " + what + ": " + db_.errmsg() + hint(rc));
}

void Store::exec(const std::string& sql, const char* what) {
  const int rc = db_.exec_retrying(sql, retry_policy(), [&](int attempt, std::int64_t delay) {
    if (log_)
      log_(LogLevel::Warn, "'" + cfg_.path + "' is locked by another connection (" + what + "): retry " +
                               std::to_string(attempt) + "/" + std::to_string(cfg_.lock_retries) + " in " +
                               std::to_string(delay) + " ms");
  });
  if (rc != SQLITE_OK) fail(what, rc);
}

void Store::open(Log log) {
  log_ = std::move(log);
  connect();
}

void Store::connect() {
  try {
    db_ = sqlite::Connection(cfg_.path, {.create = true, .read_only = false, .uri = cfg_.uri});
  } catch (const sqlite::Error& e) {
    throw std::runtime_error(std::string("sink-alerts: ") + e.what() + hint(e.rc()));
  }
  if (db_.read_only())
    throw std::runtime_error("sink-alerts: SQLite database '" + cfg_.path +
                             "' could only be opened read-only: check the permissions of the file and its folder");
  db_.busy_timeout(cfg_.busy_timeout.ms);
  exec("PRAGMA journal_mode=WAL", "switching to WAL");
  exec("PRAGMA synchronous=NORMAL", "setting synchronous");
  const std::string t = sqlite::quote_identifier(cfg_.table);
  exec(
      "CREATE TABLE IF NOT EXISTS " + t +
          " (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, "
          "threshold REAL NOT NULL, severity TEXT NOT NULL, rule TEXT, group_key TEXT, state TEXT, window_start TEXT, "
          "window_end TEXT, message TEXT)",
      "creating the alerts table");
  // An existing table (the seed's) must have the seed's columns; our extra columns are added.
  std::set<std::string> have;
  {
    sqlite::Statement st = db_.prepare("SELECT name FROM pragma_table_info(?1)");
    st.bind(1, std::string_view(cfg_.table));
    while (st.step() == SQLITE_ROW) have.insert(st.text(0));
  }
  std::string missing;
  for (const char* c : {"timestamp", "metric", "value", "threshold", "severity"})
    if (!have.count(c)) missing += std::string(missing.empty() ? "" : ", ") + c;
  if (!missing.empty())
    throw std::runtime_error("sqlite " + cfg_.path + ": the existing table '" + cfg_.table +
                             "' lacks the alert columns " + missing +
                             "; point sqlite.table at another table or drop this one");
  for (const char* c : {"rule", "group_key", "state", "window_start", "window_end", "message"})
    if (!have.count(c)) {
      exec("ALTER TABLE " + t + " ADD COLUMN " + c + " TEXT", "adding a column");
      if (log_) log_(LogLevel::Info, "added column " + std::string(c) + " to the existing table " + cfg_.table);
    }
  const std::string s = sqlite::quote_identifier(cfg_.state_table);
  exec("CREATE TABLE IF NOT EXISTS " + s +
           " (rule TEXT NOT NULL, group_key TEXT NOT NULL, group_text TEXT NOT NULL, level TEXT NOT NULL, "
           "consecutive INTEGER NOT NULL, last_start_ms INTEGER NOT NULL, last_end_ms INTEGER NOT NULL, "
           "window_ms INTEGER NOT NULL, last_notified_ms INTEGER NOT NULL, since_ms INTEGER NOT NULL, "
           "last_value REAL NOT NULL, PRIMARY KEY (rule, group_key))",
       "creating the alert state table");
  try {
    insert_alert_ = db_.prepare("INSERT INTO " + t +
                                    " (timestamp, metric, value, threshold, severity, rule, group_key, state, "
                                    "window_start, window_end, message) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                true);
    upsert_state_ = db_.prepare(
        "INSERT INTO " + s +
            " (rule, group_key, group_text, level, consecutive, last_start_ms, last_end_ms, window_ms, "
            "last_notified_ms, since_ms, last_value) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (rule, group_key) DO UPDATE SET group_text=excluded.group_text, "
            "level=excluded.level, consecutive=excluded.consecutive, last_start_ms=excluded.last_start_ms, "
            "last_end_ms=excluded.last_end_ms, window_ms=excluded.window_ms, "
            "last_notified_ms=excluded.last_notified_ms, since_ms=excluded.since_ms, last_value=excluded.last_value",
        true);
    delete_state_ = db_.prepare("DELETE FROM " + s + " WHERE rule = ? AND group_key = ?", true);
  } catch (const sqlite::Error& e) {
    throw std::runtime_error("sink-alerts sqlite '" + cfg_.path + "': " + e.what());
  }
  file_id_ = sqlite::file_id(cfg_.path);
}

std::vector<std::pair<std::string, AlertState>> Store::load(const std::string& rule) {
  std::vector<std::pair<std::string, AlertState>> out;
  sqlite::Statement st = db_.prepare(
      "SELECT group_key, group_text, level, consecutive, last_start_ms, last_end_ms, window_ms, last_notified_ms, "
      "since_ms, last_value FROM " +
      sqlite::quote_identifier(cfg_.state_table) + " WHERE rule = ?");
  st.bind(1, std::string_view(rule));
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    AlertState a;
    a.group = st.text(1);
    a.level = level_from(st.text(2));
    a.consecutive = st.int64(3);
    a.last_start_ms = st.int64(4);
    a.last_end_ms = st.int64(5);
    a.window_ms = st.int64(6);
    a.last_notified_ms = st.int64(7);
    a.since_ms = st.int64(8);
    a.last_value = st.real(9);
    out.emplace_back(st.text(0), std::move(a));
  }
  if (rc != SQLITE_DONE) fail("loading alert state", rc);
  return out;
}

void Store::add_alert(const Notification& n) { alerts_.push_back(n); }

void Store::put_state(const std::string& rule, const std::string& key, const AlertState& st) {
  states_.push_back({rule, key, st});
}

void Store::erase_state(const std::string& rule, const std::string& key) { erased_.emplace_back(rule, key); }

// As in sink-sqlite: a deleted (or replaced) database file is recreated (reopened) with the
// tables, loudly; a deleted file's orphaned -wal/-shm go first. Alert state already stored there is lost with the file:
// after a restart, groups that were firing then may fire again.
void Store::check_file() {
  const auto now = sqlite::file_id(cfg_.path);
  if (now && now == file_id_) return;
  if (log_)
    log_(LogLevel::Error, "the database file '" + cfg_.path + "' " + (now ? "was replaced" : "was deleted") +
                              " while sink-alerts had it open: alerts stored in it before are gone with it");
  insert_alert_ = {};
  upsert_state_ = {};
  delete_state_ = {};
  db_.close();
  if (!now) sqlite::remove_orphaned_journal(cfg_.path);
  connect();
  if (log_)
    log_(LogLevel::Warn, std::string(now ? "reopened '" : "recreated '") + cfg_.path + "' with the alert tables");
}

int Store::write_queued() {
  sqlite::Transaction tx(db_);
  int rc = tx.begin();
  if (rc != SQLITE_OK) {
    if (sqlite::is_locked(rc)) return rc;
    fail("BEGIN IMMEDIATE", rc);
  }
  auto step = [&](sqlite::Statement& st, const char* what) {
    const int r = st.step();
    st.reset();
    if (r == SQLITE_DONE) return SQLITE_OK;
    if (sqlite::is_locked(r)) return r;
    fail(what, r);
  };
  for (const auto& n : alerts_) {
    // The seed's timestamp is "when the alert was raised": here the end of the window that raised it.
    const std::string ts = format_iso8601_ms(n.window_end_ms), ws = format_iso8601_ms(n.window_start_ms);
    insert_alert_.bind(1, std::string_view(ts)).bind(2, std::string_view(n.metric)).bind(3, n.value);
    insert_alert_.bind(4, n.threshold).bind(5, std::string_view(level_name(n.severity)));
    insert_alert_.bind(6, std::string_view(n.rule)).bind(7, std::string_view(n.group));
    insert_alert_.bind(8, std::string_view(change_name(n.change))).bind(9, std::string_view(ws));
    insert_alert_.bind(10, std::string_view(ts)).bind(11, std::string_view(n.message));
    if ((rc = step(insert_alert_, "inserting an alert row")) != SQLITE_OK) return rc;
  }
  for (const auto& r : states_) {
    upsert_state_.bind(1, std::string_view(r.rule)).bind(2, std::string_view(r.key));
    upsert_state_.bind(3, std::string_view(r.st.group)).bind(4, std::string_view(level_name(r.st.level)));
    upsert_state_.bind(5, r.st.consecutive).bind(6, r.st.last_start_ms).bind(7, r.st.last_end_ms);
    upsert_state_.bind(8, r.st.window_ms).bind(9, r.st.last_notified_ms).bind(10, r.st.since_ms);
    upsert_state_.bind(11, r.st.last_value);
    if ((rc = step(upsert_state_, "saving alert state")) != SQLITE_OK) return rc;
  }
  for (const auto& [rule, key] : erased_) {
    delete_state_.bind(1, std::string_view(rule)).bind(2, std::string_view(key));
    if ((rc = step(delete_state_, "deleting alert state")) != SQLITE_OK) return rc;
  }
  rc = tx.commit();
  if (rc != SQLITE_OK && !sqlite::is_locked(rc)) fail("COMMIT", rc);
  return rc;
}

std::size_t Store::commit() {
  if (!pending()) return 0;
  check_file();
  const sqlite::RetryPolicy policy = retry_policy();
  for (int attempt = 1;; ++attempt) {
    if (write_queued() == SQLITE_OK) {
      if (attempt > 1 && log_)
        log_(LogLevel::Info, "committed the alerts to '" + cfg_.path + "' after " + std::to_string(attempt - 1) +
                                 (attempt == 2 ? " retry" : " retries"));
      break;
    }
    if (attempt > policy.retries)
      throw std::runtime_error(
          "giving up on '" + cfg_.path + "': the database stayed locked by another connection through " +
          std::to_string(attempt) + " attempts to commit " + std::to_string(alerts_.size()) +
          " alert rows (busy_timeout " + format_duration(cfg_.busy_timeout) + " each, lock_retries " +
          std::to_string(cfg_.lock_retries) +
          "). Find the process holding the write lock (a long transaction, an sqlite3 shell inside BEGIN), or raise "
          "busy_timeout or lock_retries");
    const std::int64_t delay = policy.delay_ms(attempt);
    if (log_)
      log_(LogLevel::Warn, "'" + cfg_.path + "' is locked by another connection (waited busy_timeout " +
                               format_duration(cfg_.busy_timeout) + " to commit " + std::to_string(alerts_.size()) +
                               " alert rows): retry " + std::to_string(attempt) + "/" +
                               std::to_string(cfg_.lock_retries) + " in " + std::to_string(delay) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
  const std::size_t rows = alerts_.size();
  alerts_.clear();
  states_.clear();
  erased_.clear();
  return rows;
}

}  // namespace cxflow::alerts
