// The normalized event schema every source emits (DESIGN.md): its vocabulary, for plugins that
// validate configured values against it.
#pragma once

#include <string>
#include <vector>

#include "cxflow/component.hpp"

namespace cxflow::normalized {

struct Field {
  const char* name;
  FieldType type;
};
// Every field of the normalized schema with its type (eventType, timestamp, interactionId,
// agentId, metadata.*, metrics.*). `timestamp` is Any: ISO 8601 text or epoch milliseconds.
const std::vector<Field>& fields();
// Declares every normalized field as produced (sources that emit the schema).
void declare_fields(Setup& setup);

// Values of `eventType`: interaction, agent, queue.
const std::vector<std::string>& event_types();
// Values of `metrics.state`: interaction states (and the seed's `idle`), then agent states.
const std::vector<std::string>& states();
// "" when every value is allowed, else "'key[i]': 'x' is not one of [...]; did you mean 'y'?".
std::string check_values(const std::string& key, const std::vector<std::string>& values,
                         const std::vector<std::string>& allowed);

}  // namespace cxflow::normalized
