// The optional SQLite store of sink-alerts: the seed's `alerts` table (plus rule, group, state,
// window and message) and the alert state, so a restart does not re-fire. Built on cxflow-sqlite:
// the same retry policy (busy_timeout, lock_retries, lock_retry_backoff) as sink-sqlite, URI paths
// refused unless `uri: true`, a deleted database file noticed and recreated at the next commit.
#pragma once

#include <cxflow/sqlite/sqlite.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sink-alerts.hpp"

namespace cxflow::alerts {

class Store {
 public:
  using Log = std::function<void(LogLevel, const std::string&)>;

  explicit Store(const SqliteConfig& cfg);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens the database and creates (or checks) the tables; `log` reports migrations and retries.
  void open(Log log);
  // Every stored state of `rule`: (group key, state).
  std::vector<std::pair<std::string, AlertState>> load(const std::string& rule);

  // Queued until commit().
  void add_alert(const Notification& n);
  void put_state(const std::string& rule, const std::string& key, const AlertState& st);
  void erase_state(const std::string& rule, const std::string& key);
  // Writes everything queued in one transaction, retrying a locked database by the retry policy
  // (blocking); returns the number of alert rows written. Throws when it gives up: the queue is
  // kept, so nothing is dropped before the error.
  std::size_t commit();
  bool pending() const noexcept { return !alerts_.empty() || !states_.empty() || !erased_.empty(); }

  sqlite::RetryPolicy retry_policy() const;

 private:
  void connect();
  void check_file();
  int write_queued();  // SQLITE_OK, a locked code, or throws
  void exec(const std::string& sql, const char* what);
  [[noreturn]] void fail(const std::string& what, int rc);

  SqliteConfig cfg_;
  Log log_;
  sqlite::Connection db_;
  sqlite::Statement insert_alert_, upsert_state_, delete_state_;  // after db_: finalized first
  std::optional<sqlite::FileId> file_id_;
  std::vector<Notification> alerts_;
  struct StateRow {
    std::string rule, key;
    AlertState st;
  };
  std::vector<StateRow> states_;
  std::vector<std::pair<std::string, std::string>> erased_;
};

}  // namespace cxflow::alerts
