#include "cxflow/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "cxflow/component.hpp"

namespace cxflow {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Source:
      return "source";
    case Kind::Transform:
      return "transform";
    case Kind::Sink:
      return "sink";
  }
  return "?";
}

std::string SourcePos::str() const {
  std::string s = file.empty() ? "<config>" : file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  return s;
}

std::string ConfigError::str() const {
  std::string s = pos.str() + ": ";
  // A key path is built from the user's keys: bounded like any value (a 50 MB key).
  if (!path.empty()) s += quote_value(path, 200) + ": ";
  return s + message;
}

const ConfigNode* ConfigNode::find(std::string_view key) const noexcept {
  if (kind != Kind::Map) return nullptr;
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &items[i];
  return nullptr;
}

ConfigNode ConfigNode::make_scalar(std::string value, SourcePos pos) {
  ConfigNode n;
  n.kind = Kind::Scalar;
  n.scalar = std::move(value);
  n.pos = std::move(pos);
  return n;
}
ConfigNode ConfigNode::make_map(SourcePos pos) {
  ConfigNode n;
  n.kind = Kind::Map;
  n.pos = std::move(pos);
  return n;
}
ConfigNode ConfigNode::make_sequence(SourcePos pos) {
  ConfigNode n;
  n.kind = Kind::Sequence;
  n.pos = std::move(pos);
  return n;
}
ConfigNode& ConfigNode::add(std::string key, ConfigNode value) {
  kind = Kind::Map;
  key_pos.push_back(value.pos);
  keys.push_back(std::move(key));
  items.push_back(std::move(value));
  return items.back();
}
ConfigNode& ConfigNode::push(ConfigNode value) {
  kind = Kind::Sequence;
  items.push_back(std::move(value));
  return items.back();
}

void BindContext::error(const SourcePos& pos, std::string message) const {
  errors.push_back(ConfigError{pos, path, std::move(message)});
}

std::vector<std::string> SchemaInfo::key_names() const {
  std::vector<std::string> v;
  for (const auto& k : keys) v.push_back(k.name);
  return v;
}

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::String:
      return "string";
    case KeyType::Int:
      return "integer";
    case KeyType::Float:
      return "number";
    case KeyType::Bool:
      return "bool";
    case KeyType::Duration:
      return "duration";
    case KeyType::Size:
      return "size";
    case KeyType::Enum:
      return "enum";
    case KeyType::StringList:
      return "list<string>";
    case KeyType::StringMap:
      return "map<string,string>";
    case KeyType::Record:
      return "map";
    case KeyType::RecordList:
      return "list<map>";
    case KeyType::Any:
      return "any";
  }
  return "?";
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
// Splits "12.5MiB" into 12.5 and "MiB".
bool number_and_unit(std::string_view text, double& number, std::string& unit) {
  text = trim(text);
  std::size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' || (i == 0 && text[i] == '-')))
    ++i;
  if (i == 0) return false;
  const std::string num(text.substr(0, i));
  char* end = nullptr;
  number = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(number)) return false;
  unit = std::string(trim(text.substr(i)));
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return true;
}
std::string shown(const ConfigNode& n, bool secret) { return secret ? kRedacted : quote_value(n.scalar); }
bool want_scalar(const ConfigNode& n, const BindContext& cx, const char* expected) {
  if (n.is_scalar()) return true;
  cx.error(n.pos, std::string("expected ") + expected + ", found " +
                      (n.is_map()        ? "a map"
                       : n.is_sequence() ? "a list"
                                         : "nothing"));
  return false;
}
}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  double n;
  std::string unit;
  if (!number_and_unit(text, n, unit) || n < 0) return std::nullopt;
  double ms;
  if (unit.empty() || unit == "s")
    ms = n * 1000;
  else if (unit == "ms")
    ms = n;
  else if (unit == "us")
    ms = n / 1000;
  else if (unit == "m" || unit == "min")
    ms = n * 60'000;
  else if (unit == "h")
    ms = n * 3'600'000;
  else if (unit == "d")
    ms = n * 86'400'000;
  else
    return std::nullopt;
  if (ms > 9e15) return std::nullopt;
  return Duration{static_cast<std::int64_t>(std::llround(ms))};
}

std::string format_duration(Duration d) {
  const std::int64_t ms = d.ms;
  if (ms != 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<ByteSize> parse_size(std::string_view text) {
  double n;
  std::string unit;
  if (!number_and_unit(text, n, unit) || n < 0) return std::nullopt;
  double mult;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kib" || unit == "k")
    mult = 1024.0;
  else if (unit == "mib" || unit == "m")
    mult = 1024.0 * 1024;
  else if (unit == "gib" || unit == "g")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "kb")
    mult = 1e3;
  else if (unit == "mb")
    mult = 1e6;
  else if (unit == "gb")
    mult = 1e9;
  else
    return std::nullopt;
  return ByteSize{static_cast<std::uint64_t>(std::llround(n * mult))};
}

std::string format_size(ByteSize s) {
  const auto b = s.bytes;
  if (b != 0 && b % (1ull << 30) == 0) return std::to_string(b >> 30) + "GiB";
  if (b != 0 && b % (1ull << 20) == 0) return std::to_string(b >> 20) + "MiB";
  if (b != 0 && b % (1ull << 10) == 0) return std::to_string(b >> 10) + "KiB";
  return std::to_string(b);
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string t(trim(text));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) !=
                                             std::tolower(static_cast<unsigned char>(b[j - 1])));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {
// A cut that does not split a UTF-8 sequence: moved back to the start of the character.
std::size_t char_start(std::string_view v, std::size_t i) {
  while (i > 0 && i < v.size() && (static_cast<unsigned char>(v[i]) & 0xC0) == 0x80) --i;
  return i;
}
void append_escaped(std::string& out, std::string_view v) {
  static const char* hex = "0123456789abcdef";
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
}
}  // namespace

std::string quote_value(std::string_view value, std::size_t max_chars) {
  std::string out = "'";
  if (value.size() <= max_chars) {
    append_escaped(out, value);
    return out + "'";
  }
  append_escaped(out, value.substr(0, char_start(value, max_chars)));
  return out + "...' (" + std::to_string(value.size()) + " characters)";
}

std::string quote_value_at(std::string_view value, std::size_t offset) {
  if (value.size() <= kQuoteMaxChars) return quote_value(value);
  offset = std::min(offset, value.size());
  // The offending character about a quarter into the window: some context before, more after.
  std::size_t begin = offset > kQuoteMaxChars / 4 ? offset - kQuoteMaxChars / 4 : 0;
  begin = std::min(begin, value.size() - kQuoteMaxChars);
  begin = char_start(value, begin);
  const std::size_t end = char_start(value, std::min(value.size(), begin + kQuoteMaxChars));
  std::string out = begin > 0 ? "'..." : "'";
  append_escaped(out, value.substr(begin, end - begin));
  out += end < value.size() ? "...'" : "'";
  if (offset == value.size()) return out + " (at its end, character " + std::to_string(offset + 1) + ")";
  return out + " (character " + std::to_string(offset + 1) + " of " + std::to_string(value.size()) + ")";
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  auto common_prefix = [&](std::string_view c) {
    std::size_t n = 0;
    while (n < word.size() && n < c.size() &&
           std::tolower(static_cast<unsigned char>(word[n])) == std::tolower(static_cast<unsigned char>(c[n])))
      ++n;
    return n;
  };
  const std::string* best = nullptr;
  std::size_t best_d = 0, best_prefix = 0;
  for (const auto& c : candidates) {
    // The distance is at least the difference in length: skip without computing it (a 50 MB
    // key is compared in constant time).
    const std::size_t gap = word.size() > c.size() ? word.size() - c.size() : c.size() - word.size();
    if (gap > limit) continue;
    const std::size_t d = edit_distance(word, c);
    if (d > limit) continue;
    const std::size_t prefix = common_prefix(c);
    if (best == nullptr || d < best_d ||
        (d == best_d && (prefix > best_prefix || (prefix == best_prefix && c < *best)))) {
      best = &c;
      best_d = d;
      best_prefix = prefix;
    }
  }
  return best ? *best : std::string();
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string m = closest_match(word, candidates);
  return m.empty() ? "" : "; did you mean '" + m + "'?";
}

namespace detail {

bool convert(const ConfigNode& n, std::string& out, const BindContext& cx, bool) {
  if (!want_scalar(n, cx, "a string")) return false;
  out = n.scalar;
  return true;
}
bool convert(const ConfigNode& n, Secret& out, const BindContext& cx, bool) {
  if (!want_scalar(n, cx, "a string")) return false;
  out = Secret(n.scalar);
  return true;
}
bool convert(const ConfigNode& n, std::int64_t& out, const BindContext& cx, bool secret) {
  if (!want_scalar(n, cx, "an integer")) return false;
  const std::string_view s = trim(n.scalar);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size()) {
    cx.error(n.pos, "expected an integer, found " + shown(n, secret));
    return false;
  }
  return true;
}
bool convert(const ConfigNode& n, int& out, const BindContext& cx, bool secret) {
  std::int64_t v;
  if (!convert(n, v, cx, secret)) return false;
  if (v < INT32_MIN || v > INT32_MAX) {
    cx.error(n.pos, "integer out of range: " + shown(n, secret));
    return false;
  }
  out = static_cast<int>(v);
  return true;
}
bool convert(const ConfigNode& n, double& out, const BindContext& cx, bool secret) {
  if (!want_scalar(n, cx, "a number")) return false;
  const std::string s(trim(n.scalar));
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(out)) {
    cx.error(n.pos, "expected a number, found " + shown(n, secret));
    return false;
  }
  return true;
}
bool convert(const ConfigNode& n, bool& out, const BindContext& cx, bool secret) {
  if (!want_scalar(n, cx, "true or false")) return false;
  auto b = parse_bool(n.scalar);
  if (!b) {
    cx.error(n.pos, "expected true or false, found " + shown(n, secret));
    return false;
  }
  out = *b;
  return true;
}
bool convert(const ConfigNode& n, Duration& out, const BindContext& cx, bool secret) {
  if (!want_scalar(n, cx, "a duration")) return false;
  auto d = parse_duration(n.scalar);
  if (!d) {
    cx.error(n.pos, "expected a duration with a unit (e.g. 500ms, 60s, 5m, 4h), found " + shown(n, secret));
    return false;
  }
  out = *d;
  return true;
}
bool convert(const ConfigNode& n, ByteSize& out, const BindContext& cx, bool secret) {
  if (!want_scalar(n, cx, "a size")) return false;
  auto s = parse_size(n.scalar);
  if (!s) {
    cx.error(n.pos, "expected a size (e.g. 4096, 64KiB, 1MiB), found " + shown(n, secret));
    return false;
  }
  out = *s;
  return true;
}
bool convert(const ConfigNode& n, std::vector<std::string>& out, const BindContext& cx, bool) {
  if (!n.is_sequence()) {
    cx.error(n.pos, "expected a list of strings, e.g. [a, b]");
    return false;
  }
  out.clear();
  for (const auto& item : n.items) {
    if (!item.is_scalar()) {
      cx.error(item.pos, "expected a string in the list");
      return false;
    }
    out.push_back(item.scalar);
  }
  return true;
}
bool convert(const ConfigNode& n, std::vector<std::pair<std::string, std::string>>& out, const BindContext& cx, bool) {
  if (!n.is_map()) {
    cx.error(n.pos, "expected a map of name: value");
    return false;
  }
  out.clear();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    if (!seen.insert(n.keys[i]).second) {
      cx.error(n.key_pos[i], "duplicate key " + quote_value(n.keys[i]));
      return false;
    }
    if (!n.items[i].is_scalar()) {
      cx.error(n.items[i].pos, "expected a string value for " + quote_value(n.keys[i]));
      return false;
    }
    out.emplace_back(n.keys[i], n.items[i].scalar);
  }
  return true;
}
bool convert(const ConfigNode& n, ConfigNode& out, const BindContext&, bool) {
  out = n;
  return true;
}

ConfigNode default_node(const std::string& text, const SourcePos& pos) {
  const std::string_view t = trim(text);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') return ConfigNode::make_scalar(text, pos);
  ConfigNode seq = ConfigNode::make_sequence(pos);
  std::string_view body = t.substr(1, t.size() - 2);
  while (!trim(body).empty()) {
    const std::size_t comma = body.find(',');
    std::string_view item = trim(body.substr(0, comma));
    if (item.size() >= 2 && (item.front() == '"' || item.front() == '\'') && item.back() == item.front())
      item = item.substr(1, item.size() - 2);
    seq.push(ConfigNode::make_scalar(std::string(item), pos));
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return seq;
}

void check_keys(const ConfigNode& map, const std::vector<std::string>& allowed, const BindContext& cx) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < map.keys.size(); ++i) {
    const std::string& k = map.keys[i];
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string msg = "unknown key " + quote_value(k) + did_you_mean(k, allowed);
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      msg += " (allowed keys are: " + (list.empty() ? std::string("none") : list) + ")";
      cx.errors.push_back(ConfigError{map.key_pos[i], cx.path, msg});
    } else if (!seen.insert(k).second) {
      cx.errors.push_back(ConfigError{map.key_pos[i], cx.path, "duplicate key " + quote_value(k)});
    }
  }
}

std::string format_range_error(const KeyInfo& k, double value, const std::string& shown_value) {
  auto fmt = [&](double v) {
    if (k.type == KeyType::Duration) return format_duration(Duration{static_cast<std::int64_t>(v)});
    if (k.type == KeyType::Size) return format_size(ByteSize{static_cast<std::uint64_t>(v)});
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  (void)value;
  std::string range;
  if (k.min && k.max)
    range = "between " + fmt(*k.min) + " and " + fmt(*k.max);
  else if (k.min)
    range = "at least " + fmt(*k.min);
  else
    range = "at most " + fmt(*k.max);
  return "value " + shown_value + " is out of range: must be " + range;
}

}  // namespace detail
}  // namespace cxflow
