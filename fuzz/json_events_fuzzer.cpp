// Fuzz target: the JSON event decoder (cxflow/json_events.hpp) over arbitrary bytes.
//
// Decoders on the seed protocol's field table (the fields a shipped pipeline projects):
//   plain     - reject policy, decode() (internal padded copy)
//   padded    - the same, decode_padded() with the padding filled with bytes that look like JSON
//               ("content does not matter")
//   pushdown  - require_one_of(eventType: interaction; metrics.state: ended|abandoned), as a
//               source does with SourceContext::keep_conditions() (pre-scan + early rejection)
//   fallback  - TimePolicy::fallback, the raw field and a nested time path
// Invariants (a violation traps): no exception; the result is a named reason; on any result but
// ok the event has no fields; on ok the time is within 1970..9999 and every field is a distinct
// projected id; plain and padded agree exactly; a document the pushdown decoder keeps is kept by
// the plain decoder with the same fields and satisfies the conditions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/json_events.hpp"

namespace {

using cxflow::Event;
using cxflow::FieldTable;
using cxflow::JsonDecodeOptions;
using cxflow::JsonDecodeResult;
using cxflow::JsonEventDecoder;

constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

FieldTable make_table() {
  FieldTable t;
  for (const char* n :
       {"eventType", "timestamp", "interactionId", "agentId", "metrics.state", "metrics.waitTime", "metrics.handleTime",
        "metrics.queueTime", "metadata.queue", "metadata.skill", "metrics.reason", "meta.ts", "raw", "a.b.c", "x"})
    t.intern(n);
  t.freeze();
  return t;
}

struct Decoders {
  FieldTable table = make_table();
  JsonEventDecoder plain{table};
  JsonEventDecoder padded{table};
  JsonEventDecoder pushdown{table};
  JsonEventDecoder fallback{table,
                            JsonDecodeOptions{"meta.ts", JsonDecodeOptions::TimePolicy::fallback, "raw", std::nullopt}};
  cxflow::FieldId event_type = *table.find("eventType"), state = *table.find("metrics.state");
  std::vector<char> buffer;
  Decoders() {
    pushdown.require_one_of("eventType", {"interaction"});
    pushdown.require_one_of("metrics.state", {"ended", "abandoned"});
  }
};

Decoders& decoders() {
  static Decoders d;
  return d;
}

bool known(JsonDecodeResult r) { return std::string_view(cxflow::reason(r)) != "unknown"; }

void check_event(const Decoders& d, JsonDecodeResult r, const Event& e) {
  FUZZ_CHECK(known(r));
  if (r != JsonDecodeResult::ok) {
    FUZZ_CHECK(e.fields.empty());
    return;
  }
  FUZZ_CHECK(e.time_ms >= 0 && e.time_ms <= kMaxTimeMs);
  std::vector<cxflow::FieldId> ids;
  for (const auto& f : e.fields) {
    FUZZ_CHECK(f.id < d.table.size());
    ids.push_back(f.id);
  }
  std::sort(ids.begin(), ids.end());
  FUZZ_CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

bool same_fields(const Event& a, const Event& b) {
  if (a.time_ms != b.time_ms || a.fields.size() != b.fields.size()) return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i)
    if (a.fields[i].id != b.fields[i].id || !(a.fields[i].value == b.fields[i].value)) return false;
  return true;
}

bool is_one_of(const Event& e, cxflow::FieldId id, std::initializer_list<std::string_view> values) {
  const cxflow::Value* v = e.get(id);
  const std::string* s = v != nullptr ? cxflow::as_string(*v) : nullptr;
  return s != nullptr && std::find(values.begin(), values.end(), std::string_view(*s)) != values.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Decoders& d = decoders();
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    Event plain, padded, pushed, fallback;
    const JsonDecodeResult rp = d.plain.decode(json, plain);
    check_event(d, rp, plain);

    d.buffer.assign(json.begin(), json.end());
    static constexpr char kJunk[] = "\"}]\\:,{[\"0123456789truefalsenull\xff\xfe\"\\u00\"}]}";
    for (std::size_t i = 0; i < JsonEventDecoder::kPadding; ++i) d.buffer.push_back(kJunk[i % (sizeof kJunk - 1)]);
    const JsonDecodeResult rd = d.padded.decode_padded(std::string_view(d.buffer.data(), size), padded);
    check_event(d, rd, padded);
    FUZZ_CHECK(rd == rp);
    FUZZ_CHECK(same_fields(plain, padded));

    const JsonDecodeResult rk = d.pushdown.decode(json, pushed);
    check_event(d, rk, pushed);
    if (rk == JsonDecodeResult::ok) {
      FUZZ_CHECK(rp == JsonDecodeResult::ok);
      FUZZ_CHECK(same_fields(plain, pushed));
      FUZZ_CHECK(is_one_of(pushed, d.event_type, {"interaction"}));
      FUZZ_CHECK(is_one_of(pushed, d.state, {"ended", "abandoned"}));
    }

    const JsonDecodeResult rf = d.fallback.decode(json, fallback, 1'767'600'000'000);
    check_event(d, rf, fallback);
    FUZZ_CHECK(rf != JsonDecodeResult::missing_timestamp && rf != JsonDecodeResult::bad_timestamp);
  } catch (...) {
    __builtin_trap();  // the decoder is total: no exception, whatever the bytes
  }
  return 0;
}
