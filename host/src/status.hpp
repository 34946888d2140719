// What a run reports about itself: the live status line (on a terminal), the periodic progress
// lines (otherwise) and the summary at the end. One unit, separate from the runtime's dispatch:
// it reads the components' counters (thread-safe) and nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cxflow/component.hpp"
#include "pipeline.hpp"

namespace cxflow::host {

class StatusReport {
 public:
  // `clock` measures the rates and the run's length (virtual under VirtualTime).
  StatusReport(const Pipeline& pipeline, const Clock& clock);

  // One status line ("in 1.2M ev/s, out ... | events ... | rows written ... | alerts ...")
  // with the rates since the previous one; `terminal` sets the status line, else logs "progress:".
  void tick(bool draining, bool terminal);
  // The summary line and one line of counters per component.
  void summary() const;

 private:
  std::array<std::uint64_t, 4> totals() const;  // events in, events out, rows written, alerts

  const Pipeline& pipeline_;
  const Clock& clock_;
  std::int64_t t0_ms_;
  std::int64_t last_ms_;
  std::array<std::uint64_t, 4> last_totals_{};
};

}  // namespace cxflow::host
