// source-simulator: schema and export.
#include <cxflow/plugin.hpp>

#include "source-simulator.hpp"

namespace {

using namespace cxflow;
using namespace cxflow::sim;

Schema<QueueConfig> queue_schema() {
  Schema<QueueConfig> s;
  s.key("name", &QueueConfig::name, "Queue name (metadata.queue); unique").required().example("sales");
  s.key("skill", &QueueConfig::skill, "Skill of the queue (metadata.skill); empty = the queue name").def("");
  s.key("arrivals_per_hour", &QueueConfig::arrivals_per_hour,
        "Mean arrival rate (Poisson), contacts per hour, before scenario multipliers and the arrival curve")
      .def("200")
      .min(0);
  s.key("patience", &QueueConfig::patience,
        "Mean patience of a waiting caller (exponential); a contact not answered within its patience abandons. "
        "0s = callers never abandon")
      .def("90s");
  s.key("handle_time", &QueueConfig::handle_time, "Median talk time, answer to wrap-up (log-normal)")
      .def("180s")
      .min(1);
  s.key("handle_time_sigma", &QueueConfig::handle_time_sigma,
        "Log-normal shape of the talk time: sigma of its logarithm (0 = every contact takes exactly handle_time)")
      .def("0.5")
      .range(0, 3);
  s.key("wrapup", &QueueConfig::wrapup, "Mean after-call work (exponential); 0s = no wrap-up state").def("20s");
  s.key("service_level_threshold", &QueueConfig::service_level_threshold,
        "Answer-time target for metrics.serviceLevel in queue snapshots")
      .def("20s");
  return s;
}

Schema<AgentGroupConfig> agent_schema() {
  Schema<AgentGroupConfig> s;
  s.key("name", &AgentGroupConfig::name, "Team name (metadata.team on agent events); unique")
      .required()
      .example("sales");
  s.key("count", &AgentGroupConfig::count, "Agents in the group, all logged in at the start")
      .def("1")
      .range(0, 1'000'000);
  s.key("prefix", &AgentGroupConfig::prefix,
        "agentId prefix: agents are <prefix>-01, <prefix>-02...; empty = the team name")
      .def("");
  s.key("queues", &AgentGroupConfig::queues,
        "Queues (skills) the group serves; a free agent takes the longest-waiting contact among them. "
        "Empty = every queue")
      .example("[sales, billing]");
  return s;
}

Schema<ScenarioStepConfig> step_schema() {
  Schema<ScenarioStepConfig> s;
  s.key("at", &ScenarioStepConfig::at, "Simulated time of the step, from the start").required().example("10m");
  s.key("arrivals", &ScenarioStepConfig::arrivals,
        "Sets the arrival-rate multiplier (relative to arrivals_per_hour, not cumulative: 1.0 restores it)")
      .min(0)
      .example("3.0");
  s.key("handle_factor", &ScenarioStepConfig::handle_factor,
        "Sets the talk-time multiplier for contacts arriving from this step on (relative to handle_time, not "
        "cumulative: 1.0 restores it)")
      .min(0)
      .example("1.5");
  s.key("queue", &ScenarioStepConfig::queue,
        "Limits 'arrivals' and 'handle_factor' to this queue (default: every queue)");
  s.key("logout", &ScenarioStepConfig::logout,
        "Number of agents that log out: idle agents at once, busy agents when their contact is done")
      .min(0)
      .example("5");
  s.key("login", &ScenarioStepConfig::login,
        "Number of agents that log in: logged-out agents first, then new agents added to the group")
      .min(0)
      .example("5");
  s.key("group", &ScenarioStepConfig::group,
        "Limits 'logout'/'login' to this agent group (login default: the first group)");
  s.check([](const ScenarioStepConfig& c) { return check_scenario_step(c); });
  return s;
}

struct Plugin {
  static constexpr const char* name = "source-simulator";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Simulated contact center (queues, agents, breaks, abandons, scenario steps) emitting the normalized "
      "interaction/agent/queue events; deterministic for a seed";
  static constexpr const char* example =
      "seed: 42\n"
      "duration: 1h\n"
      "scenario:\n"
      "  - {at: 20m, arrivals: 2.0, queue: support}\n"
      "  - {at: 40m, arrivals: 1.0}\n";
  using Config = cxflow::sim::Config;
  using Instance = SimulatorSource;

  static void schema(Schema<Config>& s) {
    s.key("seed", &Config::seed, "Random seed: the same seed and config give the same events").def("1");
    s.key("start_time", &Config::start_time,
          "Simulated start (ISO 8601 with zone), or 'now' for the wall clock at start")
        .def("2026-01-05T08:00:00Z");
    s.key("speed", &Config::speed,
          "'max' (as fast as the pipeline takes it) or a positive factor: 1 = real time, 60 = one simulated minute "
          "per second")
        .def("max")
        .example("60");
    s.key("duration", &Config::duration, "Simulated time to run, then end the stream; 0s = run until stopped")
        .def("0s");
    s.key("max_events", &Config::max_events, "End the stream after this many events; 0 = no limit").def("0").min(0);
    s.key("batch_size", &Config::batch_size, "Events per batch").def("512").range(1, 1'000'000);
    s.key("queue_snapshot_interval", &Config::queue_snapshot_interval,
          "Simulated interval of queue events (length, agents available, longest wait, service level); 0s = off")
        .def("60s");
    s.key("event_types", &Config::event_types,
          "Event types to emit, any of interaction, agent, queue (default: all three)")
        .example("[interaction]");
    s.key("ground_truth", &Config::ground_truth,
          "Optional JSONL file: one line per completed contact whose ended/abandoned event was emitted")
        .example("truth.jsonl");
    s.records("queues", &Config::queues, queue_schema(),
              "Queues; default: sales (180/h), support (300/h), billing (120/h)");
    s.records("agents", &Config::agents, agent_schema(),
              "Agent groups; default: the built-in 25 agents when queues are built in, else one group per queue "
              "staffed for its offered load + 1");
    s.records("scenario", &Config::scenario, step_schema(), "Timed changes: arrival multipliers, logouts, logins");
    s.key("arrival_curve", &Config::arrival_curve,
          "Optional 24 hourly arrival multipliers, indexed by the simulated UTC hour of day")
        .example(
            "[0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.5, 1.4, 1.3, 1.2, 1.3, 1.4, 1.3, 1.1, 0.9, 0.7, 0.6, "
            "0.5, 0.4, 0.3, 0.2]");
    s.key("break_rate_per_hour", &Config::break_rate_per_hour,
          "Short breaks per agent per hour (Poisson); an agent on a contact takes it when free. 0 = no breaks")
        .def("0.5")
        .range(0, 60);
    s.key("break_duration", &Config::break_duration, "Mean break length (exponential)").def("5m");
    s.check([](const Config& c) {
      Model m;
      return resolve_model(c, m);
    });
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
