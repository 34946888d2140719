// filter-interaction: schema and export. The logic lives in filter-interaction.cpp.
#include <cxflow/normalized.hpp>
#include <cxflow/plugin.hpp>

#include "filter-interaction.hpp"

namespace {

using cxflow::filter::Config;

struct Plugin {
  static constexpr const char* name = "filter-interaction";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Keeps (or with invert drops) events matching every given criterion: event types, states and a where "
      "condition";
  static constexpr const char* example =
      "event_types: [interaction]\n"
      "states: [ended, abandoned]\n";
  using Config = ::Config;
  using Instance = cxflow::filter::FilterInteraction;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("event_types", &Config::event_types,
          "Keep events whose eventType is one of these (interaction, agent, queue). Empty: any event type. "
          "Drops are counted as filtered{reason=event_type}")
        .example("[interaction]");
    s.key("states", &Config::states,
          "Keep events whose metrics.state is one of these: queued, active, hold, wrapup, ended, abandoned, idle, "
          "available, busy, unavailable, logged_out. Empty: any state. Drops are counted as filtered{reason=state}")
        .example("[ended, abandoned]");
    s.key("where", &Config::where,
          "A condition string in the shared condition language (==, !=, <, <=, >, >=, in [...], not in [...], "
          "exists; and, or, not, parentheses). A missing field makes every comparison false. Drops are counted "
          "as filtered{reason=where}")
        .example("'metadata.queue in [sales, support] and metrics.waitTime <= 300'");
    s.key("invert", &Config::invert,
          "Drop the events that match every given criterion and keep the rest (counted as filtered{reason=matched})")
        .def("false");
    s.check([](const Config& c) -> std::string {
      std::string e = cxflow::normalized::check_values("event_types", c.event_types, cxflow::normalized::event_types());
      if (e.empty()) e = cxflow::normalized::check_values("states", c.states, cxflow::normalized::states());
      return e;
    });
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
