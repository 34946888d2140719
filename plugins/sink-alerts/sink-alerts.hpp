// sink-alerts: threshold alerts on window aggregates, with warning/critical levels, "for N windows",
// hysteresis, repeat intervals and a missing-window rule, all on event time. Notifications go to
// the log, an SQLite table and HTTP(S) webhooks.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <cxflow/component.hpp>
#include <cxflow/condition.hpp>
#include <cxflow/config.hpp>
#include <cxflow/event.hpp>

namespace cxflow::alerts {

inline constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();

// ---- Config (bound by the schema in plugin.cpp) --------------------------------------------

struct ThresholdConfig {
  double warning = kUnset;
  double critical = kUnset;
  double critical_factor = 1.5;  // above only: critical = warning x factor when not given; 0 = none
  bool inclusive = false;        // >= / <= instead of > / <
};

enum class OnMissing { Resolve, Hold };

struct RuleConfig {
  std::string name;  // default: <metric>_<above|below>
  std::string metric;
  ThresholdConfig above;
  ThresholdConfig below;
  std::int64_t for_windows = 1;
  double hysteresis = 0;
  Duration repeat{0};  // 0 = never
  std::string where;
  OnMissing on_missing = OnMissing::Resolve;
  std::int64_t missing_windows = 3;
};

struct SqliteConfig {
  std::string path;  // "" = no store
  std::string table = "alerts";
  std::string state_table;  // default <table>_state
  Duration busy_timeout{5000};
  int lock_retries = 5;  // the retry policy of cxflow-sqlite, keys as in sink-sqlite
  Duration lock_retry_backoff{200};
  bool uri = false;  // let SQLite interpret a file: URI path
};

struct WebhookConfig {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string template_text;
  Duration timeout{5000};
  std::int64_t retries = 5;
  Duration retry_backoff{500};
  Duration max_backoff{30'000};
  std::int64_t queue_size = 1000;
  std::string ca_file;
  bool tls_verify = true;
  Duration drain_timeout{5000};
};

struct Config {
  std::vector<RuleConfig> rules;
  std::vector<std::string> group_by{"metadata.queue"};
  Duration window_lateness{0};
  std::int64_t max_groups = 10'000;
  bool log = true;
  SqliteConfig sqlite;
  std::vector<WebhookConfig> webhooks;
};

// Validation across keys shared by the schema checks and the constructor. "" = ok.
std::string check_rule(const RuleConfig& r);

// Log lines produced off the strand; the sink writes them on its strand (Context::log is not
// promised to be thread-safe).
class LogQueue {
 public:
  void push(LogLevel level, std::string line) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(level, std::move(line));
  }
  std::vector<std::pair<LogLevel, std::string>> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(lines_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

// ---- Notifications --------------------------------------------------------------------------

enum class Level { Ok = 0, Warning = 1, Critical = 2 };
const char* level_name(Level l);

enum class Change { Firing, Escalated, Deescalated, Repeat, Resolved };
const char* change_name(Change c);

struct Notification {
  Change change = Change::Firing;
  std::string rule;
  std::string metric;
  std::string direction;  // above | below
  std::string group;      // "metadata.queue=sales" ("all" without group_by)
  std::vector<std::pair<std::string, std::string>> group_fields;
  Level severity = Level::Warning;  // the level now (resolved: the level that resolved)
  Level previous = Level::Ok;
  double value = 0;
  double threshold = 0;
  std::int64_t window_start_ms = 0;
  std::int64_t window_end_ms = 0;
  std::int64_t since_ms = 0;  // when the alert started firing
  bool no_data = false;       // resolved because the group stopped producing windows
  std::int64_t missing = 0;   // windows missing (no_data)
  std::string message;
};

// One structured line for the log.
std::string log_line(const Notification& n);
// The default JSON body; also {{json}} in templates.
std::string to_json(const Notification& n);
// Expands {{name}} placeholders: every Notification field, JSON-escaped (no quotes added).
std::string render_template(const std::string& tmpl, const Notification& n);
// "" when every {{placeholder}} of `tmpl` is known, else what is wrong.
std::string check_template(const std::string& tmpl);

// ---- Alert state ----------------------------------------------------------------------------

struct AlertState {
  Level level = Level::Ok;
  std::int64_t consecutive = 0;  // consecutive breaching windows while Ok (for: N)
  std::int64_t last_start_ms = std::numeric_limits<std::int64_t>::min();
  std::int64_t last_end_ms = std::numeric_limits<std::int64_t>::min();
  std::int64_t window_ms = 0;
  std::int64_t last_notified_ms = 0;  // window start of the last notification
  std::int64_t since_ms = 0;
  double last_value = 0;
  std::string group;  // display form
  bool dirty = false;
};

class Store;
class Webhook;

struct Rule {
  RuleConfig cfg;
  FieldId metric = kNoField;
  bool above = true;
  double warning = kUnset;  // NaN = no such level
  double critical = kUnset;
  Condition where;
  std::unordered_map<std::string, AlertState> states;  // group key -> state
};

class AlertSink final : public Sink {
 public:
  AlertSink(const Config& cfg, Setup& setup);
  ~AlertSink() override;

  void start(Context& ctx) override;
  void write(const Batch& in) override;
  void on_watermark(std::int64_t watermark_ms) override;
  void on_end_of_stream() override;
  void stop() override;

 private:
  void evaluate(Rule& rule, const std::string& key, const Event& e, double value, std::int64_t start_ms,
                std::int64_t end_ms);
  void check_missing();
  void notify(Rule& rule, AlertState& st, Change change, Level severity, Level previous, double value, double threshold,
              std::int64_t start_ms, std::int64_t end_ms);
  void flush();  // store + worker logs
  void drain_worker_logs();
  void schedule_log_drain();
  std::int64_t window_end_of(const Event& e);

  Config cfg_;
  std::vector<Rule> rules_;
  std::vector<FieldId> group_ids_;
  std::vector<std::string> group_names_;
  FieldId window_start_id_;
  FieldId window_end_id_;
  Context* ctx_ = nullptr;
  Counter& alerts_;
  Counter& windows_;
  Counter& no_value_;
  Counter& stale_;
  Counter& groups_dropped_;
  Counter& rows_written_;
  LogQueue worker_logs_;  // before webhooks_: they log into it until they are destroyed
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Webhook>> webhooks_;
  std::int64_t max_end_seen_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t watermark_ms_ = std::numeric_limits<std::int64_t>::min();
  std::string cached_end_text_;
  std::int64_t cached_end_ms_ = 0;
  std::int64_t no_data_missing_ = 0;  // set while check_missing() resolves a silent group
  TimerId log_timer_ = 0;
  bool stopped_ = false;
};

}  // namespace cxflow::alerts
