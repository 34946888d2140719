#include "store.hpp"

#include <sqlite3.h>

#include <set>
#include <stdexcept>

#include <cxflow/time.hpp>

namespace cxflow::alerts {

namespace {

const char* level_text(Level l) { return level_name(l); }
Level level_from(const std::string& s) {
  if (s == "critical") return Level::Critical;
  if (s == "warning") return Level::Warning;
  return Level::Ok;
}
std::string column_text(sqlite3_stmt* st, int col) {
  const unsigned char* t = sqlite3_column_text(st, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}
std::string quoted(const std::string& ident) { return "\"" + ident + "\""; }

}  // namespace

Store::Store(const SqliteConfig& cfg) : cfg_(cfg) {
  if (cfg_.state_table.empty()) cfg_.state_table = cfg_.table + "_state";
}

Store::~Store() {
  sqlite3_finalize(insert_alert_);
  sqlite3_finalize(upsert_state_);
  sqlite3_finalize(delete_state_);
  if (db_) sqlite3_close(db_);
}

void Store::fail(const std::string& what) {
  throw std::runtime_error("sqlite " + cfg_.path + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "cannot open"));
}

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite " + cfg_.path + ": " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
}

sqlite3_stmt* Store::prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) fail("preparing " + sql.substr(0, 60));
  return st;
}

std::vector<std::string> Store::open() {
  std::vector<std::string> notes;
  if (sqlite3_open_v2(cfg_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    fail("opening the database");
  sqlite3_busy_timeout(db_, static_cast<int>(cfg_.busy_timeout.ms));
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  const std::string t = quoted(cfg_.table);
  exec("CREATE TABLE IF NOT EXISTS " + t +
       " (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, "
       "threshold REAL NOT NULL, severity TEXT NOT NULL, rule TEXT, group_key TEXT, state TEXT, window_start TEXT, "
       "window_end TEXT, message TEXT)");
  // An existing table (the seed's) must have the seed's columns; our extra columns are added.
  std::set<std::string> have;
  {
    sqlite3_stmt* st = prepare("PRAGMA table_info(" + t + ")");
    while (sqlite3_step(st) == SQLITE_ROW) have.insert(column_text(st, 1));
    sqlite3_finalize(st);
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
      exec("ALTER TABLE " + t + " ADD COLUMN " + c + " TEXT");
      notes.push_back("added column " + std::string(c) + " to the existing table " + cfg_.table);
    }
  const std::string s = quoted(cfg_.state_table);
  exec("CREATE TABLE IF NOT EXISTS " + s +
       " (rule TEXT NOT NULL, group_key TEXT NOT NULL, group_text TEXT NOT NULL, level TEXT NOT NULL, "
       "consecutive INTEGER NOT NULL, last_start_ms INTEGER NOT NULL, last_end_ms INTEGER NOT NULL, "
       "window_ms INTEGER NOT NULL, last_notified_ms INTEGER NOT NULL, since_ms INTEGER NOT NULL, "
       "last_value REAL NOT NULL, PRIMARY KEY (rule, group_key))");
  insert_alert_ = prepare("INSERT INTO " + t +
                          " (timestamp, metric, value, threshold, severity, rule, group_key, state, window_start, "
                          "window_end, message) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  upsert_state_ = prepare("INSERT INTO " + s +
                          " (rule, group_key, group_text, level, consecutive, last_start_ms, last_end_ms, window_ms, "
                          "last_notified_ms, since_ms, last_value) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                          "ON CONFLICT (rule, group_key) DO UPDATE SET group_text=excluded.group_text, "
                          "level=excluded.level, consecutive=excluded.consecutive, last_start_ms=excluded.last_start_ms, "
                          "last_end_ms=excluded.last_end_ms, window_ms=excluded.window_ms, "
                          "last_notified_ms=excluded.last_notified_ms, since_ms=excluded.since_ms, "
                          "last_value=excluded.last_value");
  delete_state_ = prepare("DELETE FROM " + s + " WHERE rule = ? AND group_key = ?");
  return notes;
}

std::vector<std::pair<std::string, AlertState>> Store::load(const std::string& rule) {
  std::vector<std::pair<std::string, AlertState>> out;
  sqlite3_stmt* st = prepare("SELECT group_key, group_text, level, consecutive, last_start_ms, last_end_ms, window_ms, "
                             "last_notified_ms, since_ms, last_value FROM " +
                             quoted(cfg_.state_table) + " WHERE rule = ?");
  sqlite3_bind_text(st, 1, rule.data(), static_cast<int>(rule.size()), SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    AlertState a;
    a.group = column_text(st, 1);
    a.level = level_from(column_text(st, 2));
    a.consecutive = sqlite3_column_int64(st, 3);
    a.last_start_ms = sqlite3_column_int64(st, 4);
    a.last_end_ms = sqlite3_column_int64(st, 5);
    a.window_ms = sqlite3_column_int64(st, 6);
    a.last_notified_ms = sqlite3_column_int64(st, 7);
    a.since_ms = sqlite3_column_int64(st, 8);
    a.last_value = sqlite3_column_double(st, 9);
    out.emplace_back(column_text(st, 0), std::move(a));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) fail("loading alert state");
  return out;
}

void Store::add_alert(const Notification& n) { alerts_.push_back(n); }

void Store::put_state(const std::string& rule, const std::string& key, const AlertState& st) {
  states_.push_back({rule, key, st});
}

void Store::erase_state(const std::string& rule, const std::string& key) { erased_.emplace_back(rule, key); }

std::size_t Store::commit() {
  if (!pending()) return 0;
  exec("BEGIN IMMEDIATE");
  try {
    auto text = [](sqlite3_stmt* st, int i, const std::string& v) {
      sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    auto step = [this](sqlite3_stmt* st, const char* what) {
      if (sqlite3_step(st) != SQLITE_DONE) fail(what);
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    };
    for (const auto& n : alerts_) {
      // The seed's timestamp is "when the alert was raised": here the end of the window that raised it.
      text(insert_alert_, 1, format_iso8601_ms(n.window_end_ms));
      text(insert_alert_, 2, n.metric);
      sqlite3_bind_double(insert_alert_, 3, n.value);
      sqlite3_bind_double(insert_alert_, 4, n.threshold);
      text(insert_alert_, 5, level_text(n.severity));
      text(insert_alert_, 6, n.rule);
      text(insert_alert_, 7, n.group);
      text(insert_alert_, 8, change_name(n.change));
      text(insert_alert_, 9, format_iso8601_ms(n.window_start_ms));
      text(insert_alert_, 10, format_iso8601_ms(n.window_end_ms));
      text(insert_alert_, 11, n.message);
      step(insert_alert_, "inserting an alert row");
    }
    for (const auto& r : states_) {
      text(upsert_state_, 1, r.rule);
      text(upsert_state_, 2, r.key);
      text(upsert_state_, 3, r.st.group);
      text(upsert_state_, 4, level_text(r.st.level));
      sqlite3_bind_int64(upsert_state_, 5, r.st.consecutive);
      sqlite3_bind_int64(upsert_state_, 6, r.st.last_start_ms);
      sqlite3_bind_int64(upsert_state_, 7, r.st.last_end_ms);
      sqlite3_bind_int64(upsert_state_, 8, r.st.window_ms);
      sqlite3_bind_int64(upsert_state_, 9, r.st.last_notified_ms);
      sqlite3_bind_int64(upsert_state_, 10, r.st.since_ms);
      sqlite3_bind_double(upsert_state_, 11, r.st.last_value);
      step(upsert_state_, "saving alert state");
    }
    for (const auto& [rule, key] : erased_) {
      text(delete_state_, 1, rule);
      text(delete_state_, 2, key);
      step(delete_state_, "deleting alert state");
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  const std::size_t rows = alerts_.size();
  alerts_.clear();
  states_.clear();
  erased_.clear();
  return rows;
}

}  // namespace cxflow::alerts
