// sink-alerts: schema and export. The logic lives in sink-alerts.cpp, store.cpp and webhook.cpp.
#include <cxflow/plugin.hpp>

#include <cxflow/sqlite/config_keys.hpp>
#include <cxflow/sqlite/sqlite.hpp>

#include "sink-alerts.hpp"

namespace {

using namespace cxflow::alerts;
using cxflow::Schema;

Schema<ThresholdConfig> threshold_schema(bool above) {
  Schema<ThresholdConfig> s;
  s.key("warning", &ThresholdConfig::warning, "Warning threshold, in the metric's unit").example("240");
  s.key("critical", &ThresholdConfig::critical,
        above ? "Critical threshold; default warning x critical_factor (1.5, as in the seed)"
              : "Critical threshold; not derived for 'below': without it the rule has only the warning level")
      .example(above ? "360" : "0.6");
  s.key("critical_factor", &ThresholdConfig::critical_factor,
        above ? "When critical is not given: critical = warning x this factor; 0 = no critical level"
              : "Ignored for 'below' (give critical explicitly)")
      .def("1.5")
      .min(0);
  s.key("inclusive", &ThresholdConfig::inclusive,
        above ? "true: a value equal to a threshold breaches it (>=); false: only above it (>)"
              : "true: a value equal to a threshold breaches it (<=); false: only below it (<)")
      .def("false");
  s.check([](const ThresholdConfig& t) -> std::string {
    if (std::isnan(t.warning) && std::isnan(t.critical)) return "give warning and/or critical";
    return "";
  });
  return s;
}

Schema<RuleConfig> rule_schema() {
  Schema<RuleConfig> s;
  s.key("name", &RuleConfig::name,
        "Rule name, in every notification and the key of the stored alert state; default <metric>_above or "
        "<metric>_below. Unique")
      .example("aht_high");
  s.key("metric", &RuleConfig::metric, "Numeric field of the incoming window events to watch")
      .required()
      .example("avg_handle_time");
  s.record("above", &RuleConfig::above, threshold_schema(true),
           "Alert when the value is above the thresholds (give either above or below)")
      .example("{warning: 240, critical: 360}");
  s.record("below", &RuleConfig::below, threshold_schema(false),
           "Alert when the value is below the thresholds (give either above or below)")
      .example("{warning: 0.8, critical: 0.6}");
  s.key("for", &RuleConfig::for_windows,
        "Fire only when the condition holds for this many consecutive windows of the group (a missing window breaks "
        "the streak). Escalation to critical while firing is immediate")
      .def("1")
      .range(1, 100'000);
  s.key("hysteresis", &RuleConfig::hysteresis,
        "Margin, in the metric's unit: a firing level clears only when the value is back past its threshold by "
        "this much (above: value <= threshold - hysteresis). Applies to resolving and to de-escalating")
      .def("0")
      .min(0);
  s.key("repeat", &RuleConfig::repeat,
        "While still firing at the same level, notify again (state 'repeat') at most this often, in event time; "
        "0s = never")
      .def("0s")
      .range(0, 365.0 * 86'400'000);
  s.key("where", &RuleConfig::where,
        "Condition (shared condition language) an event must match for this rule to look at it; default: every event")
      .example("metadata.queue != vip");
  s.key("on_missing", &RuleConfig::on_missing,
        "A firing group that stops producing windows (or whose metric is null): resolve = notify 'resolved' "
        "(no_data) after missing_windows windows; hold = stay firing until data returns")
      .def("resolve")
      .one_of(
          std::vector<std::pair<std::string, OnMissing>>{{"resolve", OnMissing::Resolve}, {"hold", OnMissing::Hold}});
  s.key("missing_windows", &RuleConfig::missing_windows,
        "How many whole windows without a value resolve a firing group (on_missing: resolve)")
      .def("3")
      .range(1, 100'000);
  s.check([](const RuleConfig& r) { return check_rule(r); });
  return s;
}

Schema<SqliteConfig> sqlite_schema() {
  Schema<SqliteConfig> s;
  s.key("path", &SqliteConfig::path, "Database file, created if missing (may be the same file as sink-sqlite's)")
      .required()
      .example("cxone_analytics.db");
  s.key("table", &SqliteConfig::table,
        "Alerts table: the seed's columns (timestamp, metric, value, threshold, severity) plus rule, group_key, "
        "state, window_start, window_end, message; created if missing, extra columns added to an existing seed table")
      .def("alerts");
  s.key("state_table", &SqliteConfig::state_table,
        "Table of the alert state per (rule, group), so a restart neither re-fires nor forgets; default <table>_state");
  // The retry policy and URI keys: the same family as sink-sqlite's.
  cxflow::sqlite::declare_storage_keys(s, "before the component fails (the alerts stay queued until then)");
  s.check("table", [](const SqliteConfig& c) -> std::string {
    const std::string p = cxflow::sqlite::identifier_problem(c.table);
    return p.empty() ? p : "table names: " + p;
  });
  s.check("state_table", [](const SqliteConfig& c) -> std::string {
    if (c.state_table.empty()) return "";  // default <table>_state
    const std::string p = cxflow::sqlite::identifier_problem(c.state_table);
    return p.empty() ? p : "table names: " + p;
  });
  return s;
}

Schema<WebhookConfig> webhook_schema() {
  Schema<WebhookConfig> s;
  s.key("url", &WebhookConfig::url,
        "http:// or https:// URL to POST each notification to. Logs show only scheme://host:port (a Slack URL's "
        "path is its secret); use ${VAR} to keep it out of the file")
      .required()
      .example("https://hooks.slack.com/services/${SLACK_WEBHOOK_PATH}");
  s.key("headers", &WebhookConfig::headers,
        "Extra request headers (Content-Type defaults to application/json). Values are secret: take them from the "
        "environment with ${VAR}")
      .secret()
      .example("{Authorization: 'Bearer ${ALERT_TOKEN}'}");
  s.key("template", &WebhookConfig::template_text,
        "Body template; {{name}} expands to a notification field, JSON-escaped without quotes (state, rule, metric, "
        "group, group.<field>, severity, previous_severity, value, threshold, window_start, window_end, timestamp, "
        "since, no_data, message; {{json}} = the whole default body). Default: the JSON object of all fields")
      .example("'{\"text\": \"{{message}}\"}'");
  s.key("timeout", &WebhookConfig::timeout, "Per attempt: connect, TLS handshake, request and response")
      .def("5s")
      .range(1, 600'000);
  s.key("retries", &WebhookConfig::retries,
        "Retries after a failed attempt (connection error, timeout, HTTP 408, 429 or 5xx); other 4xx fail at once")
      .def("5")
      .range(0, 1'000'000);
  s.key("retry_backoff", &WebhookConfig::retry_backoff,
        "Wait before the first retry; doubles per retry up to max_backoff (a 429's Retry-After is honoured up to "
        "max_backoff)")
      .def("500ms")
      .range(1, 3'600'000);
  s.key("max_backoff", &WebhookConfig::max_backoff, "Longest wait between retries").def("30s").range(1, 3'600'000);
  s.key("queue_size", &WebhookConfig::queue_size,
        "Notifications waiting for this webhook; when full the oldest is dropped (logged, counted webhook_dropped)")
      .def("1000")
      .range(1, 1'000'000);
  s.key("ca_file", &WebhookConfig::ca_file, "PEM file of CA certificates for https; default: the system's")
      .example("/etc/ssl/certs/internal-ca.pem");
  s.key("tls_verify", &WebhookConfig::tls_verify,
        "Verify the server certificate and host name (https). false is for tests only")
      .def("true");
  s.key("drain_timeout", &WebhookConfig::drain_timeout,
        "At shutdown, how long to wait for queued notifications; what is left is logged and counted webhook_failed")
      .def("5s")
      .range(0, 600'000);
  return s;
}

struct Plugin {
  static constexpr const char* name = "sink-alerts";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Threshold alerts on window aggregates: warning/critical levels, for N windows, hysteresis, repeat interval "
      "and a missing-window rule on event time; notifies to the log, an SQLite table and HTTP(S) webhooks";
  static constexpr const char* example =
      "rules:\n"
      "  - {name: aht_high, metric: avg_handle_time, above: {warning: 240}, hysteresis: 10}\n"
      "  - {name: wait_high, metric: avg_wait_time, above: {warning: 90}, for: 2, repeat: 15m}\n";
  using Config = cxflow::alerts::Config;
  using Instance = AlertSink;

  static void schema(Schema<Config>& s) {
    s.records("rules", &Config::rules, rule_schema(), "Alert rules, evaluated on every incoming window event")
        .required()
        .example("[{metric: avg_handle_time, above: {warning: 240}}]");
    s.key("group_by", &Config::group_by,
          "Fields whose values identify a group; each (rule, group) has its own alert state. Default "
          "[metadata.queue] (the usual per-queue aggregate); an event without a field groups under the empty value. "
          "[] = one state for the whole stream")
        .example("[metadata.queue]");
    s.key("window_lateness", &Config::window_lateness,
          "The upstream aggregate-window's allowed lateness: a window counts as missing once the watermark is past "
          "its end plus this (windows of other groups count at once)")
        .def("0s")
        .range(0, 86'400'000);
    s.key("max_groups", &Config::max_groups,
          "Most groups tracked per rule; windows of further groups are skipped and counted groups_dropped")
        .def("10000")
        .range(1, 10'000'000);
    s.key("log", &Config::log, "Write one structured log line per notification").def("true");
    s.record("sqlite", &Config::sqlite, sqlite_schema(),
             "Store alerts (the seed's alerts table) and alert state in SQLite; default: none")
        .example("{path: cxone_analytics.db, table: alerts}");
    s.records("webhooks", &Config::webhooks, webhook_schema(), "HTTP(S) webhooks to POST every notification to")
        .example("[{url: 'http://127.0.0.1:9000/alerts'}]");
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
