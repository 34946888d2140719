#include "cxflow/component.hpp"

namespace cxflow {

const char* field_type_name(FieldType t) {
  switch (t) {
    case FieldType::Any:
      return "any";
    case FieldType::String:
      return "string";
    case FieldType::Number:
      return "number";
    case FieldType::Bool:
      return "bool";
  }
  return "?";
}

const char* counter_kind_name(CounterKind k) {
  switch (k) {
    case CounterKind::Counter:
      return "counter";
    case CounterKind::Gauge:
      return "gauge";
    case CounterKind::Histogram:
      return "histogram";
  }
  return "?";
}

const char* counter_role_name(CounterRole r) {
  switch (r) {
    case CounterRole::None:
      return "none";
    case CounterRole::RowsCommitted:
      return "rows_committed";
    case CounterRole::Alerts:
      return "alerts";
    case CounterRole::Dropped:
      return "dropped";
    case CounterRole::Malformed:
      return "malformed";
    case CounterRole::Retries:
      return "retries";
    case CounterRole::Errors:
      return "errors";
  }
  return "?";
}

std::string CounterSpec::key() const {
  if (labels.empty()) return name;
  std::string k = name + "{";
  for (std::size_t i = 0; i < labels.size(); ++i) k += (i ? "," : "") + labels[i].name + "=" + labels[i].value;
  return k + "}";
}

}  // namespace cxflow
