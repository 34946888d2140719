// source-simulator: a deterministic discrete-event simulation of a contact center that emits the
// normalized event schema (interaction, agent and queue events), so it can stand in for the live
// CXone source with one line of YAML.
//
// The config structs below are bound by the schema in plugin.cpp; resolve_model() applies the
// built-in defaults and checks everything that spans several keys (unknown queue names, speed,
// start time...). The simulation itself lives in source-simulator.cpp.
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/config.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cxflow::sim {

struct QueueConfig {
  std::string name;
  std::string skill;  // "" = same as name
  double arrivals_per_hour = 200;
  Duration patience{90'000};      // mean, exponential; 0 = never abandons
  Duration handle_time{180'000};  // median of a log-normal
  double handle_time_sigma = 0.5;
  Duration wrapup{20'000};  // mean, exponential; 0 = no wrap-up
  Duration service_level_threshold{20'000};
};

struct AgentGroupConfig {
  std::string name;
  std::int64_t count = 0;
  std::string prefix;               // "" = name
  std::vector<std::string> queues;  // empty = every queue
};

struct ScenarioStepConfig {
  Duration at;
  double arrivals = -1;       // < 0 = not set
  double handle_factor = -1;  // < 0 = not set
  std::string queue;          // "" = every queue (arrivals and handle_factor only)
  std::string group;          // "" = any group (login/logout only)
  std::int64_t logout = 0;
  std::int64_t login = 0;
};

struct Config {
  std::int64_t seed = 1;
  std::string start_time = "2026-01-05T08:00:00Z";
  std::string speed = "max";
  Duration duration{0};
  std::int64_t max_events = 0;
  std::int64_t batch_size = 512;
  Duration queue_snapshot_interval{60'000};
  std::vector<std::string> event_types{"interaction", "agent", "queue"};
  std::string ground_truth;
  std::vector<QueueConfig> queues;
  std::vector<AgentGroupConfig> agents;
  std::vector<ScenarioStepConfig> scenario;
  std::vector<std::string> arrival_curve;  // 24 numbers or empty
  double break_rate_per_hour = 0.5;
  Duration break_duration{300'000};
};

// ---- The resolved model: defaults applied, names turned into indexes ----------------------

struct ModelQueue {
  std::string name;
  std::string skill;
  double arrivals_per_hour = 0;
  std::int64_t patience_ms = 0;
  std::int64_t handle_median_ms = 0;
  double handle_sigma = 0;
  std::int64_t wrapup_mean_ms = 0;
  std::int64_t sl_threshold_ms = 0;
};

struct ModelGroup {
  std::string name;
  std::string prefix;
  std::int64_t count = 0;
  std::vector<std::uint32_t> queues;  // indexes into Model::queues
};

struct ModelStep {
  std::int64_t at_ms = 0;
  double arrivals = -1;
  double handle_factor = -1;
  int queue = -1;  // -1 = every queue
  int group = -1;  // -1 = any group
  std::int64_t logout = 0;
  std::int64_t login = 0;
};

struct Model {
  std::vector<ModelQueue> queues;
  std::vector<ModelGroup> groups;
  std::vector<ModelStep> steps;          // sorted by at_ms (stable)
  std::vector<double> arrival_curve;     // empty or 24 multipliers
  double speed_factor = 0;               // 0 = as fast as possible
  std::optional<std::int64_t> start_ms;  // nullopt = wall clock at start
  bool emit_interaction = true, emit_agent = true, emit_queue = true;
};

// Resolves defaults and validates what single keys cannot. Returns "" and fills `out`, or the
// error message (naming the key, e.g. "agents[1].queues: unknown queue 'sale'...").
std::string resolve_model(const Config& cfg, Model& out);

// Per-key checks of records, used by the schema.
std::string check_scenario_step(const ScenarioStepConfig& s);

class SimulatorSource final : public Source {
 public:
  SimulatorSource(const Config& cfg, Setup& setup);
  ~SimulatorSource() override;
  void start(SourceContext& ctx) override;
  void stop() override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxflow::sim
