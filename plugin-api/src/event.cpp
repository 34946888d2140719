#include "cxflow/event.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace cxflow {

std::string to_text(const Value& v) {
  struct Visitor {
    std::string operator()(std::monostate) const { return {}; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
        return std::to_string(static_cast<std::int64_t>(d));
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{}, v);
}

std::size_t Event::approx_bytes() const noexcept {
  std::size_t n = sizeof(Event) + fields.capacity() * sizeof(FieldValue);
  for (const auto& f : fields)
    if (const auto* s = std::get_if<std::string>(&f.value))
      if (s->capacity() > 15) n += s->capacity() + 1;
  return n;
}

std::size_t Batch::approx_bytes() const noexcept {
  std::size_t n = sizeof(Batch) + (events.capacity() - events.size()) * sizeof(Event);
  for (const auto& e : events) n += e.approx_bytes();
  return n;
}

FieldId FieldTable::intern(std::string_view name) {
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  if (frozen_)
    throw std::logic_error("field '" + std::string(name) +
                           "' registered after the field table was frozen; register fields while configuring");
  const auto id = static_cast<FieldId>(names_.size());
  names_.emplace_back(name);
  ids_.emplace(std::string(name), id);
  return id;
}

std::optional<FieldId> FieldTable::find(std::string_view name) const {
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  return std::nullopt;
}

const std::string& FieldTable::name(FieldId id) const {
  static const std::string unknown = "<unknown field>";
  return id < names_.size() ? names_[id] : unknown;
}

}  // namespace cxflow
