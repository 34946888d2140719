// WebSocket text frames -> validated events (runs on the network thread).
#include <cxflow/time.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "internal.hpp"

namespace cxflow::cxone {

namespace {

Malformed from_decode(JsonDecodeResult r) {
  switch (r) {
    case JsonDecodeResult::not_an_object:
      return Malformed::not_an_object;
    case JsonDecodeResult::missing_timestamp:
      return Malformed::missing_timestamp;
    case JsonDecodeResult::bad_timestamp:
      return Malformed::bad_timestamp;
    case JsonDecodeResult::invalid_number:
      return Malformed::invalid_number;
    default:
      return Malformed::invalid_json;
  }
}

std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string out;
  for (char c : s.substr(0, kMax)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (s.size() > kMax) out += "...";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Splits a JSON array's top-level elements (strings and nesting respected). False when the
// brackets do not balance; element syntax is left to the decoder.
bool split_array(std::string_view text, std::vector<std::string_view>& out) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
  const std::string_view body = text.substr(1, text.size() - 2);
  int depth = 0;
  bool in_string = false, escape = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[')
      ++depth;
    else if (c == '}' || c == ']') {
      if (--depth < 0) return false;
    } else if (c == ',' && depth == 0) {
      out.push_back(trim(body.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (in_string || depth != 0) return false;
  const std::string_view last = trim(body.substr(start));
  if (!last.empty() || !out.empty()) out.push_back(last);
  return true;
}

// Normalized fields and the value type they must have when present.
enum class Want { string, number, id };
struct Known {
  const char* name;
  Want want;
};
constexpr Known kKnown[] = {
    {"eventType", Want::string},
    {"interactionId", Want::id},
    {"agentId", Want::id},
    {"metadata.queue", Want::string},
    {"metadata.skill", Want::string},
    {"metrics.state", Want::string},
    {"metrics.reason", Want::string},
    {"metrics.waitTime", Want::number},
    {"metrics.handleTime", Want::number},
    {"metrics.queueTime", Want::number},
    {"metrics.queueLength", Want::number},
    {"metrics.agentsAvailable", Want::number},
    {"metrics.longestWait", Want::number},
    {"metrics.serviceLevel", Want::number},
};

}  // namespace

FrameDecoder::FrameDecoder(const Config& cfg, const FieldTable& fields, Counters& counters, LogFn log,
                           std::function<std::int64_t()> steady_ms, std::function<std::int64_t()> wall_ms,
                           const std::vector<KeepCondition>& keep, const std::optional<std::vector<FieldId>>& only)
    : cfg_(cfg),
      c_(counters),
      log_(std::move(log)),
      steady_ms_(std::move(steady_ms)),
      wall_ms_(std::move(wall_ms)),
      dec_(fields, JsonDecodeOptions{cfg.timestamp_field, JsonDecodeOptions::TimePolicy::reject, "", only}) {
  // Pushed-down conditions are checked on the decoded, validated event (not by the decoder's
  // early rejection): a malformed frame must be counted as malformed, and dead-lettered, whatever
  // it holds. A path the pipeline does not read cannot be checked here; the filter still runs.
  for (const KeepCondition& k : keep)
    if (auto id = fields.find(k.path)) keep_.push_back(Keep{*id, k.values});
  for (const auto& k : kKnown)
    if (auto id = fields.find(k.name)) typed_.push_back(Typed{*id, k.want == Want::number, k.name});
  // Ids may be strings or integers: they are only checked for not being objects/bools below.
  for (const auto& r : cfg.required_fields)
    if (auto id = fields.find(r)) required_.emplace_back(*id, r);
  if (!cfg.dead_letter.empty()) {
    dead_ = std::fopen(cfg.dead_letter.c_str(), "ae");
    if (dead_ == nullptr)
      throw std::runtime_error("cannot open dead-letter file '" + cfg.dead_letter +
                               "' (key 'dead_letter'): " + std::strerror(errno));
  }
}

FrameDecoder::~FrameDecoder() {
  if (dead_ != nullptr) std::fclose(dead_);
}

void FrameDecoder::flush() {
  publish_counters();
  if (dead_ != nullptr) std::fflush(dead_);
}

void FrameDecoder::publish_counters() noexcept {
  if (pending_events_ > 0) c_.events.add(std::exchange(pending_events_, 0));
  if (pending_last_time_ > 0)
    c_.last_event_time_ms.set(static_cast<std::uint64_t>(std::exchange(pending_last_time_, 0)));
}

bool FrameDecoder::validate(const Event& e, Malformed& why, std::string& detail) const {
  for (const auto& [id, name] : required_) {
    const Value* v = e.get(id);
    if (v == nullptr || is_null(*v)) {
      why = Malformed::missing_field;
      detail = "required field '" + name + "' is missing";
      return false;
    }
  }
  for (const auto& t : typed_) {
    const Value* v = e.get(t.id);
    if (v == nullptr || is_null(*v)) continue;
    bool ok;
    if (t.number)
      ok = std::holds_alternative<std::int64_t>(*v) || std::holds_alternative<double>(*v);
    else if (t.name == "interactionId" || t.name == "agentId")
      ok = std::holds_alternative<std::string>(*v) || std::holds_alternative<std::int64_t>(*v);
    else
      ok = std::holds_alternative<std::string>(*v);
    if (!ok) {
      why = Malformed::wrong_type;
      detail =
          "field '" + t.name + "' must be " + (t.number ? "a number" : "a string") + ", found '" + to_text(*v) + "'";
      return false;
    }
  }
  return true;
}

void FrameDecoder::reject(Malformed why, std::string_view text, const std::string& detail) {
  c_.malformed.add();
  c_.malformed_by[static_cast<int>(why)]->add();
  if (dead_ != nullptr) {
    const std::string line = "{\"received_at\":" + json_quote(format_iso8601_ms(wall_ms_())) +
                             ",\"reason\":" + json_quote(malformed_name(why)) + ",\"detail\":" + json_quote(detail) +
                             ",\"frame\":" + json_quote(text) + "}\n";
    std::fwrite(line.data(), 1, line.size(), dead_);
    c_.dead_lettered.add();
  }
  const std::int64_t now = steady_ms_();
  if (warned_ && now - last_warn_ms_ < cfg_.warn_interval.ms) {
    ++suppressed_;
    return;
  }
  std::string m = std::string("malformed frame (") + malformed_name(why) + (detail.empty() ? "" : ": " + detail) +
                  "): " + excerpt(text) + "; skipped";
  if (suppressed_ > 0) m += " (" + std::to_string(suppressed_) + " similar warnings suppressed)";
  log_(LogLevel::Warn, std::move(m));
  warned_ = true;
  last_warn_ms_ = now;
  suppressed_ = 0;
}

void FrameDecoder::decode_one(std::string_view text, std::vector<Event>& out) {
  Event e;
  const auto r = dec_.decode_padded(text, e);
  Malformed why{};
  std::string detail;
  if (r != JsonDecodeResult::ok) {
    reject(from_decode(r), text, dec_.last_error_detail());
    return;
  }
  if (!validate(e, why, detail)) {
    reject(why, text, detail);
    return;
  }
  ++pending_events_;
  if (e.time_ms > 0) pending_last_time_ = e.time_ms;
  for (const Keep& k : keep_) {
    const Value* v = e.get(k.id);
    const std::string* s = v != nullptr ? as_string(*v) : nullptr;
    if (s == nullptr || std::find(k.values.begin(), k.values.end(), *s) == k.values.end()) {
      c_.prefiltered.add();
      return;
    }
  }
  out.push_back(std::move(e));
}

void FrameDecoder::decode_all(RawFrames& raw, std::vector<Event>& out) {
  raw.bytes.append(JsonEventDecoder::kPadding, '\0');
  out.reserve(out.size() + raw.size());
  for (const auto& [at, len] : raw.spans) decode(std::string_view(raw.bytes.data() + at, len), out);
  raw = {};
  publish_counters();
}

void FrameDecoder::decode(std::string_view frame, std::vector<Event>& out) {
  std::string_view t = trim(frame);
  if (t.empty() || t.front() != '[') {
    decode_one(frame, out);
    return;
  }
  std::vector<std::string_view> parts;
  if (!split_array(t, parts)) {
    reject(Malformed::invalid_json, frame, "unbalanced JSON array");
    return;
  }
  for (std::string_view p : parts) {  // each element copied with the decoder's padding
    padded_.assign(p.begin(), p.end());
    padded_.resize(p.size() + JsonEventDecoder::kPadding, '\0');
    decode_one(std::string_view(padded_.data(), p.size()), out);
  }
}

}  // namespace cxflow::cxone
