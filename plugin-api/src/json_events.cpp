#include "cxflow/json_events.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cxflow/time.hpp"

namespace cxflow {

static_assert(JsonEventDecoder::kPadding == simdjson::SIMDJSON_PADDING, "kPadding must match simdjson's padding");

namespace od = simdjson::ondemand;

const char* reason(JsonDecodeResult r) noexcept {
  switch (r) {
    case JsonDecodeResult::ok: return "ok";
    case JsonDecodeResult::invalid_json: return "invalid_json";
    case JsonDecodeResult::not_an_object: return "not_an_object";
    case JsonDecodeResult::missing_timestamp: return "missing_timestamp";
    case JsonDecodeResult::bad_timestamp: return "bad_timestamp";
    case JsonDecodeResult::invalid_number: return "invalid_number";
  }
  return "unknown";
}

namespace {

// Event times outside 1970-01-01 .. 9999-12-31 are rejected as bad.
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;

// One node per path segment of a wanted field name ("metrics" -> "state").
struct Edge {
  std::string segment;
  std::uint32_t node;
};
struct Node {
  FieldId field = kNoField;  // this exact path is wanted
  bool is_time = false;      // this path is the event time
  std::vector<Edge> children;
};

std::optional<std::int64_t> parse_epoch_digits(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

struct JsonEventDecoder::Impl {
  JsonDecodeOptions options;
  std::vector<Node> nodes;        // nodes[0] is the root object
  std::vector<std::uint32_t> seen;  // per node: generation of the last decode that stored it
  std::uint32_t generation = 0;
  std::size_t wanted = 0;
  std::size_t fields_hint = 4;  // reserve() size for out.fields: the most fields seen in one event
  FieldId raw_field = kNoField;

  od::parser parser;
  std::unique_ptr<simdjson::dom::parser> dom_parser;  // only for documents that are not objects
  std::unique_ptr<char[]> padded;  // copy buffer for decode()
  std::size_t padded_capacity = 0;
  std::string number_text;  // scratch for big numbers

  // Per-decode state.
  Event* out = nullptr;
  bool time_found = false;
  bool time_bad = false;
  std::int64_t time_ms = 0;
  bool defaulted = false;
  std::string detail;

  explicit Impl(const FieldTable& table, JsonDecodeOptions opts) : options(std::move(opts)) {
    if (options.timestamp_field.empty()) throw std::invalid_argument("JsonEventDecoder: empty timestamp_field");
    nodes.emplace_back();
    for (FieldId id = 0; id < table.size(); ++id) {
      const std::string& name = table.name(id);
      if (name.empty()) continue;
      nodes[insert(name)].field = id;
      ++wanted;
    }
    nodes[insert(options.timestamp_field)].is_time = true;
    if (!options.raw_field.empty())
      if (auto id = table.find(options.raw_field)) raw_field = *id;
    seen.assign(nodes.size(), 0);
  }

  std::uint32_t insert(std::string_view path) {
    std::uint32_t n = 0;
    while (true) {
      const std::size_t dot = path.find('.');
      const std::string_view seg = path.substr(0, dot);
      std::uint32_t next = child(n, seg);
      if (next == 0) {
        next = static_cast<std::uint32_t>(nodes.size());
        nodes[n].children.push_back(Edge{std::string(seg), next});
        nodes.emplace_back();
      }
      n = next;
      if (dot == std::string_view::npos) return n;
      path.remove_prefix(dot + 1);
    }
  }

  // Child of `n` named `seg`, or 0 (the root is never a child).
  std::uint32_t child(std::uint32_t n, std::string_view seg) const noexcept {
    for (const Edge& e : nodes[n].children)
      if (e.segment.size() == seg.size() && std::memcmp(e.segment.data(), seg.data(), seg.size()) == 0) return e.node;
    return 0;
  }

  // Node for a (possibly dotted) key below `n`, or 0. Segments never contain dots.
  std::uint32_t lookup(std::uint32_t n, std::string_view key, bool has_dot) const noexcept {
    if (!has_dot) return child(n, key);
    for (;;) {
      const std::size_t dot = key.find('.');
      n = child(n, key.substr(0, dot));
      if (n == 0 || dot == std::string_view::npos) return n;
      key.remove_prefix(dot + 1);
    }
  }

  // Stores a value of type T built from `args` at node `n`.
  template <class T, class... Args>
  void store(std::uint32_t n, Args&&... args) {
    const FieldId id = nodes[n].field;
    Value* slot = nullptr;
    if (seen[n] == generation) {
      slot = out->get(id);  // duplicate key: the last one wins
    } else {
      seen[n] = generation;
      out->fields.emplace_back();
      out->fields.back().id = id;
      slot = &out->fields.back().value;
    }
    slot->template emplace<T>(std::forward<Args>(args)...);
  }
  void store_string(std::uint32_t n, std::string_view s) { store<std::string>(n, s); }

  JsonDecodeResult fail(JsonDecodeResult r, simdjson::error_code e) {
    detail = simdjson::error_message(e);
    return r;
  }

  void time_from_string(std::string_view s) {
    if (auto ms = parse_iso8601_ms(s); ms && *ms >= 0 && *ms <= kMaxTimeMs) {
      time_found = true;
      time_bad = false;
      time_ms = *ms;
    } else if (auto epoch = parse_epoch_digits(s); epoch && *epoch <= kMaxTimeMs) {
      time_found = true;
      time_bad = false;
      time_ms = *epoch;
    } else {
      time_bad = true;
      detail = "'" + std::string(s.substr(0, 64)) + "' is not an ISO 8601 time with a zone or epoch milliseconds";
    }
  }
  void bad_time_type(const char* what) {
    time_bad = true;
    detail = std::string("the timestamp is ") + what;
  }
  void time_from_number(double d) {
    if (std::isfinite(d) && d >= 0 && d <= static_cast<double>(kMaxTimeMs)) {
      time_found = true;
      time_bad = false;
      time_ms = static_cast<std::int64_t>(std::llround(d));
    } else {
      time_bad = true;
      detail = "epoch milliseconds out of range (1970..9999)";
    }
  }

  // Parses a number value; stores it at `n` when wanted and feeds the time when it is the time.
  JsonDecodeResult number(od::value& v, std::uint32_t n) {
    const Node& node = nodes[n];
    od::number num;
    if (auto e = v.get_number().get(num); e) {
      // Integers beyond 64 bits: fall back to strtod on the token.
      std::string_view tok = v.raw_json_token();
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\n' || tok.back() == '\r' || tok.back() == '\t'))
        tok.remove_suffix(1);
      number_text.assign(tok);
      char* end = nullptr;
      const double d = std::strtod(number_text.c_str(), &end);
      if (end != number_text.c_str() + number_text.size()) return fail(JsonDecodeResult::invalid_json, e);
      if (!std::isfinite(d)) {
        detail = "number " + number_text.substr(0, 64) + " does not fit a double";
        return JsonDecodeResult::invalid_number;
      }
      if (node.is_time) time_from_number(d);
      if (node.field != kNoField) store<double>(n, d);
      return JsonDecodeResult::ok;
    }
    switch (num.get_number_type()) {
      case od::number_type::signed_integer: {
        const std::int64_t i = num.get_int64();
        if (node.is_time) time_from_number(static_cast<double>(i));
        if (node.field != kNoField) store<std::int64_t>(n, i);
        break;
      }
      case od::number_type::unsigned_integer: {
        const double d = static_cast<double>(num.get_uint64());
        if (node.is_time) time_from_number(d);
        if (node.field != kNoField) store<double>(n, d);
        break;
      }
      case od::number_type::floating_point_number: {
        const double d = num.get_double();
        if (!std::isfinite(d)) {
          detail = "number does not fit a double";
          return JsonDecodeResult::invalid_number;
        }
        if (node.is_time) time_from_number(d);
        if (node.field != kNoField) store<double>(n, d);
        break;
      }
    }
    return JsonDecodeResult::ok;
  }

  JsonDecodeResult value(od::value v, std::uint32_t n) {
    const Node& node = nodes[n];
    od::json_type type;
    if (auto e = v.type().get(type); e) return fail(JsonDecodeResult::invalid_json, e);
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj); e) return fail(JsonDecodeResult::invalid_json, e);
        if (!node.children.empty()) return object(obj, n);
        if (node.is_time) bad_time_type("an object");
        if (node.field != kNoField) {
          std::string_view raw;
          if (auto e = obj.raw_json().get(raw); e) return fail(JsonDecodeResult::invalid_json, e);
          store_string(n, raw);
        }
        return JsonDecodeResult::ok;
      }
      case od::json_type::array: {
        if (node.is_time) bad_time_type("an array");
        if (node.field == kNoField) return JsonDecodeResult::ok;  // skipped by the iterator
        od::array arr;
        std::string_view raw;
        if (auto e = v.get_array().get(arr); e) return fail(JsonDecodeResult::invalid_json, e);
        if (auto e = arr.raw_json().get(raw); e) return fail(JsonDecodeResult::invalid_json, e);
        store_string(n, raw);
        return JsonDecodeResult::ok;
      }
      case od::json_type::number:
        if (node.field == kNoField && !node.is_time) return JsonDecodeResult::ok;
        return number(v, n);
      case od::json_type::string: {
        if (node.field == kNoField && !node.is_time) return JsonDecodeResult::ok;
        std::string_view s;
        if (auto e = v.get_string().get(s); e) return fail(JsonDecodeResult::invalid_json, e);
        if (node.is_time) time_from_string(s);
        if (node.field != kNoField) store_string(n, s);
        return JsonDecodeResult::ok;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b); e) return fail(JsonDecodeResult::invalid_json, e);
        if (node.is_time) bad_time_type("a boolean");
        if (node.field != kNoField) store<bool>(n, b);
        return JsonDecodeResult::ok;
      }
      case od::json_type::null: {
        if (!v.is_null()) {
          detail = "invalid literal";
          return JsonDecodeResult::invalid_json;
        }
        if (node.field != kNoField) store<std::monostate>(n);
        return JsonDecodeResult::ok;  // a null time counts as missing
      }
    }
    return JsonDecodeResult::ok;
  }

  JsonDecodeResult object(od::object& obj, std::uint32_t n) {
    for (auto field_result : obj) {
      od::field field;
      if (auto e = std::move(field_result).get(field); e) return fail(JsonDecodeResult::invalid_json, e);
      // The raw key points just past the opening quote. Keys without escapes (the norm) are
      // compared in place; only a key with a backslash is unescaped.
      const char* raw = field.key().raw();
      const char* p = raw;
      bool escaped = false, has_dot = false;
      while (*p != '"') {
        if (*p == '\\') {
          escaped = true;
          break;
        }
        has_dot |= *p == '.';
        ++p;
      }
      std::string_view key;
      if (!escaped) {
        key = std::string_view(raw, static_cast<std::size_t>(p - raw));
      } else {
        if (auto e = field.unescaped_key().get(key); e) return fail(JsonDecodeResult::invalid_json, e);
        has_dot = key.find('.') != std::string_view::npos;
      }
      const std::uint32_t next = lookup(n, key, has_dot);
      if (next == 0) continue;  // not wanted: the iterator skips the value
      if (auto r = value(field.value(), next); r != JsonDecodeResult::ok) return r;
    }
    return JsonDecodeResult::ok;
  }

  JsonDecodeResult decode(const char* data, std::size_t len, std::size_t capacity, Event& ev, std::int64_t fallback) {
    out = &ev;
    ev.fields.clear();
    ev.time_ms = 0;
    ev.fields.reserve(fields_hint);
    time_found = time_bad = defaulted = false;
    detail.clear();
    if (++generation == 0) {  // wrapped: forget every mark
      seen.assign(seen.size(), 0);
      generation = 1;
    }
    JsonDecodeResult r = run(data, len, capacity);
    if (r == JsonDecodeResult::ok) {
      if (!time_found || time_bad) {
        if (options.time_policy == JsonDecodeOptions::TimePolicy::fallback) {
          defaulted = true;
          time_ms = fallback;
        } else if (time_bad) {
          r = JsonDecodeResult::bad_timestamp;
        } else {
          detail = "no '" + options.timestamp_field + "' field";
          r = JsonDecodeResult::missing_timestamp;
        }
      }
    }
    if (r != JsonDecodeResult::ok) {
      ev.fields.clear();
      return r;
    }
    ev.time_ms = time_ms;
    if (raw_field != kNoField) store_raw(ev, std::string_view(data, len));
    if (ev.fields.size() > fields_hint) fields_hint = std::min<std::size_t>(ev.fields.size(), 64);
    return r;
  }

  void store_raw(Event& ev, std::string_view text) { ev.set(raw_field, Value(std::string(text))); }

  // Rare path: the first token is not '{'. A full DOM parse tells valid JSON of another type
  // (not_an_object) from garbage (invalid_json).
  JsonDecodeResult classify_non_object(const char* data, std::size_t len) {
    if (!dom_parser) dom_parser = std::make_unique<simdjson::dom::parser>();
    simdjson::dom::element element;
    if (auto e = dom_parser->parse(data, len, false).get(element); e) return fail(JsonDecodeResult::invalid_json, e);
    detail = "the top level is not an object";
    return JsonDecodeResult::not_an_object;
  }

  JsonDecodeResult run(const char* data, std::size_t len, std::size_t capacity) {
    od::document doc;
    if (auto e = parser.iterate(data, len, capacity).get(doc); e) return fail(JsonDecodeResult::invalid_json, e);
    od::json_type type;
    if (auto e = doc.type().get(type); e) return fail(JsonDecodeResult::invalid_json, e);
    if (type != od::json_type::object) return classify_non_object(data, len);
    od::object obj;
    if (auto e = doc.get_object().get(obj); e) return fail(JsonDecodeResult::invalid_json, e);
    if (auto r = object(obj, 0); r != JsonDecodeResult::ok) return r;
    // At the end of the input current_location() reports OUT_OF_BOUNDS; anything else is a
    // second value after the object ("{...} {...}", "{...} x").
    if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
      detail = "trailing content after the object";
      return JsonDecodeResult::invalid_json;
    }
    return JsonDecodeResult::ok;
  }
};

JsonEventDecoder::JsonEventDecoder(const FieldTable& fields, JsonDecodeOptions options)
    : impl_(std::make_unique<Impl>(fields, std::move(options))) {}
JsonEventDecoder::~JsonEventDecoder() = default;
JsonEventDecoder::JsonEventDecoder(JsonEventDecoder&&) noexcept = default;
JsonEventDecoder& JsonEventDecoder::operator=(JsonEventDecoder&&) noexcept = default;

JsonDecodeResult JsonEventDecoder::decode(std::string_view json, Event& out, std::int64_t fallback_time_ms) {
  Impl& im = *impl_;
  const std::size_t need = json.size() + kPadding;
  if (im.padded_capacity < need) {
    im.padded_capacity = std::max<std::size_t>(need, 4096);
    im.padded = std::make_unique<char[]>(im.padded_capacity);
  }
  if (!json.empty()) std::memcpy(im.padded.get(), json.data(), json.size());
  std::memset(im.padded.get() + json.size(), 0, kPadding);
  return im.decode(im.padded.get(), json.size(), im.padded_capacity, out, fallback_time_ms);
}

JsonDecodeResult JsonEventDecoder::decode_padded(std::string_view json, Event& out, std::int64_t fallback_time_ms) {
  return impl_->decode(json.data(), json.size(), json.size() + kPadding, out, fallback_time_ms);
}

bool JsonEventDecoder::time_defaulted() const noexcept { return impl_->defaulted; }
const std::string& JsonEventDecoder::last_error_detail() const noexcept { return impl_->detail; }
std::size_t JsonEventDecoder::wanted_fields() const noexcept { return impl_->wanted; }

}  // namespace cxflow
