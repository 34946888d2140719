// sink-sqlite: writes events (typically window aggregates) as rows of an SQLite table.
//
// Rows are buffered in memory (at most max_batch_rows) and written in one short
// BEGIN IMMEDIATE ... COMMIT transaction at each commit point: a watermark, the end of the
// stream, commit_interval after the first uncommitted row, max_batch_rows rows, stop(). SQLite
// has a single writer per database file; holding the write lock open between commit points
// would block every other writer of the same file (other sink-sqlite components, sink-alerts)
// for up to commit_interval. A locked database is retried with backoff, then reported as a
// component failure.
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/config.hpp>
#include <cxflow/event.hpp>
#include <cxflow/sqlite/sqlite.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cxflow::sqlite_sink {

enum class Synchronous { Normal, Full, Off };

struct Config {
  std::string path;
  std::string table;
  ConfigNode columns;            // column -> field, or column -> {field, type, default}
  std::vector<std::string> key;  // upsert key (column names); empty = plain inserts
  bool create = true;
  Duration busy_timeout{5000};
  Synchronous synchronous = Synchronous::Normal;
  Duration commit_interval{1000};
  std::int64_t max_batch_rows = 10000;
  int lock_retries = 5;
  Duration lock_retry_backoff{200};
  bool uri = false;  // let SQLite interpret a file: URI path
};

enum class ColumnType { Any, Text, Integer, Real };
// Where a column's value comes from.
enum class ColumnSource { Field, EventTimeIso, EventTimeMs };

struct Column {
  std::string name;
  std::string field;  // as configured ("metrics.handleTime", "$event_time")
  ColumnSource source = ColumnSource::Field;
  ColumnType type = ColumnType::Any;
  Value default_value;  // already converted to `type`; null = none
  FieldId id = kNoField;
  bool is_key = false;
};

// Parsing and SQL helpers, exposed for the plugin's own use (no I/O).
using sqlite::is_identifier;
const char* type_sql(ColumnType t);   // "TEXT", "INTEGER", "REAL", "" for any
const char* type_name(ColumnType t);  // "text", "integer", "real", "any"
using sqlite::quote_identifier;

class SqliteSink final : public Sink {
 public:
  SqliteSink(const Config& config, Setup& setup);
  ~SqliteSink() override;
  SqliteSink(const SqliteSink&) = delete;
  SqliteSink& operator=(const SqliteSink&) = delete;

  void start(Context& ctx) override;
  void write(const Batch& in) override;
  void on_watermark(std::int64_t watermark_ms) override;
  void on_end_of_stream() override;
  void stop() override;

 private:
  enum class Mode { Async, Blocking };
  enum class Attempt { Committed, Locked };

  // Start-up steps.
  void open_database();
  void configure_connection();
  void ensure_table();
  void check_table();
  void add_key_index();
  void prepare_insert();
  std::string create_table_sql() const;
  std::string insert_sql() const;

  // Rows.
  void append_row(const Event& e);
  Value column_value(const Column& c, const Event& e);

  // Commits.
  void commit(const char* reason, Mode mode);
  Attempt write_pending();
  void bind_row(std::size_t row);
  void rollback_quietly();
  void arm_interval_timer();
  void cancel_timer(std::optional<TimerId>& t);
  sqlite::RetryPolicy retry_policy() const;
  [[noreturn]] void fail_locked(const char* reason);
  [[noreturn]] void fail_sql(const std::string& what, int rc);
  void close_database() noexcept;
  void check_file();
  void note_problem(const std::string& message);

  // Blocking retries for start-up statements (CREATE TABLE, journal_mode).
  int exec_retrying(const std::string& sql, const char* what);

  std::string where() const;  // "table 't' in 'path'"

  Config cfg_;
  std::vector<Column> columns_;
  std::vector<std::size_t> key_index_;  // indices into columns_
  Counter& rows_written_;
  Counter& commits_;
  Counter& write_errors_;
  Counter& commit_retries_;
  Counter& conversion_errors_;

  Context* ctx_ = nullptr;
  sqlite::Connection db_;
  sqlite::Statement insert_;               // after db_: finalized first
  std::optional<sqlite::FileId> file_id_;  // of path when opened

  std::vector<Value> pending_;  // row-major, columns_.size() values per row
  std::size_t pending_rows_ = 0;
  std::optional<TimerId> interval_timer_;
  std::optional<TimerId> retry_timer_;
  int failed_attempts_ = 0;  // consecutive locked attempts of the current commit
  bool failed_ = false;
  std::string failure_;
  std::uint64_t problems_logged_ = 0;
};

}  // namespace cxflow::sqlite_sink
