// sink-sqlite: schema and export. The logic lives in sink-sqlite.cpp.
#include <cxflow/plugin.hpp>
#include <cxflow/sqlite/config_keys.hpp>

#include "sink-sqlite.hpp"

namespace {

using cxflow::sqlite_sink::Config;
using cxflow::sqlite_sink::Synchronous;

struct Plugin {
  static constexpr const char* name = "sink-sqlite";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Writes events (typically window aggregates) as rows of an SQLite table: WAL, prepared upserts on a key, "
      "the rows of one window committed together";
  static constexpr const char* example =
      "path: cxone_analytics.db\n"
      "table: queue_snapshots\n"
      "columns:\n"
      "  window_start: $event_time\n"
      "  queue: {field: metadata.queue, type: text, default: ''}\n"
      "  contacts: {field: contacts, type: integer}\n"
      "  avg_wait_time: {field: avg_wait_time, type: real}\n"
      "key: [window_start, queue]\n";
  using Config = ::Config;
  using Instance = cxflow::sqlite_sink::SqliteSink;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("path", &Config::path,
          "Database file, created if missing (relative paths are relative to the working directory). Opened when "
          "the pipeline starts, never by `cxflow validate`; SQLite also creates PATH-wal and PATH-shm next to it")
        .required()
        .example("cxone_analytics.db");
    s.key("table", &Config::table, "Table to write (letters, digits and '_', not starting with a digit or 'sqlite_')")
        .required()
        .example("queue_snapshots");
    s.key("columns", &Config::columns,
          "Map of column name -> event field, in table order. Short form `column: field`; long form "
          "`column: {field: F, type: text|integer|real|any, default: V}`. `type` (default any) converts values and "
          "is the declared SQL type; `default` replaces a missing or null field. Special fields: $event_time "
          "(the event time as ISO 8601 text, e.g. 2026-01-01T00:01:00.000Z) and $event_time_ms (ms since the epoch)")
        .required()
        .example("{window_start: $event_time, queue: metadata.queue, contacts: {field: contacts, type: integer}}");
    s.key("key", &Config::key,
          "Upsert key: column names (each listed under columns). A row whose key already exists updates the other "
          "columns (INSERT ... ON CONFLICT DO UPDATE), so re-writing a window never duplicates it. Default: none, "
          "plain inserts")
        .example("[window_start, queue]");
    s.key("create", &Config::create,
          "Create the table if it does not exist (CREATE TABLE IF NOT EXISTS, with UNIQUE(key) and the key columns "
          "NOT NULL). An existing table must have the configured columns either way")
        .def("true");
    s.key("synchronous", &Config::synchronous,
          "PRAGMA synchronous. normal: with WAL, never corrupts, a power loss may drop the last commits; full: "
          "fsync every commit; off: no fsync (a power loss may corrupt). The journal mode is always WAL")
        .def("normal")
        .one_of(std::vector<std::pair<std::string, Synchronous>>{
            {"normal", Synchronous::Normal}, {"full", Synchronous::Full}, {"off", Synchronous::Off}});
    s.key("commit_interval", &Config::commit_interval,
          "The longest time a written row may stay uncommitted (besides commits on every watermark, at end of "
          "stream and at max_batch_rows)")
        .def("1s")
        .range(1, 3'600'000);
    s.key("max_batch_rows", &Config::max_batch_rows,
          "Rows held before a commit is forced; bounds memory. Keep it above the rows of one window so a window "
          "commits in one transaction")
        .def("10000")
        .range(1, 10'000'000);
    cxflow::sqlite::declare_storage_keys(s, "before the component fails");
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
