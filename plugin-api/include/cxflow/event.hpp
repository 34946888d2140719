// Events, fields and batches: what flows between components.
//
// An event is a small record of named fields. Names are resolved to FieldIds once, at configure
// time, through the host-owned FieldTable; on the hot path plugins read and write by id only.
// Nested JSON objects are flattened to dotted names ("metrics.handleTime").
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace cxflow {

using FieldId = std::uint32_t;
inline constexpr FieldId kNoField = std::numeric_limits<FieldId>::max();

// null, bool, integer, floating point or string.
using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

// Numeric view of a value: ints and doubles are numbers, booleans are 0/1, strings are not.
inline std::optional<double> as_number(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  return std::nullopt;
}
inline const std::string* as_string(const Value& v) { return std::get_if<std::string>(&v); }
inline bool is_null(const Value& v) { return std::holds_alternative<std::monostate>(v); }
// Text form used for grouping keys, output and messages ("" for null).
std::string to_text(const Value& v);

struct FieldValue {
  FieldId id;
  Value value;
};

class Event {
 public:
  // Event time, milliseconds since the Unix epoch (UTC). Every event has one.
  std::int64_t time_ms = 0;
  // Fields in insertion order; events are small, a linear scan beats hashing.
  std::vector<FieldValue> fields;

  const Value* get(FieldId id) const noexcept {
    for (const auto& f : fields)
      if (f.id == id) return &f.value;
    return nullptr;
  }
  Value* get(FieldId id) noexcept {
    for (auto& f : fields)
      if (f.id == id) return &f.value;
    return nullptr;
  }
  void set(FieldId id, Value v) {
    if (id == kNoField) return;
    if (Value* existing = get(id)) {
      *existing = std::move(v);
      return;
    }
    fields.push_back(FieldValue{id, std::move(v)});
  }
  bool erase(FieldId id) noexcept {
    for (auto it = fields.begin(); it != fields.end(); ++it)
      if (it->id == id) {
        fields.erase(it);
        return true;
      }
    return false;
  }
  // Approximate heap + inline footprint, for byte-bounded queues.
  std::size_t approx_bytes() const noexcept;
};

inline constexpr std::int64_t kNoWatermark = std::numeric_limits<std::int64_t>::min();

// What travels on an edge. Control travels in-band after the data so it can never overtake it:
// `watermark_ms` says "no event older than this will follow from this producer", and
// `end_of_stream` says nothing at all will follow.
struct Batch {
  std::vector<Event> events;
  std::int64_t watermark_ms = kNoWatermark;
  bool end_of_stream = false;

  bool empty() const noexcept { return events.empty() && watermark_ms == kNoWatermark && !end_of_stream; }
  std::size_t approx_bytes() const noexcept;
};

// Maps dotted field names to ids. The host owns one table per pipeline; components intern the
// names they use while they are configured, then the host freezes it, after which interning a
// new name throws and lookups are lock-free reads.
class FieldTable {
 public:
  FieldId intern(std::string_view name);
  std::optional<FieldId> find(std::string_view name) const;
  const std::string& name(FieldId id) const;
  std::size_t size() const noexcept { return names_.size(); }
  const std::vector<std::string>& names() const noexcept { return names_; }
  void freeze() noexcept { frozen_ = true; }
  bool frozen() const noexcept { return frozen_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, FieldId, Hash, std::equal_to<>> ids_;
  std::vector<std::string> names_;
  bool frozen_ = false;
};

}  // namespace cxflow
