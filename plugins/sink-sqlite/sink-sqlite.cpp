#include "sink-sqlite.hpp"

#include <cxflow/time.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace cxflow::sqlite_sink {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
std::optional<double> parse_real(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}
std::optional<std::int64_t> round_int(double d) {
  if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(d));
}

// Converts a non-null event value to the column type; nullopt = not convertible.
std::optional<Value> convert_value(const Value& v, ColumnType t) {
  switch (t) {
    case ColumnType::Any:
      if (const auto* b = std::get_if<bool>(&v)) return Value(static_cast<std::int64_t>(*b ? 1 : 0));
      return v;
    case ColumnType::Text:
      if (std::holds_alternative<std::string>(v)) return v;
      return Value(to_text(v));
    case ColumnType::Integer:
      if (std::holds_alternative<std::int64_t>(v)) return v;
      if (const auto* d = std::get_if<double>(&v)) {
        if (auto i = round_int(*d)) return Value(*i);
        return std::nullopt;
      }
      if (const auto* b = std::get_if<bool>(&v)) return Value(static_cast<std::int64_t>(*b ? 1 : 0));
      if (const auto* s = std::get_if<std::string>(&v)) {
        if (auto i = parse_int(*s)) return Value(*i);
        if (auto d = parse_real(*s))
          if (auto i = round_int(*d)) return Value(*i);
      }
      return std::nullopt;
    case ColumnType::Real:
      if (std::holds_alternative<double>(v)) return v;
      if (const auto* i = std::get_if<std::int64_t>(&v)) return Value(static_cast<double>(*i));
      if (const auto* b = std::get_if<bool>(&v)) return Value(*b ? 1.0 : 0.0);
      if (const auto* s = std::get_if<std::string>(&v))
        if (auto d = parse_real(*s)) return Value(*d);
      return std::nullopt;
  }
  return std::nullopt;
}

// A configured default, converted to the column type. nullopt = does not convert.
std::optional<Value> default_for(const std::string& text, ColumnType t) {
  switch (t) {
    case ColumnType::Text:
      return Value(text);
    case ColumnType::Integer:
      if (auto i = parse_int(text)) return Value(*i);
      return std::nullopt;
    case ColumnType::Real:
      if (auto d = parse_real(text)) return Value(*d);
      return std::nullopt;
    case ColumnType::Any:
      if (auto i = parse_int(text)) return Value(*i);
      if (auto d = parse_real(text)) return Value(*d);
      return Value(text);
  }
  return std::nullopt;
}

std::optional<ColumnType> parse_type(std::string_view s) {
  if (s == "text") return ColumnType::Text;
  if (s == "integer") return ColumnType::Integer;
  if (s == "real") return ColumnType::Real;
  if (s == "any") return ColumnType::Any;
  return std::nullopt;
}

// SQLite's type affinity of a declared column type (https://sqlite.org/datatype3.html, 3.1).
enum class Affinity { Integer, Text, Blob, Real, Numeric };
Affinity affinity_of(std::string_view declared) {
  const std::string d = lower(declared);
  if (d.find("int") != std::string::npos) return Affinity::Integer;
  if (d.find("char") != std::string::npos || d.find("clob") != std::string::npos || d.find("text") != std::string::npos)
    return Affinity::Text;
  if (d.empty() || d.find("blob") != std::string::npos) return Affinity::Blob;
  if (d.find("real") != std::string::npos || d.find("floa") != std::string::npos || d.find("doub") != std::string::npos)
    return Affinity::Real;
  return Affinity::Numeric;
}
bool type_compatible(ColumnType want, std::string_view declared) {
  const Affinity a = affinity_of(declared);
  switch (want) {
    case ColumnType::Any:
      return true;
    case ColumnType::Text:
      return a == Affinity::Text;
    case ColumnType::Integer:
      return a == Affinity::Integer || a == Affinity::Numeric;
    case ColumnType::Real:
      return a == Affinity::Real || a == Affinity::Numeric;
  }
  return false;
}

using sqlite::is_locked;
// Errors that reject one row and leave the transaction usable.
bool is_row_error(int rc) {
  const int p = rc & 0xff;
  return p == SQLITE_CONSTRAINT || p == SQLITE_MISMATCH || p == SQLITE_TOOBIG;
}

// Why a database could not be opened, from the file system's point of view.
std::string path_hint(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (fs::is_directory(p, ec)) return "'" + path + "' is a folder: 'path' must name a database file";
  if (!fs::exists(dir, ec)) return "the folder '" + dir.string() + "' does not exist: create it or change 'path'";
  if (!fs::is_directory(dir, ec)) return "'" + dir.string() + "' is not a folder: change 'path'";
  if (!fs::exists(p, ec)) {
    if (::access(dir.c_str(), W_OK) != 0)
      return "the folder '" + dir.string() +
             "' is not writable: SQLite must create the database and its -wal and -shm files there";
    return "check that the folder '" + dir.string() + "' is writable";
  }
  if (::access(p.c_str(), W_OK) != 0) return "the file is not writable: check its permissions";
  if (::access(dir.c_str(), W_OK) != 0)
    return "the folder '" + dir.string() + "' is not writable: SQLite must create the -wal and -shm files there";
  return "check the permissions of the file and its folder";
}

std::string error_hint(int rc, const std::string& path) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return "'" + path + "' exists but is not an SQLite database: point 'path' at a new file or at an SQLite database";
    case SQLITE_READONLY:
      return "the database is read-only: " + path_hint(path);
    case SQLITE_CANTOPEN:
      return path_hint(path);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another connection held the write lock longer than busy_timeout and lock_retries allow";
    case SQLITE_FULL:
      return "the disk is full";
    case SQLITE_CORRUPT:
      return "the database file is corrupt: restore it from a backup or point 'path' at a new file";
    case SQLITE_IOERR:
      return "an I/O error occurred: check the disk and the permissions of '" + path + "' and its folder";
    default:
      return {};
  }
}

}  // namespace

const char* type_sql(ColumnType t) {
  switch (t) {
    case ColumnType::Text:
      return "TEXT";
    case ColumnType::Integer:
      return "INTEGER";
    case ColumnType::Real:
      return "REAL";
    case ColumnType::Any:
      return "";
  }
  return "";
}
const char* type_name(ColumnType t) {
  switch (t) {
    case ColumnType::Text:
      return "text";
    case ColumnType::Integer:
      return "integer";
    case ColumnType::Real:
      return "real";
    case ColumnType::Any:
      return "any";
  }
  return "any";
}

// ---- Configure (no I/O) -------------------------------------------------------------------

SqliteSink::SqliteSink(const Config& config, Setup& setup)
    : cfg_(config),
      rows_written_(setup.declare_counter({"rows_written",
                                           CounterKind::Counter,
                                           "rows",
                                           {},
                                           CounterRole::RowsCommitted,
                                           "rows committed to the table"})),
      commits_(setup.declare_counter(
          {"commits", CounterKind::Counter, "transactions", {}, CounterRole::None, "transactions committed"})),
      write_errors_(setup.declare_counter({"write_errors",
                                           CounterKind::Counter,
                                           "rows",
                                           {},
                                           CounterRole::Errors,
                                           "rows rejected by the table's constraints or without a key value"})),
      commit_retries_(setup.declare_counter({"commit_retries",
                                             CounterKind::Counter,
                                             "retries",
                                             {},
                                             CounterRole::Retries,
                                             "retries of a commit that found the database locked"})),
      conversion_errors_(setup.declare_counter({"conversion_errors",
                                                CounterKind::Counter,
                                                "values",
                                                {},
                                                CounterRole::None,
                                                "values that did not convert to the column's type"})) {
  const std::string ident_rule = "use letters, digits and '_', not starting with a digit";
  if (const std::string p = sqlite::path_problem(cfg_.path, cfg_.uri, "uri"); !p.empty())
    throw ConfigException({}, "'path': " + p);
  if (!is_identifier(cfg_.table))
    throw ConfigException({}, "'table': '" + cfg_.table + "' is not a valid table name: " + ident_rule);
  if (sqlite::is_reserved(cfg_.table))
    throw ConfigException({}, "'table': names starting with 'sqlite_' are reserved by SQLite; pick another name");

  const ConfigNode& cols = cfg_.columns;
  if (!cols.is_map())
    throw ConfigException(cols.pos,
                          "'columns': expected a map of column: field (or column: {field: ..., type: ...}), found " +
                              std::string(cols.is_scalar() ? "a scalar" : "a list"));
  if (cols.items.empty()) throw ConfigException(cols.pos, "'columns': at least one column is required");

  const std::vector<std::string> column_keys = {"field", "type", "default"};
  const std::vector<std::string> type_names = {"text", "integer", "real", "any"};
  for (std::size_t i = 0; i < cols.items.size(); ++i) {
    const std::string& name = cols.keys[i];
    const SourcePos& kpos = cols.key_pos[i];
    const ConfigNode& v = cols.items[i];
    const std::string where = "'columns." + name + "'";
    if (!is_identifier(name)) throw ConfigException(kpos, where + ": not a valid column name: " + ident_rule);
    for (const auto& c : columns_)
      if (iequals(c.name, name))
        throw ConfigException(kpos, where + ": duplicate column (SQLite column names ignore case; '" + c.name +
                                        "' is already configured)");
    Column col;
    col.name = name;
    const ConfigNode* field_node = nullptr;
    if (v.is_scalar()) {
      field_node = &v;
    } else if (v.is_map()) {
      for (std::size_t k = 0; k < v.keys.size(); ++k) {
        const std::string& key = v.keys[k];
        if (std::find(column_keys.begin(), column_keys.end(), key) == column_keys.end()) {
          throw ConfigException(v.key_pos[k], "'columns." + name + "." + key + "': unknown key" +
                                                  did_you_mean(key, column_keys) +
                                                  " (allowed keys are: field, type, default)");
        }
        for (std::size_t j = 0; j < k; ++j)
          if (v.keys[j] == key)
            throw ConfigException(v.key_pos[k], "'columns." + name + "." + key + "': duplicate key");
      }
      field_node = v.find("field");
      if (field_node == nullptr || field_node->is_null())
        throw ConfigException(
            v.pos, where + ": missing required key 'field' (the event field, $event_time or $event_time_ms)");
      if (const ConfigNode* t = v.find("type"); t != nullptr && !t->is_null()) {
        if (!t->is_scalar()) throw ConfigException(t->pos, where + ".type: expected one of text, integer, real, any");
        auto type = parse_type(t->scalar);
        if (!type) {
          throw ConfigException(t->pos, "'columns." + name + ".type': " + quote_value(t->scalar) +
                                            " is not one of [text, integer, real, any]" +
                                            did_you_mean(t->scalar, type_names));
        }
        col.type = *type;
      }
    } else {
      throw ConfigException(v.pos, where + ": expected a field name or {field: ..., type: ..., default: ...}");
    }
    if (!field_node->is_scalar() || field_node->scalar.empty())
      throw ConfigException(field_node->pos, where + ": the field must be a non-empty field name");
    col.field = field_node->scalar;
    if (col.field[0] == '$') {
      if (col.field == "$event_time")
        col.source = ColumnSource::EventTimeIso;
      else if (col.field == "$event_time_ms")
        col.source = ColumnSource::EventTimeMs;
      else
        throw ConfigException(field_node->pos,
                              where + ": unknown special field '" + col.field +
                                  "': use $event_time (ISO 8601 text) or $event_time_ms (integer ms since the epoch)");
      if (col.source == ColumnSource::EventTimeIso && (col.type == ColumnType::Integer || col.type == ColumnType::Real))
        throw ConfigException(field_node->pos, where + ": $event_time is ISO 8601 text and cannot be stored as " +
                                                   type_name(col.type) + "; use $event_time_ms for a number");
    } else {
      // An integer or real column needs a number; text and any columns take any value.
      const bool numeric = col.type == ColumnType::Integer || col.type == ColumnType::Real;
      col.id = setup.reads(col.field, numeric ? FieldType::Number : FieldType::Any, field_node->pos);
    }
    if (v.is_map()) {
      if (const ConfigNode* d = v.find("default"); d != nullptr && !d->is_null()) {
        if (!d->is_scalar()) throw ConfigException(d->pos, "'columns." + name + ".default': expected a scalar value");
        auto dv = default_for(d->scalar, col.type);
        if (!dv)
          throw ConfigException(d->pos, "'columns." + name + ".default': " + quote_value(d->scalar) + " is not " +
                                            (col.type == ColumnType::Integer ? "an integer" : "a number") +
                                            ", as the column's type " + type_name(col.type) + " requires");
        col.default_value = std::move(*dv);
      }
    }
    columns_.push_back(std::move(col));
  }

  std::vector<std::string> names;
  for (const auto& c : columns_) names.push_back(c.name);
  for (const auto& k : cfg_.key) {
    auto it = std::find_if(columns_.begin(), columns_.end(), [&](const Column& c) { return iequals(c.name, k); });
    if (it == columns_.end()) {
      throw ConfigException({}, "'key': " + quote_value(k) + " is not one of the configured columns [" + join(names) +
                                    "]" + did_you_mean(k, names) +
                                    " (every key column must be listed under 'columns')");
    }
    if (it->is_key) throw ConfigException({}, "'key': column '" + k + "' is listed twice");
    it->is_key = true;
    key_index_.push_back(static_cast<std::size_t>(it - columns_.begin()));
  }
}

SqliteSink::~SqliteSink() { close_database(); }

// ---- Start-up ---------------------------------------------------------------------------------

std::string SqliteSink::where() const { return "table '" + cfg_.table + "' in '" + cfg_.path + "'"; }

void SqliteSink::start(Context& ctx) {
  ctx_ = &ctx;
  open_database();
  try {
    configure_connection();
    ensure_table();
    check_table();
    prepare_insert();
  } catch (...) {
    close_database();
    throw;
  }
  pending_.reserve(static_cast<std::size_t>(std::min<std::int64_t>(cfg_.max_batch_rows, 1024)) * columns_.size());
  std::vector<std::string> keys;
  for (auto i : key_index_) keys.push_back(columns_[i].name);
  static const char* sync_names[] = {"normal", "full", "off"};
  ctx.log(LogLevel::Info, "writing " + where() +
                              " (WAL, synchronous=" + sync_names[static_cast<int>(cfg_.synchronous)] + ", " +
                              (keys.empty() ? std::string("plain inserts") : "upsert on (" + join(keys) + ")") +
                              ", commit at least every " + format_duration(cfg_.commit_interval) + ")");
}

void SqliteSink::open_database() {
  try {
    db_ = sqlite::Connection(cfg_.path, {.create = true, .read_only = false, .uri = cfg_.uri});
  } catch (const sqlite::Error& e) {
    throw std::runtime_error(std::string(e.what()) + " (for table '" + cfg_.table + "'); " + path_hint(cfg_.path));
  }
  if (db_.read_only()) {
    close_database();
    throw std::runtime_error("SQLite database '" + cfg_.path + "' (for table '" + cfg_.table +
                             "') could only be opened read-only; " + path_hint(cfg_.path));
  }
  file_id_ = sqlite::file_id(cfg_.path);
}

sqlite::RetryPolicy SqliteSink::retry_policy() const {
  return {.busy_timeout_ms = cfg_.busy_timeout.ms,
          .retries = cfg_.lock_retries,
          .backoff_ms = cfg_.lock_retry_backoff.ms,
          .max_backoff_ms = 30'000};
}

int SqliteSink::exec_retrying(const std::string& sql, const char* what) {
  return db_.exec_retrying(sql, retry_policy(), [&](int attempt, std::int64_t delay) {
    ctx_->log(LogLevel::Warn, "'" + cfg_.path + "' is locked by another connection (" + what + " for table '" +
                                  cfg_.table + "'): retry " + std::to_string(attempt) + "/" +
                                  std::to_string(cfg_.lock_retries) + " in " + std::to_string(delay) + " ms");
  });
}

void SqliteSink::configure_connection() {
  sqlite3_busy_timeout(db_.get(), static_cast<int>(std::min<std::int64_t>(cfg_.busy_timeout.ms, INT_MAX)));
  // The first statement reads the file: a file that is not a database fails here.
  int rc = exec_retrying("PRAGMA journal_mode=WAL", "switching to WAL");
  if (rc != SQLITE_OK) fail_sql("switching to WAL journal mode", rc);
  std::string mode;
  {
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v2(db_.get(), "PRAGMA journal_mode", -1, &st, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      mode = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
  }
  if (lower(mode) != "wal")
    throw std::runtime_error("cannot switch '" + cfg_.path + "' to WAL journal mode (it stays '" + mode +
                             "'): sink-sqlite needs WAL so readers never block the writer; use a file on a local disk");
  static const char* sync_sql[] = {"PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL", "PRAGMA synchronous=OFF"};
  rc = sqlite3_exec(db_.get(), sync_sql[static_cast<int>(cfg_.synchronous)], nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail_sql("setting synchronous", rc);
}

std::string SqliteSink::create_table_sql() const {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_identifier(cfg_.table) + " (";
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const Column& c = columns_[i];
    sql += (i ? ", " : "") + quote_identifier(c.name);
    if (c.type != ColumnType::Any) sql += std::string(" ") + type_sql(c.type);
    if (c.is_key) sql += " NOT NULL";
  }
  if (!key_index_.empty()) {
    sql += ", UNIQUE (";
    for (std::size_t i = 0; i < key_index_.size(); ++i)
      sql += (i ? ", " : "") + quote_identifier(columns_[key_index_[i]].name);
    sql += ")";
  }
  return sql + ")";
}

void SqliteSink::ensure_table() {
  if (!cfg_.create) return;
  const int rc = exec_retrying(create_table_sql(), "CREATE TABLE");
  if (rc != SQLITE_OK) fail_sql("CREATE TABLE", rc);
}

void SqliteSink::check_table() {
  struct Found {
    std::string name, type;
    bool notnull = false, has_default = false;
    int pk = 0;
  };
  std::vector<Found> found;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)",
                              -1, &st, nullptr);
  if (rc != SQLITE_OK) fail_sql("reading the table's columns", rc);
  sqlite3_bind_text(st, 1, cfg_.table.c_str(), -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Found f;
    const auto* n = sqlite3_column_text(st, 0);
    const auto* t = sqlite3_column_text(st, 1);
    f.name = n ? reinterpret_cast<const char*>(n) : "";
    f.type = t ? reinterpret_cast<const char*>(t) : "";
    f.notnull = sqlite3_column_int(st, 2) != 0;
    f.has_default = sqlite3_column_type(st, 3) != SQLITE_NULL;
    f.pk = sqlite3_column_int(st, 4);
    found.push_back(std::move(f));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) fail_sql("reading the table's columns", rc);
  if (found.empty())
    throw std::runtime_error(where() + " does not exist and 'create' is false: create the table, or set create: true");

  std::vector<std::string> problems;
  for (const auto& c : columns_) {
    auto it = std::find_if(found.begin(), found.end(), [&](const Found& f) { return iequals(f.name, c.name); });
    if (it == found.end())
      problems.push_back("missing column '" + c.name + "'");
    else if (!type_compatible(c.type, it->type))
      problems.push_back("column '" + c.name + "' is declared " + (it->type.empty() ? "without a type" : it->type) +
                         " but 'columns." + c.name + ".type' is " + type_name(c.type));
  }
  int pk_columns = 0;
  for (const auto& f : found) pk_columns += f.pk > 0;
  for (const auto& f : found) {
    const bool configured =
        std::any_of(columns_.begin(), columns_.end(), [&](const Column& c) { return iequals(f.name, c.name); });
    const bool rowid_alias = f.pk > 0 && pk_columns == 1 && iequals(f.type, "integer");
    if (!configured && f.notnull && !f.has_default && !rowid_alias)
      problems.push_back("column '" + f.name +
                         "' is NOT NULL without a default and is not configured, so every insert would fail");
  }
  if (!problems.empty()) {
    std::vector<std::string> expected, have;
    for (const auto& c : columns_)
      expected.push_back(c.name + (c.type == ColumnType::Any ? "" : std::string(" ") + type_sql(c.type)));
    for (const auto& f : found) have.push_back(f.name + (f.type.empty() ? "" : " " + f.type));
    throw std::runtime_error(
        where() + " already exists and does not match the configured columns: " + join(problems, "; ") +
        ". Expected columns: " + join(expected) + ". Found columns: " + join(have) +
        ". Pick another table name, or migrate the table (ALTER TABLE " + quote_identifier(cfg_.table) +
        " ADD COLUMN ... for a missing column; a type change needs a new table and INSERT INTO ... SELECT).");
  }

  if (key_index_.empty()) return;
  // ON CONFLICT(key) needs a unique index (or primary key) on exactly the key columns.
  std::vector<std::string> key;
  for (auto i : key_index_) key.push_back(lower(columns_[i].name));
  std::sort(key.begin(), key.end());
  bool matched = false;
  if (key.size() == 1) {
    for (const auto& f : found)
      if (f.pk > 0 && pk_columns == 1 && iequals(f.type, "integer") && lower(f.name) == key[0]) matched = true;
  }
  std::vector<std::string> unique_indexes;
  rc = sqlite3_prepare_v2(db_.get(), "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1 AND partial = 0", -1,
                          &st, nullptr);
  if (rc != SQLITE_OK) fail_sql("reading the table's indexes", rc);
  sqlite3_bind_text(st, 1, cfg_.table.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* n = sqlite3_column_text(st, 0);
    if (n) unique_indexes.emplace_back(reinterpret_cast<const char*>(n));
  }
  sqlite3_finalize(st);
  for (const auto& index : unique_indexes) {
    if (matched) break;
    rc = sqlite3_prepare_v2(db_.get(), "SELECT name FROM pragma_index_info(?1)", -1, &st, nullptr);
    if (rc != SQLITE_OK) fail_sql("reading the table's indexes", rc);
    sqlite3_bind_text(st, 1, index.c_str(), -1, SQLITE_TRANSIENT);
    std::vector<std::string> cols;
    bool expression = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* n = sqlite3_column_text(st, 0);
      if (n == nullptr)
        expression = true;
      else
        cols.push_back(lower(reinterpret_cast<const char*>(n)));
    }
    sqlite3_finalize(st);
    std::sort(cols.begin(), cols.end());
    if (!expression && cols == key) matched = true;
  }
  if (!matched) add_key_index();
}

// An existing table without a unique index on the key (the seed tutorial's metric_snapshots has
// none on timestamp): with create: true and no duplicate keys in its rows, the index is added
// (and logged); with duplicates, start is refused with the query that lists them. Append mode
// is not chosen silently: it would break the key's promise that a re-written window is one row.
void SqliteSink::add_key_index() {
  std::vector<std::string> quoted, plain;
  for (auto i : key_index_) quoted.push_back(quote_identifier(columns_[i].name));
  for (auto i : key_index_) plain.push_back(columns_[i].name);
  const std::string table = quote_identifier(cfg_.table);
  const std::string index = quote_identifier(cfg_.table + "_key");
  const std::string create_sql = "CREATE UNIQUE INDEX " + index + " ON " + table + " (" + join(quoted) + ")";
  const std::string duplicates_sql =
      "SELECT " + join(quoted) + ", count(*) FROM " + table + " GROUP BY " + join(quoted) + " HAVING count(*) > 1";
  if (!cfg_.create)
    throw std::runtime_error(where() + " has no UNIQUE index or PRIMARY KEY on exactly (" + join(plain) +
                             "), which the upsert 'key' needs, and 'create' is false so sink-sqlite does not add one. "
                             "Add one with: " +
                             create_sql + "; (it fails while duplicate rows exist: list them with " + duplicates_sql +
                             ";), set create: true, or remove 'key' for plain inserts.");
  std::int64_t groups = 0, rows = 0;
  try {
    sqlite::Statement q = db_.prepare("SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM " + table +
                                      " GROUP BY " + join(quoted) + " HAVING count(*) > 1)");
    const int rc = q.step();
    if (rc != SQLITE_ROW) fail_sql("looking for duplicate keys", rc);
    groups = q.int64(0);
    rows = q.int64(1);
  } catch (const sqlite::Error& e) {
    fail_sql("looking for duplicate keys", e.rc());
  }
  if (groups > 0)
    throw std::runtime_error(where() + " has no UNIQUE index on the upsert key (" + join(plain) +
                             ") and cannot get one: " + std::to_string(rows) + " rows share " + std::to_string(groups) +
                             " key values. List them with: " + duplicates_sql +
                             "; then delete the extra rows (the UNIQUE index is added at the next start), pick another "
                             "table name, or remove 'key' for plain inserts (append mode).");
  const int rc = exec_retrying(create_sql, "CREATE UNIQUE INDEX");
  if (rc != SQLITE_OK) fail_sql(create_sql, rc);
  ctx_->log(LogLevel::Info, "migrated " + where() + ": it had no UNIQUE index on the upsert key (" + join(plain) +
                                "), and its rows have no duplicate keys, so sink-sqlite added one: " + create_sql);
}

std::string SqliteSink::insert_sql() const {
  std::string names, params;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    names += (i ? ", " : "") + quote_identifier(columns_[i].name);
    params += (i ? ", ?" : "?") + std::to_string(i + 1);
  }
  std::string sql = "INSERT INTO " + quote_identifier(cfg_.table) + " (" + names + ") VALUES (" + params + ")";
  if (key_index_.empty()) return sql;
  std::string target, updates;
  for (std::size_t i = 0; i < key_index_.size(); ++i)
    target += (i ? ", " : "") + quote_identifier(columns_[key_index_[i]].name);
  for (const auto& c : columns_)
    if (!c.is_key)
      updates += (updates.empty() ? "" : ", ") + quote_identifier(c.name) + " = excluded." + quote_identifier(c.name);
  sql += " ON CONFLICT (" + target + ") DO " + (updates.empty() ? std::string("NOTHING") : "UPDATE SET " + updates);
  return sql;
}

void SqliteSink::prepare_insert() {
  const std::string sql = insert_sql();
  try {
    insert_ = db_.prepare(sql, true);
  } catch (const sqlite::Error& e) {
    fail_sql("preparing " + sql, e.rc());
  }
}

// ---- Rows -------------------------------------------------------------------------------------

void SqliteSink::note_problem(const std::string& message) {
  constexpr std::uint64_t kMaxLogged = 10;
  if (ctx_ == nullptr || problems_logged_ > kMaxLogged) return;
  ++problems_logged_;
  if (problems_logged_ <= kMaxLogged)
    ctx_->log(LogLevel::Warn, message);
  else
    ctx_->log(LogLevel::Warn, "further rejected rows and values for " + where() +
                                  " are counted (write_errors, conversion_errors) but not logged");
}

Value SqliteSink::column_value(const Column& c, const Event& e) {
  switch (c.source) {
    case ColumnSource::EventTimeIso:
      return Value(format_iso8601_ms(e.time_ms));
    case ColumnSource::EventTimeMs: {
      auto v = convert_value(Value(e.time_ms), c.type);
      return v ? std::move(*v) : Value{};
    }
    case ColumnSource::Field:
      break;
  }
  const Value* v = e.get(c.id);
  if (v == nullptr || is_null(*v)) return c.default_value;
  if (auto converted = convert_value(*v, c.type)) return std::move(*converted);
  conversion_errors_.add();
  note_problem("column '" + c.name + "' of " + where() + ": value '" + to_text(*v) + "' of field '" + c.field +
               "' is not " + (c.type == ColumnType::Integer ? "an integer" : "a number") + "; stored " +
               (is_null(c.default_value) ? std::string("NULL") : "the default '" + to_text(c.default_value) + "'") +
               " instead");
  return c.default_value;
}

void SqliteSink::append_row(const Event& e) {
  const std::size_t base = pending_.size();
  for (const auto& c : columns_) {
    Value v = column_value(c, e);
    if (c.is_key && is_null(v)) {
      pending_.resize(base);
      write_errors_.add();
      note_problem("row skipped for " + where() + ": key column '" + c.name + "' has no value (field '" + c.field +
                   "' missing or null in the event at " + format_iso8601_ms(e.time_ms) +
                   "); give the column a default to keep such rows");
      return;
    }
    pending_.push_back(std::move(v));
  }
  ++pending_rows_;
}

void SqliteSink::write(const Batch& in) {
  if (failed_) throw std::runtime_error(failure_);
  if (!db_) throw std::logic_error("sink-sqlite: write() before start()");
  const auto max_rows = static_cast<std::size_t>(cfg_.max_batch_rows);
  for (const auto& e : in.events) {
    append_row(e);
    if (pending_rows_ >= max_rows) commit("max_batch_rows", Mode::Blocking);
  }
  arm_interval_timer();
}

// ---- Commits ----------------------------------------------------------------------------------

void SqliteSink::on_watermark(std::int64_t) {
  if (failed_) throw std::runtime_error(failure_);
  commit("watermark", Mode::Async);
}

void SqliteSink::on_end_of_stream() {
  if (failed_) throw std::runtime_error(failure_);
  commit("end of stream", Mode::Blocking);
  cancel_timer(interval_timer_);
}

void SqliteSink::stop() {
  if (!db_) return;
  cancel_timer(interval_timer_);
  cancel_timer(retry_timer_);
  std::string error;
  if (pending_rows_ > 0) {
    const std::size_t rows = pending_rows_;
    try {
      if (!failed_) {
        commit("stop", Mode::Blocking);
      } else if (write_pending() == Attempt::Committed) {
        ctx_->log(LogLevel::Info,
                  "committed " + std::to_string(rows) + " rows to " + where() + " at stop after the earlier failure");
      } else {
        error = std::to_string(rows) + " rows were not written to " + where() + ": the database is still locked (" +
                failure_ + ")";
      }
    } catch (const std::exception& e) {
      error = e.what();
      if (error.find(" rows were not written") == std::string::npos)
        error += " (" + std::to_string(rows) + " rows were not written)";
    }
  }
  close_database();
  if (!error.empty()) throw std::runtime_error(error);
}

void SqliteSink::arm_interval_timer() {
  if (interval_timer_ || pending_rows_ == 0 || ctx_ == nullptr) return;
  interval_timer_ = ctx_->start_timer(cfg_.commit_interval.ms, [this] {
    interval_timer_.reset();
    if (!failed_) commit("commit_interval", Mode::Async);
  });
}

void SqliteSink::cancel_timer(std::optional<TimerId>& t) {
  if (t && ctx_ != nullptr) ctx_->cancel_timer(*t);
  t.reset();
}

void SqliteSink::commit(const char* reason, Mode mode) {
  if (pending_rows_ == 0) {
    cancel_timer(interval_timer_);
    return;
  }
  // A scheduled retry will take these rows too.
  if (mode == Mode::Async && retry_timer_) return;
  cancel_timer(retry_timer_);
  for (;;) {
    const std::size_t rows = pending_rows_;
    if (write_pending() == Attempt::Committed) {
      if (failed_attempts_ > 0)
        ctx_->log(LogLevel::Info, "committed " + std::to_string(rows) + " rows to " + where() + " after " +
                                      std::to_string(failed_attempts_) +
                                      (failed_attempts_ == 1 ? " retry" : " retries"));
      failed_attempts_ = 0;
      cancel_timer(interval_timer_);
      return;
    }
    ++failed_attempts_;
    if (failed_attempts_ > cfg_.lock_retries) fail_locked(reason);
    commit_retries_.add();
    const std::int64_t delay = retry_policy().delay_ms(failed_attempts_);
    ctx_->log(LogLevel::Warn, "'" + cfg_.path + "' is locked by another connection (waited busy_timeout " +
                                  format_duration(cfg_.busy_timeout) + " to commit " + std::to_string(rows) +
                                  " rows to table '" + cfg_.table + "' on " + reason + "): retry " +
                                  std::to_string(failed_attempts_) + "/" + std::to_string(cfg_.lock_retries) + " in " +
                                  std::to_string(delay) + " ms");
    if (mode == Mode::Blocking) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      continue;
    }
    retry_timer_ = ctx_->start_timer(delay, [this] {
      retry_timer_.reset();
      if (!failed_) commit("retry", Mode::Async);
    });
    return;
  }
}

void SqliteSink::fail_locked(const char* reason) {
  failed_ = true;
  failure_ = "giving up on " + where() + ": the database stayed locked by another connection through " +
             std::to_string(failed_attempts_) + " attempts to commit " + std::to_string(pending_rows_) + " rows (on " +
             reason + "; busy_timeout " + format_duration(cfg_.busy_timeout) + " each, lock_retries " +
             std::to_string(cfg_.lock_retries) +
             "). Find the process holding the write lock (a long transaction, an sqlite3 shell inside BEGIN), or raise "
             "busy_timeout or lock_retries";
  throw std::runtime_error(failure_);
}

void SqliteSink::fail_sql(const std::string& what, int rc) {
  std::string msg = what + " failed for " + where() + ": " + (db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
  const std::string hint = error_hint(rc, cfg_.path);
  if (!hint.empty()) msg += "; " + hint;
  failed_ = true;
  failure_ = msg;
  throw std::runtime_error(msg);
}

void SqliteSink::rollback_quietly() { db_.rollback_quietly(); }

void SqliteSink::bind_row(std::size_t row) {
  const Value* r = pending_.data() + row * columns_.size();
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const int p = static_cast<int>(i + 1);
    const Value& v = r[i];
    if (const auto* n = std::get_if<std::int64_t>(&v))
      sqlite3_bind_int64(insert_.get(), p, *n);
    else if (const auto* d = std::get_if<double>(&v))
      sqlite3_bind_double(insert_.get(), p, *d);
    else if (const auto* s = std::get_if<std::string>(&v))
      sqlite3_bind_text(insert_.get(), p, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
    else if (const auto* b = std::get_if<bool>(&v))
      sqlite3_bind_int64(insert_.get(), p, *b ? 1 : 0);
    else
      sqlite3_bind_null(insert_.get(), p);
  }
}

// The database file deleted (or replaced) under the open connection: commits would go on into the
// unlinked inode and vanish when the connection closes. Checked before every commit (one stat()).
// The old connection is closed, a deleted file's orphaned -wal/-shm removed (SQLite would replay
// that journal into the new file), and the file reopened: recreated with the table when deleted
// (create: true; else start's checks fail the component), and the pending rows written there.
void SqliteSink::check_file() {
  const auto now = sqlite::file_id(cfg_.path);
  if (now && now == file_id_) return;
  const std::string what = now ? "was replaced by another file" : "was deleted";
  ctx_->log(LogLevel::Error, "the database file '" + cfg_.path + "' " + what +
                                 " while sink-sqlite had it open: rows committed to it before are gone with it");
  close_database();
  if (!now) sqlite::remove_orphaned_journal(cfg_.path);
  try {
    open_database();
    configure_connection();
    ensure_table();
    check_table();
    prepare_insert();
  } catch (const std::exception& e) {
    close_database();
    failed_ = true;
    failure_ = std::string("reopening '") + cfg_.path + "' after it " + what + ": " + e.what() + " (" +
               std::to_string(pending_rows_) + " rows were not written)";
    throw std::runtime_error(failure_);
  }
  ctx_->log(LogLevel::Warn, std::string(now ? "reopened" : "recreated") + " '" + cfg_.path + "' with " + where() +
                                ": writing the " + std::to_string(pending_rows_) +
                                " pending rows and all later rows there");
}

SqliteSink::Attempt SqliteSink::write_pending() {
  check_file();
  int rc = sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (is_locked(rc)) return Attempt::Locked;
  if (rc != SQLITE_OK) fail_sql("BEGIN IMMEDIATE", rc);
  std::uint64_t written = 0, rejected = 0;
  std::string first_rejection;
  for (std::size_t row = 0; row < pending_rows_; ++row) {
    bind_row(row);
    rc = sqlite3_step(insert_.get());
    sqlite3_reset(insert_.get());
    if (rc == SQLITE_DONE) {
      ++written;
      continue;
    }
    if (is_locked(rc)) {
      sqlite3_clear_bindings(insert_.get());
      rollback_quietly();
      return Attempt::Locked;
    }
    if (is_row_error(rc)) {
      if (++rejected == 1) first_rejection = sqlite3_errmsg(db_.get());
      continue;
    }
    const std::string msg = sqlite3_errmsg(db_.get());
    sqlite3_clear_bindings(insert_.get());
    rollback_quietly();
    failed_ = true;
    failure_ = "INSERT failed for " + where() + ": " + msg;
    if (const std::string hint = error_hint(rc, cfg_.path); !hint.empty()) failure_ += "; " + hint;
    throw std::runtime_error(failure_);
  }
  sqlite3_clear_bindings(insert_.get());
  rc = sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
  if (is_locked(rc)) {
    rollback_quietly();
    return Attempt::Locked;
  }
  if (rc != SQLITE_OK) {
    const std::string msg = sqlite3_errmsg(db_.get());
    rollback_quietly();
    failed_ = true;
    failure_ = "COMMIT failed for " + where() + ": " + msg;
    if (const std::string hint = error_hint(rc, cfg_.path); !hint.empty()) failure_ += "; " + hint;
    throw std::runtime_error(failure_);
  }
  rows_written_.add(written);
  commits_.add();
  if (rejected > 0) {
    write_errors_.add(rejected);
    note_problem(std::to_string(rejected) + " rows rejected by " + where() + " (first: " + first_rejection + ")");
  }
  pending_.clear();
  pending_rows_ = 0;
  return Attempt::Committed;
}

void SqliteSink::close_database() noexcept {
  insert_ = {};
  db_.close();
}

}  // namespace cxflow::sqlite_sink
