// Declared data interfaces through the real cxflow binary and the real plugins: `validate`
// refuses a field no upstream produces (with the position of the key naming it and the closest
// produced field), and a field produced with another type than the one read; `plugins describe`
// prints what a plugin reads and produces.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "plugin_registry.hpp"
#include "process.hpp"

using namespace cxflow::test;
namespace fs = std::filesystem;

namespace {

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), cxflow_bin());
  args.insert(args.end(), {"--plugin-dir", plugin_dir()});
  return run_process(args, {"CXFLOW_PLUGIN_PATH="});
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Line numbers below are those of this text (line 1 = "sources:").
const char* kPipeline = R"(sources:
  calls:
    plugin: source-simulator
    seed: 7
    duration: 10m
    speed: max
transforms:
  completed:
    plugin: filter-interaction
    inputs: [calls]
    event_types: [interaction]
    where: metrics.waitTime >= 0
  per_queue:
    plugin: aggregate-window
    inputs: [completed]
    window: 60s
    group_by: [metadata.queue]
    metrics:
      contacts: count
      avg_handle_time: avg(metrics.handleTime)
sinks:
  alerts:
    plugin: sink-alerts
    inputs: [per_queue]
    group_by: [metadata.queue]
    rules:
      - {metric: avg_handle_time, above: {warning: 240}}
  rows:
    plugin: sink-sqlite
    inputs: [per_queue]
    path: DB
    table: queues
    columns:
      queue: {field: metadata.queue, type: text}
      contacts: {field: contacts, type: integer}
)";

std::string pipeline(const TempDir& d, const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  std::string y = kPipeline;
  for (const auto& [from, to] : edits) {
    const auto at = y.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) y.replace(at, from.size(), to);
  }
  const auto db = (d / "out.db").string();
  y.replace(y.find("path: DB"), 8, "path: " + db);
  return d.write("p.yaml", y).string();
}

}  // namespace

TEST(DataInterface, TheBasePipelineValidatesAndRuns) {
  TempDir d;
  const auto p = pipeline(d);
  auto v = cli({"validate", p});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  auto r = cli({"run", p, "--no-status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(sqlite_scalar(d / "out.db", "SELECT count(*) FROM queues WHERE queue IS NOT NULL"), "0");
}

// Reproduced on main: the typo passed validate and the run wrote NULL into the column forever.
TEST(DataInterface, MisspelledSqliteColumnFieldIsRefusedWithPositionAndSuggestion) {
  TempDir d;
  const auto p = pipeline(d, {{"queue: {field: metadata.queue,", "queue: {field: metadata.queeu,"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:34:22: 'sinks.rows.columns.queue.field': field 'metadata.queeu' is not produced by any "
                       "input of 'rows' (per_queue); did you mean 'metadata.queue'?"))
      << r.err;
  auto run = cli({"run", p, "--no-status"});
  EXPECT_EQ(run.exit_code, 65) << run.err;
  EXPECT_FALSE(fs::exists(d / "out.db")) << "nothing may start when a read is unresolved";
}

TEST(DataInterface, MisspelledAlertRuleMetricIsRefused) {
  TempDir d;
  const auto p = pipeline(d, {{"{metric: avg_handle_time,", "{metric: avg_handle_tme,"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:27:18: 'sinks.alerts.rules[0].metric': field 'avg_handle_tme' is not produced by any "
                       "input of 'alerts' (per_queue); did you mean 'avg_handle_time'?"))
      << r.err;
}

TEST(DataInterface, MisspelledGroupByAndMetricFieldOfAggregateWindowAreRefused) {
  TempDir d;
  const auto p = pipeline(d, {{"group_by: [metadata.queue]\n    metrics", "group_by: [metadata.queeu]\n    metrics"},
                              {"avg(metrics.handleTime)", "avg(metrics.handleTme)"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:17:16: 'transforms.per_queue.group_by[0]': field 'metadata.queeu' is not produced by "
                       "any input of 'per_queue' (completed); did you mean 'metadata.queue'?"))
      << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:20:28: 'transforms.per_queue.metrics.avg_handle_time': field 'metrics.handleTme' is not "
                       "produced by any input of 'per_queue' (completed); did you mean 'metrics.handleTime'?"))
      << r.err;
}

TEST(DataInterface, MisspelledFilterWhereFieldIsRefused) {
  TempDir d;
  const auto p = pipeline(d, {{"where: metrics.waitTime >= 0", "where: metrics.waitTme >= 0"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:12:12: 'transforms.completed.where': field 'metrics.waitTme' is not produced by any "
                       "input of 'completed' (calls); did you mean 'metrics.waitTime'?"))
      << r.err;
}

TEST(DataInterface, StringFieldReadAsANumberIsRefused) {
  TempDir d;
  const auto p =
      pipeline(d, {{"avg(metrics.handleTime)", "avg(metrics.state)"},
                   {"contacts: {field: contacts, type: integer}", "contacts: {field: window_end, type: integer}"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:20:28: 'transforms.per_queue.metrics.avg_handle_time': field 'metrics.state' is read as "
                       "a number, but sources.calls (source-simulator) produces it as a string"))
      << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:35:25: 'sinks.rows.columns.contacts.field': field 'window_end' is read as a number, but "
                       "transforms.per_queue (aggregate-window) produces it as a string"))
      << r.err;
}

TEST(DataInterface, EveryUnresolvedReadOfEveryComponentIsListedInOnePass) {
  TempDir d;
  const auto p = pipeline(d, {{"where: metrics.waitTime >= 0", "where: metrics.waitTme >= 0"},
                              {"{metric: avg_handle_time,", "{metric: avg_handle_tme,"},
                              {"group_by: [metadata.queue]\n    metrics", "group_by: [metadata.queeu]\n    metrics"},
                              {"table: queues", "table: queues\n    commit_interval: soon"}});
  auto r = cli({"validate", p});
  EXPECT_EQ(r.exit_code, 65) << r.err;
  // A schema error of one component (sinks.rows: its reads are then unknown) and the unresolved
  // reads of three others, in one run.
  EXPECT_TRUE(contains(r.err, "'sinks.rows.commit_interval'")) << r.err;
  EXPECT_TRUE(contains(r.err, "'metrics.waitTme'")) << r.err;
  EXPECT_TRUE(contains(r.err, "'avg_handle_tme'")) << r.err;
  EXPECT_TRUE(contains(r.err, "'metadata.queeu'")) << r.err;
  // The misspelled group key is what per_queue now produces, so its reader downstream is told.
  EXPECT_TRUE(contains(r.err,
                       "'sinks.alerts.group_by[0]': field 'metadata.queue' is not produced by any input of 'alerts' "
                       "(per_queue); did you mean 'metadata.queeu'?"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "5 errors; nothing was started")) << r.err;
}

TEST(DataInterface, DescribePrintsReadsAndProduces) {
  auto r = cli({"plugins", "describe", "aggregate-window"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Data (declared with the example config below; the lists depend on the config):"))
      << r.out;
  // The example's first metric with a where reads metrics.state (any: compared as text) before
  // the averaged metrics.handleTime (a number).
  EXPECT_TRUE(contains(
      r.out, "  reads:\n    metadata.queue  (any)\n    metrics.state  (any)\n    metrics.handleTime  (number)\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out,
                       "  produces:\n    window_start  (string)\n    window_end  (string)\n    metadata.queue  (any)\n"
                       "    contacts  (number)\n"))
      << r.out;

  auto f = cli({"plugins", "describe", "filter-interaction"});
  EXPECT_TRUE(contains(f.out, "    eventType  (string)\n")) << f.out;
  EXPECT_TRUE(contains(f.out, "  produces: its input, passed through\n")) << f.out;

  auto j = cli({"plugins", "describe", "sink-sqlite", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  const auto& reads = doc.at("data").at("reads");
  ASSERT_EQ(reads.size(), 3u) << j.out;
  EXPECT_EQ(reads[0].at("name"), "metadata.queue");
  EXPECT_EQ(reads[1].at("name"), "contacts");
  EXPECT_EQ(reads[1].at("type"), "number");
  EXPECT_TRUE(doc.at("data").at("produces").empty());
}

TEST(DeclaredCounters, DescribeListsKindUnitLabelsAndRole) {
  auto r = cli({"plugins", "describe", "source-replay"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Counters (besides the host's events_in, events_out, dropped, errors):\n")) << r.out;
  EXPECT_TRUE(
      contains(r.out,
               "  malformed{reason=invalid_json}  (counter, lines, role malformed)  lines skipped as malformed, "
               "by reason\n"))
      << r.out;

  auto j = cli({"plugins", "describe", "sink-sqlite", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  bool found = false;
  for (const auto& c : doc.at("counters"))
    if (c.at("name") == "rows_written") {
      found = true;
      EXPECT_EQ(c.at("kind"), "counter");
      EXPECT_EQ(c.at("unit"), "rows");
      EXPECT_EQ(c.at("role"), "rows_committed");
    }
  EXPECT_TRUE(found) << j.out;
}

// On main the summary's "windows written" summed every counter named rows_written: sink-alerts'
// alert rows and sink-sqlite's raw event rows alike. Now it sums the rows_committed role.
TEST(DeclaredCounters, SummaryCountsDataRowsAndAlertsByRole) {
  TempDir d;
  const auto db = d / "demo.db";
  auto r = run_process(
      {cxflow_bin(), "run", source_dir() + "/pipelines/simulated.yaml", "--no-status", "--plugin-dir", plugin_dir()},
      {"CXFLOW_PLUGIN_PATH=", "CXFLOW_SPEED=max", "CXFLOW_DB=" + db.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::uint64_t data_rows = std::stoull(sqlite_scalar(db, "SELECT count(*) FROM metric_snapshots")) +
                                  std::stoull(sqlite_scalar(db, "SELECT count(*) FROM queue_snapshots"));
  const std::uint64_t alert_rows = std::stoull(sqlite_scalar(db, "SELECT count(*) FROM alerts"));
  ASSERT_GT(data_rows, 0u);
  ASSERT_GT(alert_rows, 0u) << "the simulated scenario fires alerts";
  EXPECT_TRUE(
      contains(r.err, ", " + std::to_string(data_rows) + " rows written, " + std::to_string(alert_rows) + " alerts"))
      << "data rows " << data_rows << ", alert rows " << alert_rows << "\n"
      << r.err;
}

// source-replay may carry fields it does not declare, so an undeclared read after it is accepted;
// a near miss of a declared field is still pointed out.
TEST(DataInterface, NearMissAfterAnOpenSourceIsAcceptedWithAWarning) {
  TempDir d;
  const auto p = d.write("p.yaml", R"(sources:
  replay: {plugin: source-replay, path: events.jsonl}
transforms:
  per_queue:
    plugin: aggregate-window
    inputs: [replay]
    window: 60s
    group_by: [metadata.queeu, metadata.region]
    metrics: {contacts: count}
sinks:
  rows:
    plugin: sink-sqlite
    inputs: [per_queue]
    path: out.db
    table: t
    columns: {region: metadata.region, contacts: {field: contacts, type: integer}}
)");
  auto r = cli({"validate", p.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "p.yaml:8:16: field 'metadata.queeu' is not among the fields declared upstream (accepted: an "
                       "input may carry fields it does not declare); did you mean 'metadata.queue'?"))
      << r.err;
  EXPECT_FALSE(contains(r.err, "metadata.region")) << r.err;
}

// On main the projection was global (the frozen FieldTable): a source decoded every name any
// component interned, output-only names such as `contacts` included. Now each source keeps what
// its own downstream reads.
TEST(Projection, EachSourceKeepsOnlyWhatItsOwnDownstreamReads) {
  TempDir d;
  const auto p = d.write("p.yaml", R"(sources:
  a: {plugin: source-replay, path: a.jsonl}
  b: {plugin: source-replay, path: b.jsonl}
transforms:
  ended:
    plugin: filter-interaction
    inputs: [a]
    states: [ended]
  per_queue:
    plugin: aggregate-window
    inputs: [ended]
    window: 60s
    group_by: [metadata.queue]
    metrics: {contacts: count, aht: avg(metrics.handleTime)}
sinks:
  rows:
    plugin: sink-sqlite
    inputs: [per_queue]
    path: out.db
    table: t
    columns: {queue: metadata.queue, contacts: {field: contacts, type: integer}, aht: {field: aht, type: real}}
  agents:
    plugin: sink-sqlite
    inputs: [b]
    path: out.db
    table: agents
    columns: {agent: agentId}
)");
  cxflow::host::PluginRegistry reg({plugin_dir()});
  reg.scan();
  std::vector<cxflow::ConfigError> errors;
  auto pipeline = cxflow::host::load_pipeline(p.string(), reg, errors);
  ASSERT_NE(pipeline, nullptr) << (errors.empty() ? "" : errors[0].str());
  auto names = [&](const std::string& source) {
    std::vector<std::string> out;
    for (const auto& c : pipeline->components)
      if (c.spec.name == source) {
        EXPECT_TRUE(c.projection.has_value()) << source;
        if (c.projection)
          for (auto id : *c.projection) out.push_back(pipeline->fields.name(id));
      }
    std::sort(out.begin(), out.end());
    return out;
  };
  // a: the filter's state, the aggregate's group key and averaged field; not contacts, aht,
  // window_start or agentId (read downstream of b only).
  EXPECT_EQ(names("a"), (std::vector<std::string>{"metadata.queue", "metrics.handleTime", "metrics.state"}));
  EXPECT_EQ(names("b"), (std::vector<std::string>{"agentId"}));
}

// The progress line (the status line's text when not on a terminal) reads the same roles.
TEST(DeclaredCounters, ProgressLineShowsRowsWrittenAndAlertsByRole) {
  TempDir d;
  const auto db = d / "demo.db";
  std::ifstream in(source_dir() + "/pipelines/simulated.yaml");
  std::stringstream text;
  text << "runtime: {log_interval: 50ms}\n" << in.rdbuf();
  const auto p = d.write("p.yaml", text.str());
  auto r = run_process({cxflow_bin(), "run", p.string(), "--no-status", "--plugin-dir", plugin_dir()},
                       {"CXFLOW_PLUGIN_PATH=", "CXFLOW_SPEED=20000", "CXFLOW_DB=" + db.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::uint64_t data_rows = std::stoull(sqlite_scalar(db, "SELECT count(*) FROM metric_snapshots")) +
                                  std::stoull(sqlite_scalar(db, "SELECT count(*) FROM queue_snapshots"));
  std::uint64_t last_rows = 0, lines = 0;
  for (std::size_t at = r.err.find("progress: "); at != std::string::npos; at = r.err.find("progress: ", at + 1)) {
    const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
    const auto rw = line.find("| rows written ");
    ASSERT_NE(rw, std::string::npos) << line;
    EXPECT_NE(line.find(" | alerts "), std::string::npos) << line;
    last_rows = std::stoull(line.substr(rw + 15));
    ++lines;
  }
  ASSERT_GT(lines, 0u) << r.err;
  EXPECT_LE(last_rows, data_rows) << "rows written counts data rows only\n" << r.err;
}
