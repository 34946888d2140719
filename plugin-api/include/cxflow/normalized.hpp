// The normalized event schema every source emits (DESIGN.md): its vocabulary, for plugins that
// validate configured values against it.
#pragma once

#include <string>
#include <vector>

namespace cxflow::normalized {

// Values of `eventType`: interaction, agent, queue.
const std::vector<std::string>& event_types();
// Values of `metrics.state`: interaction states (and the seed's `idle`), then agent states.
const std::vector<std::string>& states();
// "" when every value is allowed, else "'key[i]': 'x' is not one of [...]; did you mean 'y'?".
std::string check_values(const std::string& key, const std::vector<std::string>& values,
                         const std::vector<std::string>& allowed);

}  // namespace cxflow::normalized
