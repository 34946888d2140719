// The optional SQLite store of sink-alerts: the seed's `alerts` table (plus rule, group, state,
// window and message) and the alert state, so a restart does not re-fire.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sink-alerts.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cxflow::alerts {

class Store {
 public:
  explicit Store(const SqliteConfig& cfg);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens the database and creates (or checks) the tables. Returns log lines worth reporting.
  std::vector<std::string> open();
  // Every stored state of `rule`: (group key, state).
  std::vector<std::pair<std::string, AlertState>> load(const std::string& rule);

  // Queued until commit().
  void add_alert(const Notification& n);
  void put_state(const std::string& rule, const std::string& key, const AlertState& st);
  void erase_state(const std::string& rule, const std::string& key);
  // Writes everything queued in one transaction; returns the number of alert rows written.
  std::size_t commit();
  bool pending() const noexcept { return !alerts_.empty() || !states_.empty() || !erased_.empty(); }

 private:
  void exec(const std::string& sql);
  sqlite3_stmt* prepare(const std::string& sql);
  [[noreturn]] void fail(const std::string& what);

  SqliteConfig cfg_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_alert_ = nullptr;
  sqlite3_stmt* upsert_state_ = nullptr;
  sqlite3_stmt* delete_state_ = nullptr;
  std::vector<Notification> alerts_;
  struct StateRow {
    std::string rule, key;
    AlertState st;
  };
  std::vector<StateRow> states_;
  std::vector<std::pair<std::string, std::string>> erased_;
};

}  // namespace cxflow::alerts
