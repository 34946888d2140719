// source-cxone, protocol rtd: response parsing, JWT claims and the row -> event normalizer.
#include <cxflow/time.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "rtd.hpp"

namespace cxflow::cxone::rtd {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string text_of(const Json* v) {
  if (v == nullptr || !v->is_string()) return "";
  return v->get<std::string>();
}

std::optional<double> number_of(const Json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

bool truthy(const Json* v) {
  if (v == nullptr) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string()) return iequal(v->get<std::string>(), "true");
  if (v->is_number()) return v->get<double>() != 0;
  return false;
}

double seconds(std::int64_t ms) { return static_cast<double>(std::max<std::int64_t>(0, ms)) / 1000.0; }

}  // namespace

const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(key); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it)
    if (iequal(it.key(), key)) return &it.value();
  return nullptr;
}

std::string id_text(const Json* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<std::int64_t>());
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return std::to_string(static_cast<std::int64_t>(d));
  }
  return "";
}

std::optional<std::int64_t> parse_time(const Json* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const std::string s = v->get<std::string>();
  if (auto t = parse_iso8601_ms(s)) return t;
  // No zone: CXone reports UTC.
  if (s.size() >= 19 && s.find_first_of("Zz+", 19) == std::string::npos && s.find('-', 19) == std::string::npos)
    return parse_iso8601_ms(s + "Z");
  return std::nullopt;
}

std::optional<Page> parse_page(std::string_view body, const std::string& array, std::string& error) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "the response is not a JSON object";
    return std::nullopt;
  }
  const Json* root = &j;
  if (const Json* rs = member(j, "resultSet"); rs != nullptr && rs->is_object()) root = rs;
  Page p;
  const Json* rows = member(*root, array);
  if (rows == nullptr || rows->is_null()) {
    p.rows = Json::array();
  } else if (!rows->is_array()) {
    error = "'" + array + "' is not an array";
    return std::nullopt;
  } else {
    p.rows = std::move(*const_cast<Json*>(rows));
  }
  if (auto n = number_of(member(*root, "totalRecords"))) p.total_records = static_cast<std::int64_t>(*n);
  if (const Json* links = member(*root, "_links"); links != nullptr && links->is_object())
    p.next = text_of(member(*links, "next"));
  p.last_poll_ms = parse_time(member(*root, "lastPollTime"));
  return p;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+' || ch == '-')
      v = 62;
    else if (ch == '/' || ch == '_')
      v = 63;
    else if (ch == '=')
      break;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out += t[(n >> 18) & 63];
    out += t[(n >> 12) & 63];
    out += t[(n >> 6) & 63];
    out += t[n & 63];
  }
  if (i + 1 == in.size()) {
    const std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    out += t[(n >> 18) & 63];
    out += t[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += t[(n >> 18) & 63];
    out += t[(n >> 12) & 63];
    out += t[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<Json> jwt_claims(std::string_view token) {
  const auto a = token.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = token.find('.', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  const auto text = base64_decode(token.substr(a + 1, b - a - 1));
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

const char* row_issue_name(RowIssue r) noexcept {
  switch (r) {
    case RowIssue::not_an_object:
      return "not_an_object";
    case RowIssue::missing_key:
      return "missing_key";
    case RowIssue::bad_time:
      return "bad_time";
    case RowIssue::bad_value:
      return "bad_value";
  }
  return "unknown";
}

std::string contact_state(std::string_view name, bool answered) {
  static const std::pair<const char*, const char*> kStates[] = {
      {"InQueue", "queued"}, {"PreQueue", "queued"},  {"PostQueue", "queued"},  {"Queued", "queued"},
      {"Routing", "queued"}, {"Incoming", "queued"},  {"Ringing", "queued"},    {"Parked", "queued"},
      {"Active", "active"},  {"Connected", "active"}, {"Conference", "active"}, {"Transfer", "active"},
      {"Consult", "active"}, {"Dialing", "active"},   {"Holding", "hold"},      {"Hold", "hold"},
      {"ACW", "wrapup"},     {"Wrapup", "wrapup"},    {"WrapUp", "wrapup"},     {"AfterCallWork", "wrapup"},
  };
  for (const auto& [raw, norm] : kStates)
    if (iequal(name, raw)) return norm;
  return answered ? "active" : "queued";
}

std::string agent_state(std::string_view name, bool acw) {
  if (acw) return "wrapup";
  if (iequal(name, "Available")) return "available";
  if (iequal(name, "Unavailable") || iequal(name, "LoggedIn")) return "unavailable";
  if (iequal(name, "LoggedOut")) return "logged_out";
  return "busy";  // InboundContact, OutboundContact, consults, Dialer, Working ...
}

Normalizer::Normalizer(const Config& cfg, std::vector<RtdStream> streams, const FieldTable& fields)
    : mode_(cfg.end_detection), table_(fields) {
  for (const auto& s : cfg.end_states) end_states_.push_back(lower(s));
  for (auto& d : streams) {
    StreamState s;
    s.def = std::move(d);
    streams_.push_back(std::move(s));
  }
  auto id = [&](const char* name) { return fields.find(name).value_or(kNoField); };
  f_ = Fields{id("eventType"),
              id(cfg.timestamp_field.c_str()),
              id("interactionId"),
              id("agentId"),
              id("metadata.queue"),
              id("metadata.skill"),
              id("metadata.team"),
              id("metadata.mediaType"),
              id("metrics.state"),
              id("metrics.reason"),
              id("metrics.waitTime"),
              id("metrics.handleTime"),
              id("metrics.queueLength"),
              id("metrics.agentsAvailable"),
              id("metrics.agentsLoggedIn"),
              id("metrics.contactsActive"),
              id("metrics.longestWait"),
              id("metrics.serviceLevel")};
}

bool Normalizer::contacts_need_full_reads() const {
  return mode_ == EndDetection::absence || (mode_ == EndDetection::automatic && !end_state_seen_);
}

std::size_t Normalizer::tracked() const {
  std::size_t n = 0;
  for (const auto& s : streams_) n += s.contacts.size() + s.keyed.size();
  return n;
}

void Normalizer::begin_read(std::size_t index, bool full) {
  StreamState& s = streams_.at(index);
  ++s.read_no;
  s.full = full;
}

bool Normalizer::malformed(RowIssue why) {
  ++stats_.malformed[static_cast<int>(why)];
  return false;
}

Event Normalizer::make(const char* type, std::int64_t time_ms) const {
  Event e;
  e.time_ms = time_ms;
  if (f_.event_type != kNoField) e.set(f_.event_type, std::string(type));
  if (f_.timestamp != kNoField) e.set(f_.timestamp, format_iso8601_ms(time_ms));
  return e;
}

bool Normalizer::is_end_state(const Json& row) const {
  const std::string name = lower(text_of(member(row, "stateName")));
  if (!name.empty() && std::find(end_states_.begin(), end_states_.end(), name) != end_states_.end()) return true;
  return iequal(text_of(member(row, "contactStateCategory")), "Ended");
}

bool Normalizer::row(std::size_t index, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out) {
  StreamState& s = streams_.at(index);
  ++stats_.rows;
  if (!row.is_object()) return malformed(RowIssue::not_an_object);
  const std::size_t before = out.size();
  bool ok = false;
  switch (s.def.kind) {
    case StreamKind::contacts:
      ok = contact_row(s, row, read_time_ms, out);
      break;
    case StreamKind::agents:
      ok = agent_row(s, row, out);
      break;
    case StreamKind::skills:
      ok = skill_row(s, row, read_time_ms, out);
      break;
    default:
      ok = raw_row(s, row, read_time_ms, out);
      break;
  }
  stats_.events += out.size() - before;
  return ok;
}

bool Normalizer::contact_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out) {
  const std::string id = id_text(member(row, s.def.key));
  if (id.empty()) return malformed(RowIssue::missing_key);
  const Json* lut = member(row, "lastUpdateTime");
  const auto updated = lut != nullptr && !lut->is_null() ? parse_time(lut) : std::optional<std::int64_t>(read_time_ms);
  if (!updated) return malformed(RowIssue::bad_time);
  const Json* cs = member(row, "contactStartDate");
  const auto start = parse_time(cs);
  if (!start) return malformed(RowIssue::bad_time);
  const Json* as = member(row, "agentStartDate");
  std::optional<std::int64_t> agent_start;
  if (as != nullptr && !as->is_null()) {
    agent_start = parse_time(as);
    if (!agent_start) return malformed(RowIssue::bad_time);
  }
  auto [it, fresh] = s.contacts.try_emplace(id);
  Contact& c = it->second;
  c.seen_read = s.read_no;
  c.missing_since.reset();
  if (!fresh && (c.ended || c.last_update_ms == *updated)) {
    ++stats_.duplicates;
    return true;
  }
  if (!fresh && *updated < c.last_update_ms) {  // an older row than one already applied (paging)
    ++stats_.duplicates;
    return true;
  }
  c.last_update_ms = *updated;
  c.contact_start_ms = *start;
  if (agent_start) c.agent_start_ms = agent_start;
  if (const std::string a = id_text(member(row, "agentId")); !a.empty() && a != "0") c.agent_id = a;
  if (const std::string sk = text_of(member(row, "skillName")); !sk.empty()) c.skill = sk;
  if (is_end_state(row)) {
    end_state_seen_ = true;
    if (mode_ != EndDetection::absence) {
      ++stats_.ends_by_state;
      end_contact(id, c, *updated, out);
      return true;
    }
  }
  const std::string state = contact_state(text_of(member(row, "stateName")), c.agent_start_ms.has_value());
  if (state == c.state) return true;
  c.state = state;
  Event e = make("interaction", *updated);
  e.set(f_.interaction_id, id);
  if (!c.agent_id.empty()) e.set(f_.agent_id, c.agent_id);
  if (!c.skill.empty()) {
    e.set(f_.queue, c.skill);
    e.set(f_.skill, c.skill);
  }
  if (f_.media != kNoField)
    if (const std::string m = text_of(member(row, "mediaTypeName")); !m.empty()) e.set(f_.media, m);
  e.set(f_.state, state);
  out.push_back(std::move(e));
  return true;
}

void Normalizer::end_contact(const std::string& id, Contact& c, std::int64_t end_ms, std::vector<Event>& out) {
  c.ended = true;
  const bool answered = c.agent_start_ms.has_value();
  Event e = make("interaction", end_ms);
  e.set(f_.interaction_id, id);
  if (!c.agent_id.empty()) e.set(f_.agent_id, c.agent_id);
  if (!c.skill.empty()) {
    e.set(f_.queue, c.skill);
    e.set(f_.skill, c.skill);
  }
  e.set(f_.state, std::string(answered ? "ended" : "abandoned"));
  if (answered) {
    e.set(f_.wait, seconds(*c.agent_start_ms - c.contact_start_ms));
    e.set(f_.handle, seconds(end_ms - *c.agent_start_ms));
  } else {
    e.set(f_.wait, seconds(end_ms - c.contact_start_ms));
  }
  out.push_back(std::move(e));
}

Normalizer::Keyed* Normalizer::track(StreamState& s, const std::string& id, std::int64_t updated, bool& fresh) {
  auto [it, inserted] = s.keyed.try_emplace(id);
  fresh = inserted;
  Keyed& k = it->second;
  k.seen_read = s.read_no;
  if (!inserted && updated <= k.last_update_ms) {
    ++stats_.duplicates;
    return nullptr;
  }
  k.last_update_ms = updated;
  return &k;
}

bool Normalizer::agent_row(StreamState& s, const Json& row, std::vector<Event>& out) {
  const std::string id = id_text(member(row, s.def.key));
  if (id.empty()) return malformed(RowIssue::missing_key);
  const auto updated = parse_time(member(row, "lastUpdateTime"));
  if (!updated) return malformed(RowIssue::bad_time);
  const Json* name = member(row, "agentStateName");
  if (name == nullptr || !name->is_string()) return malformed(RowIssue::bad_value);
  bool fresh = false;
  Keyed* k = track(s, id, *updated, fresh);
  if (k == nullptr) return true;
  const std::string raw = name->get<std::string>();
  const std::string state = agent_state(raw, truthy(member(row, "isACW")));
  std::string reason = text_of(member(row, "outStateDescription"));
  if (reason.empty()) reason = raw;
  if (!fresh && state == k->state && reason == k->reason) return true;
  k->state = state;
  k->reason = reason;
  Event e = make("agent", *updated);
  e.set(f_.agent_id, id);
  e.set(f_.state, state);
  e.set(f_.reason, reason);
  if (const std::string t = text_of(member(row, "teamName")); !t.empty()) e.set(f_.team, t);
  if (const std::string sk = text_of(member(row, "skillName")); !sk.empty()) {
    e.set(f_.skill, sk);
    e.set(f_.queue, sk);
  }
  if (const std::string c = id_text(member(row, "contactId")); !c.empty() && c != "0") e.set(f_.interaction_id, c);
  out.push_back(std::move(e));
  return true;
}

bool Normalizer::skill_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out) {
  const std::string id = id_text(member(row, s.def.key));
  if (id.empty()) return malformed(RowIssue::missing_key);
  const Json* lut = member(row, "lastUpdateTime");
  const Json* st = member(row, "serverTime");
  std::optional<std::int64_t> updated;
  if (lut != nullptr && !lut->is_null())
    updated = parse_time(lut);
  else if (st != nullptr && !st->is_null())
    updated = parse_time(st);
  else
    updated = read_time_ms;
  if (!updated) return malformed(RowIssue::bad_time);
  std::int64_t now = read_time_ms;
  if (st != nullptr && !st->is_null()) {
    const auto server = parse_time(st);
    if (!server) return malformed(RowIssue::bad_time);
    now = *server;
  }
  bool fresh = false;
  if (track(s, id, *updated, fresh) == nullptr) return true;
  Event e = make("queue", *updated);
  std::string name = text_of(member(row, "skillName"));
  if (name.empty()) name = id;
  e.set(f_.queue, name);
  e.set(f_.skill, name);
  if (auto q = number_of(member(row, "queueCount"))) e.set(f_.queue_length, *q);
  if (auto a = number_of(member(row, "agentsAvailable"))) e.set(f_.agents_available, *a);
  if (auto a = number_of(member(row, "agentsLoggedIn"))) e.set(f_.agents_logged_in, *a);
  if (auto a = number_of(member(row, "contactsActive"))) e.set(f_.contacts_active, *a);
  if (auto sl = number_of(member(row, "serviceLevel"))) {
    e.set(f_.service_level, *sl);
  } else {
    const auto in = number_of(member(row, "inSLA")), outs = number_of(member(row, "outSLA"));
    if (in && outs && *in + *outs > 0) e.set(f_.service_level, 100.0 * *in / (*in + *outs));
  }
  const Json* eq = member(row, "earliestQueueTime");
  if (eq == nullptr || eq->is_null()) {
    e.set(f_.longest_wait, 0.0);
  } else if (auto t = parse_time(eq)) {
    e.set(f_.longest_wait, seconds(now - *t));
  }
  out.push_back(std::move(e));
  return true;
}

void Normalizer::flatten(const Json& v, const std::string& prefix, Event& e, int depth) const {
  if (v.is_object()) {
    if (depth > 8) return;
    for (auto it = v.begin(); it != v.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), e, depth + 1);
    return;
  }
  const auto id = table_.find(prefix);
  if (!id) return;
  if (v.is_string())
    e.set(*id, v.get<std::string>());
  else if (v.is_boolean())
    e.set(*id, v.get<bool>());
  else if (v.is_number_integer())
    e.set(*id, v.get<std::int64_t>());
  else if (v.is_number())
    e.set(*id, v.get<double>());
  else if (v.is_null())
    e.set(*id, Value{});
}

bool Normalizer::raw_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out) {
  const std::string id = id_text(member(row, s.def.key));
  if (id.empty()) return malformed(RowIssue::missing_key);
  const Json* lut = member(row, "lastUpdateTime");
  const auto updated = lut != nullptr && !lut->is_null() ? parse_time(lut) : std::optional<std::int64_t>(read_time_ms);
  if (!updated) return malformed(RowIssue::bad_time);
  bool fresh = false;
  if (track(s, id, *updated, fresh) == nullptr) return true;
  Event e;
  e.time_ms = *updated;
  flatten(row, "", e, 0);
  if (f_.timestamp != kNoField && e.get(f_.timestamp) == nullptr) e.set(f_.timestamp, format_iso8601_ms(*updated));
  out.push_back(std::move(e));
  return true;
}

std::size_t Normalizer::end_read(std::size_t index, bool complete, std::int64_t read_time_ms, std::vector<Event>& out) {
  StreamState& s = streams_.at(index);
  if (!s.full || !complete) return 0;
  // Keys missing from a complete full read are gone: contacts end by absence once confirmed
  // (unless only end states count); ended contacts and vanished rows are forgotten.
  const std::size_t before = out.size();
  std::size_t suspects = 0;
  for (auto it = s.contacts.begin(); it != s.contacts.end();) {
    Contact& c = it->second;
    if (c.seen_read == s.read_no) {
      ++it;
      continue;
    }
    if (!c.ended && mode_ != EndDetection::end_state) {
      if (!c.missing_since) {
        c.missing_since = std::max(read_time_ms, c.last_update_ms);
        ++suspects;
        ++it;
        continue;
      }
      ++stats_.ends_by_absence;
      end_contact(it->first, c, *c.missing_since, out);
    }
    it = s.contacts.erase(it);
  }
  for (auto it = s.keyed.begin(); it != s.keyed.end();) {
    if (it->second.seen_read != s.read_no)
      it = s.keyed.erase(it);
    else
      ++it;
  }
  stats_.events += out.size() - before;
  return suspects;
}

}  // namespace cxflow::cxone::rtd
