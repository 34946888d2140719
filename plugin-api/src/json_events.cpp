#include "cxflow/json_events.hpp"

// No simdjson call in this file can throw: with exceptions off, simdjson's throwing API (the
// implicit simdjson_result<T> -> T conversions, value(), iteration that throws) does not exist,
// so every result has to be checked with get()/error() or the file does not compile. The
// decoder is total: an error anywhere in a document is one JsonDecodeResult, never an exception
// (`{"a":nul}` used to throw INCORRECT_TYPE out of `!v.is_null()`; issue 12).
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cxflow/time.hpp"
#include "iso8601_tail.hpp"

namespace cxflow {

static_assert(JsonEventDecoder::kPadding == simdjson::SIMDJSON_PADDING, "kPadding must match simdjson's padding");

namespace od = simdjson::ondemand;

const char* reason(JsonDecodeResult r) noexcept {
  switch (r) {
    case JsonDecodeResult::ok:
      return "ok";
    case JsonDecodeResult::invalid_json:
      return "invalid_json";
    case JsonDecodeResult::not_an_object:
      return "not_an_object";
    case JsonDecodeResult::missing_timestamp:
      return "missing_timestamp";
    case JsonDecodeResult::bad_timestamp:
      return "bad_timestamp";
    case JsonDecodeResult::invalid_number:
      return "invalid_number";
    case JsonDecodeResult::filtered:
      return "filtered";
  }
  return "unknown";
}

namespace {

// Event times outside 1970-01-01 .. 9999-12-31 are rejected as bad.
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;

// Up to 8 bytes from p as a little-endian word (unaligned load; callers guarantee readability).
inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
// Mask of the low k bytes (k <= 8).
constexpr std::uint64_t low_bytes(std::size_t k) noexcept { return k >= 8 ? ~0ull : (1ull << (8 * k)) - 1; }
constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;
// High bit set in every byte of w equal to c. Exact up to and including the lowest match (borrows
// only propagate upwards), which is all the callers use.
inline std::uint64_t bytes_eq(std::uint64_t w, char c) noexcept {
  const std::uint64_t x = w ^ (kOnes * static_cast<unsigned char>(c));
  return (x - kOnes) & ~x & kHighs;
}

// One node per path segment of a wanted field name ("metrics" -> "state"). An edge keeps its
// segment's first 16 bytes as two words so that a raw key is matched with two loads.
struct Edge {
  std::string segment;
  std::uint32_t node;
  std::uint32_t len = 0;
  std::uint64_t w0 = 0, w1 = 0;  // segment bytes 0..7 and 8..15, zero padded
};
// A child whose segment is at most 16 bytes without '"' or '\\': its raw key bytes are the
// segment itself followed by the closing quote, so it is matched without scanning the key.
struct PlainEdge {
  std::uint64_t w0, w1;  // segment bytes, zero padded
  std::uint64_t m0, m1;  // masks of the segment's bytes in each word
  std::uint32_t len;
  std::uint32_t node;
};
struct Node {
  FieldId field = kNoField;  // this exact path is wanted
  bool is_time = false;      // this path is the event time
  int require = -1;          // index of a require_one_of() condition on this path
  std::vector<Edge> children;
  std::vector<PlainEdge> plain;  // the children matchable in place, sorted by first byte
  // plain[begin[c] .. begin[c] + count[c]) start with byte c.
  std::array<std::uint8_t, 256> begin{}, count{};
  // Bit c: some child (plain or not) starts with byte c; '"' stands for an empty segment.
  std::array<std::uint64_t, 4> first_any{};
  bool may_start_with(unsigned char c) const noexcept { return (first_any[c >> 6] >> (c & 63)) & 1; }
};

// A require_one_of() condition.
struct Requirement {
  std::string path;
  std::vector<std::string> values;
  // The values as JSON string literals ("\"ended\""), for the quick pre-scan; empty when some
  // value holds a byte JSON would escape (then the pre-scan is not used for this condition).
  std::vector<std::string> literals;
};

// First occurrence of `lit` (at least 3 bytes) in [s, s + n), which has JsonEventDecoder::kPadding
// readable bytes after it. Two bytes of the literal (its second and its second-to-last: the value's
// first and last, rarer than the quotes) are compared 16 positions at a time (SSE2), and only
// the positions where both match are compared in full.
bool contains_literal(const char* s, std::size_t n, const std::string& lit) noexcept {
  const std::size_t k = lit.size();
  if (k > n) return false;
  const std::size_t a = 1, b = k - 2;
#if defined(__SSE2__)
  if (b + 16 <= JsonEventDecoder::kPadding) {
    const __m128i va = _mm_set1_epi8(lit[a]), vb = _mm_set1_epi8(lit[b]);
    for (std::size_t i = 0; i + k <= n; i += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + a));
      const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + b));
      auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(y, vb))));
      while (m != 0) {
        const std::size_t p = i + static_cast<std::size_t>(std::countr_zero(m));
        if (p + k > n) return false;
        if (std::memcmp(s + p, lit.data(), k) == 0) return true;
        m &= m - 1;
      }
    }
    return false;
  }
#endif
  return std::string_view(s, n).find(lit) != std::string_view::npos;
}

// The JSON string literal of `v` when it needs no escaping (no '"', '\\' or control byte).
std::optional<std::string> plain_literal(const std::string& v) {
  for (unsigned char c : v)
    if (c == '"' || c == '\\' || c < 0x20) return std::nullopt;
  return '"' + v + '"';
}

// True when `t` is exactly one JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool json_number_syntax(std::string_view t) noexcept {
  std::size_t i = 0;
  const auto digit = [&](std::size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
  const auto run = [&] {  // one or more digits
    if (!digit(i)) return false;
    while (digit(i)) ++i;
    return true;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0')
    ++i;
  else if (!run())
    return false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!run()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!run()) return false;
  }
  return i == t.size();
}

std::optional<std::int64_t> parse_epoch_digits(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// ISO 8601 times with the "YYYY-MM-DDTHH:MM:SS" prefix of the previous one (events arrive in
// order, ~200 per second) reuse its value: only the fraction and the zone are parsed, by the same
// detail::parse_iso8601_tail that parse_iso8601_ms uses, so exactly the same texts are accepted.
// A leap-second prefix (":60") is never cached: its value depends on the zone.
class TimeCache {
 public:
  std::optional<std::int64_t> parse(std::string_view s) {
    if (valid_ && s.size() > 19 && std::memcmp(s.data(), prefix_, 19) == 0) {
      const auto t = detail::parse_iso8601_tail(s);
      if (!t) return std::nullopt;
      return prefix_ms_ - t->offset_min * 60'000 + t->fraction_ms;
    }
    auto full = parse_iso8601_ms(s);
    if (!full || (s[17] == '6' && s[18] == '0')) return full;
    // Remember the prefix as UTC milliseconds (a valid time has a valid prefix).
    char buf[20];
    std::memcpy(buf, s.data(), 19);
    buf[19] = 'Z';
    if (auto p = parse_iso8601_ms(std::string_view(buf, 20))) {
      std::memcpy(prefix_, s.data(), 19);
      prefix_ms_ = *p;
      valid_ = true;
    }
    return full;
  }

 private:
  bool valid_ = false;
  char prefix_[19] = {};
  std::int64_t prefix_ms_ = 0;
};

}  // namespace

struct JsonEventDecoder::Impl {
  JsonDecodeOptions options;
  std::vector<Node> nodes;          // nodes[0] is the root object
  std::vector<std::uint32_t> seen;  // per node: generation of the last decode that stored it
  std::uint32_t generation = 0;
  std::size_t wanted = 0;
  std::size_t fields_hint = 4;  // reserve() size for out.fields: the most fields seen in one event
  FieldId raw_field = kNoField;
  std::vector<Requirement> requirements;
  std::vector<std::uint32_t> scan_order;  // requirement indexes, in the pre-scan's order
  // The pre-scan pays only when it rejects: on a stream where nearly every document passes
  // (a live source whose filter keeps almost everything) it is pure cost. It watches its own
  // rejections over a window and pauses itself when they are rare, then samples again. Only a
  // shortcut: the walk enforces every requirement by itself.
  static constexpr std::uint32_t kScanWindow = 512, kScanPause = 8192, kScanMinRejects = 16;
  std::uint32_t scan_seen = 0, scan_rejects = 0, scan_paused = 0;
  std::vector<std::uint32_t> satisfied;  // per requirement: generation of the last decode that met it

  od::parser parser;
  std::unique_ptr<simdjson::dom::parser> dom_parser;  // only for documents that are not objects
  std::unique_ptr<char[]> padded;                     // copy buffer for decode()
  std::size_t padded_capacity = 0;
  std::string number_text;  // scratch for big numbers
  TimeCache time_cache;

  // Per-decode state.
  Event* out = nullptr;
  bool time_found = false;
  bool time_bad = false;
  bool time_pending = false;   // time_text holds the last timestamp string, parsed at the end
  std::string_view time_text;  // points into the input or the parser's string buffer
  std::int64_t time_ms = 0;
  bool defaulted = false;
  std::string detail;

  explicit Impl(const FieldTable& table, JsonDecodeOptions opts) : options(std::move(opts)) {
    if (options.timestamp_field.empty()) throw std::invalid_argument("JsonEventDecoder: empty timestamp_field");
    nodes.emplace_back();
    for (FieldId id = 0; id < table.size(); ++id) {
      const std::string& name = table.name(id);
      if (name.empty()) continue;
      if (options.only && !std::binary_search(options.only->begin(), options.only->end(), id)) continue;
      nodes[insert(name)].field = id;
      ++wanted;
    }
    nodes[insert(options.timestamp_field)].is_time = true;
    if (!options.raw_field.empty())
      if (auto id = table.find(options.raw_field)) raw_field = *id;
    seen.assign(nodes.size(), 0);
    index();
  }

  // (Re)builds every node's in-place matching tables from its children.
  void index() {
    for (Node& node : nodes) {
      node.plain.clear();
      node.begin.fill(0);
      node.count.fill(0);
      node.first_any.fill(0);
      for (const Edge& e : node.children) {
        const auto c = static_cast<unsigned char>(e.segment.empty() ? '"' : e.segment[0]);
        node.first_any[c >> 6] |= 1ull << (c & 63);
        if (e.len <= 16 && e.segment.find_first_of("\"\\") == std::string::npos && node.plain.size() < 255)
          node.plain.push_back(
              PlainEdge{e.w0, e.w1, low_bytes(e.len), e.len > 8 ? low_bytes(e.len - 8) : 0, e.len, e.node});
      }
      std::stable_sort(node.plain.begin(), node.plain.end(), [](const PlainEdge& a, const PlainEdge& b) {
        return static_cast<unsigned char>(a.w0) < static_cast<unsigned char>(b.w0);
      });
      for (std::size_t i = 0; i < node.plain.size(); ++i) {
        const auto c = static_cast<unsigned char>(node.plain[i].w0);
        if (node.count[c]++ == 0) node.begin[c] = static_cast<std::uint8_t>(i);
      }
    }
  }

  void require_one_of(std::string_view path, std::vector<std::string> values) {
    if (path.empty()) throw std::invalid_argument("JsonEventDecoder::require_one_of: empty path");
    const std::uint32_t n = insert(path);
    seen.resize(nodes.size(), 0);
    if (nodes[n].require >= 0) {  // the same path twice: both must hold, i.e. the intersection
      auto& have = requirements[static_cast<std::size_t>(nodes[n].require)].values;
      std::vector<std::string> both;
      for (auto& v : values)
        if (std::find(have.begin(), have.end(), v) != have.end()) both.push_back(std::move(v));
      have = std::move(both);
      prepare_literals();
      return;
    }
    nodes[n].require = static_cast<int>(requirements.size());
    requirements.push_back(Requirement{std::string(path), std::move(values), {}});
    satisfied.push_back(0);
    index();
    prepare_literals();
  }

  // Rebuilds every condition's literals (after the values changed).
  void prepare_literals() {
    scan_order.resize(requirements.size());
    for (std::size_t i = 0; i < scan_order.size(); ++i) scan_order[i] = static_cast<std::uint32_t>(i);
    for (Requirement& r : requirements) {
      r.literals.clear();
      for (const std::string& v : r.values) {
        auto lit = plain_literal(v);
        if (!lit) {
          r.literals.clear();
          break;
        }
        r.literals.push_back(std::move(*lit));
      }
    }
  }

  // The pre-scan: true when the text cannot satisfy some require_one_of() condition, so the
  // document is rejected before simdjson sees it. A string value v at any path appears in the
  // text as the bytes "v" unless it is written with escapes; so, in a text without any
  // backslash, a condition none of whose literals occurs anywhere cannot hold. (A literal that
  // does occur proves nothing: it may be a key or another field's value; the decode decides.)
  // The conditions are tried in `scan_order`; one that rejects moves a step forward, so the most
  // selective condition ends up first.
  // The backslash test runs only once a condition failed (most lines that pass skip it).
  bool prescan_rejects(const char* data, std::size_t len) noexcept {
    if (scan_paused > 0) {
      --scan_paused;
      return false;
    }
    const bool reject = cannot_match(data, len);
    scan_rejects += reject;
    if (++scan_seen == kScanWindow) {
      if (scan_rejects < kScanMinRejects) scan_paused = kScanPause;  // under ~3% rejected
      scan_seen = scan_rejects = 0;
    }
    return reject;
  }

  bool cannot_match(const char* data, std::size_t len) noexcept {
    for (std::size_t i = 0; i < scan_order.size(); ++i) {
      const Requirement& r = requirements[scan_order[i]];
      if (r.literals.empty() && !r.values.empty()) continue;  // some value needs escapes
      bool found = false;
      for (const std::string& lit : r.literals)
        if (contains_literal(data, len, lit)) {
          found = true;
          break;
        }
      if (!found) {
        if (std::memchr(data, '\\', len) != nullptr) return false;  // the value may be escaped
        if (i > 0) std::swap(scan_order[i], scan_order[i - 1]);
        return true;
      }
    }
    return false;
  }

  std::uint32_t insert(std::string_view path) {
    std::uint32_t n = 0;
    while (true) {
      const std::size_t dot = path.find('.');
      const std::string_view seg = path.substr(0, dot);
      std::uint32_t next = child(n, seg);
      if (next == 0) {
        next = static_cast<std::uint32_t>(nodes.size());
        Edge e{std::string(seg), next};
        e.len = static_cast<std::uint32_t>(seg.size());
        char w[16] = {};
        std::memcpy(w, seg.data(), std::min<std::size_t>(seg.size(), 16));
        std::memcpy(&e.w0, w, 8);
        std::memcpy(&e.w1, w + 8, 8);
        nodes[n].children.push_back(std::move(e));
        nodes.emplace_back();
      }
      n = next;
      if (dot == std::string_view::npos) return n;
      path.remove_prefix(dot + 1);
    }
  }

  // Child of `n` named `seg`, or 0 (the root is never a child). `seg` may be any memory.
  std::uint32_t child(std::uint32_t n, std::string_view seg) const noexcept {
    for (const Edge& e : nodes[n].children)
      if (e.segment == seg) return e.node;
    return 0;
  }

  // Child of `n` named by the raw key bytes [key, key + len): the bytes after key + len up to
  // key + 16 must be readable (they are: the key is followed by '"', ':', a value, and padding).
  std::uint32_t child_raw(std::uint32_t n, const char* key, std::size_t len) const noexcept {
    const std::uint64_t k0 = load8(key) & low_bytes(len);
    for (const Edge& e : nodes[n].children) {
      if (e.len != len || e.w0 != k0) continue;
      if (len <= 8) return e.node;
      if (len <= 16) {
        if (e.w1 == (load8(key + 8) & low_bytes(len - 8))) return e.node;
      } else if (std::memcmp(e.segment.data() + 8, key + 8, len - 8) == 0) {
        return e.node;
      }
    }
    return 0;
  }

  // Child of `n` whose segment the raw key starting at `key` spells exactly (closing quote
  // included), or 0. Reads at most key[0..16]: within the document or its padding.
  std::uint32_t child_plain(const Node& node, const char* key) const noexcept {
    const std::uint64_t k0 = load8(key);
    const auto c = static_cast<unsigned char>(k0);
    const PlainEdge* e = node.plain.data() + node.begin[c];
    const PlainEdge* end = e + node.count[c];
    if (e == end) return 0;
    const std::uint64_t k1 = load8(key + 8);
    for (; e != end; ++e)
      if ((k0 & e->m0) == e->w0 && (k1 & e->m1) == e->w1 && key[e->len] == '"') return e->node;
    return 0;
  }

  // Node for a dotted key below `n`, or 0. Segments never contain dots.
  std::uint32_t lookup_dotted(std::uint32_t n, std::string_view key) const noexcept {
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
    std::vector<FieldValue>& fields = out->fields;
    if (seen[n] == generation) {
      out->get(id)->template emplace<T>(std::forward<Args>(args)...);  // duplicate key: the last one wins
      return;
    }
    seen[n] = generation;
    if (fields.capacity() == 0) fields.reserve(fields_hint);
    FieldValue& f = fields.emplace_back();
    f.id = id;
    f.value.template emplace<T>(std::forward<Args>(args)...);
  }
  void store_string(std::uint32_t n, std::string_view s) { store<std::string>(n, s); }

  JsonDecodeResult fail(JsonDecodeResult r, simdjson::error_code e) {
    detail = simdjson::error_message(e);
    return r;
  }

  // A require_one_of() path with the string `s` (nullptr: not a string).
  JsonDecodeResult check_requirement(const Node& node, const std::string_view* s) {
    const auto i = static_cast<std::size_t>(node.require);
    if (s != nullptr)
      for (const std::string& v : requirements[i].values)
        if (v.size() == s->size() && std::memcmp(v.data(), s->data(), v.size()) == 0) {
          satisfied[i] = generation;
          return JsonDecodeResult::ok;
        }
    return JsonDecodeResult::filtered;
  }

  void time_from_string(std::string_view s) {
    if (auto ms = time_cache.parse(s); ms && *ms >= 0 && *ms <= kMaxTimeMs) {
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
    time_pending = false;
    time_bad = true;
    detail = std::string("the timestamp is ") + what;
  }
  void time_from_number(double d) {
    time_pending = false;
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
    if (auto e = v.get_number().get(num); e) [[unlikely]] {
      // Integers beyond 64 bits: fall back to strtod on the token.
      const std::string_view tok = scalar_token(v);
      // simdjson rejects what is not a JSON number too ("-", "1e", "01", "0x1F", "1."); only
      // the JSON grammar may reach strtod, which would accept hex, "inf", "nan" and more.
      if (!json_number_syntax(tok)) return fail(JsonDecodeResult::invalid_json, e);
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
    if (num.is_int64()) {
      const std::int64_t i = num.get_int64();
      if (node.is_time) [[unlikely]]
        time_from_number(static_cast<double>(i));
      if (node.field != kNoField) store<std::int64_t>(n, i);
      return JsonDecodeResult::ok;
    }
    const double d = num.is_uint64() ? static_cast<double>(num.get_uint64()) : num.get_double();
    if (!std::isfinite(d)) [[unlikely]] {
      detail = "number does not fit a double";
      return JsonDecodeResult::invalid_number;
    }
    if (node.is_time) [[unlikely]]
      time_from_number(d);
    if (node.field != kNoField) store<double>(n, d);
    return JsonDecodeResult::ok;
  }

  // The text of a scalar value (raw_json_token() runs to the next structural byte, whitespace
  // included).
  static std::string_view scalar_token(od::value& v) noexcept {
    std::string_view tok = v.raw_json_token();
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\n' || tok.back() == '\r' || tok.back() == '\t'))
      tok.remove_suffix(1);
    return tok;
  }

  // A require_one_of() path whose value is not a string or an object: filtered, unless the value
  // is not even a valid literal (`nul`, `tru`, `1e`): that is malformed, as it would be unfiltered.
  JsonDecodeResult not_a_string(od::value& v, od::json_type type) {
    bool b = false;
    switch (type) {
      case od::json_type::null:
        if (auto e = v.is_null().get(b); e || !b) {
          detail = "invalid literal (expected null)";
          return JsonDecodeResult::invalid_json;
        }
        break;
      case od::json_type::boolean:
        if (auto e = v.get_bool().get(b); e) return fail(JsonDecodeResult::invalid_json, e);
        break;
      case od::json_type::number:
        if (od::number num; v.get_number().get(num) != simdjson::SUCCESS && !json_number_syntax(scalar_token(v))) {
          detail = "invalid number";
          return JsonDecodeResult::invalid_json;
        }
        break;
      default:
        break;
    }
    return JsonDecodeResult::filtered;
  }

  // The value of a wanted key at node `n`. Scalars are handled here; objects recurse.
  JsonDecodeResult value(od::value& v, std::uint32_t n) {
    const Node& node = nodes[n];
    od::json_type type;
    if (auto e = v.type().get(type); e) return fail(JsonDecodeResult::invalid_json, e);
    if (type == od::json_type::string) [[likely]] {
      std::string_view s;
      if (auto e = v.get_string().get(s); e) return fail(JsonDecodeResult::invalid_json, e);
      if (node.require >= 0)
        if (auto r = check_requirement(node, &s); r != JsonDecodeResult::ok) return r;
      if (node.is_time) {  // parsed at the end, only if the document is kept
        time_pending = true;
        time_text = s;
      }
      if (node.field != kNoField) store_string(n, s);
      return JsonDecodeResult::ok;
    }
    if (node.require >= 0 && type != od::json_type::object) [[unlikely]]
      return not_a_string(v, type);
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj); e) return fail(JsonDecodeResult::invalid_json, e);
        if (!node.children.empty()) {
          if (node.require >= 0) return JsonDecodeResult::filtered;
          return object(obj, n);
        }
        if (node.is_time) bad_time_type("an object");
        if (node.require >= 0 || node.field != kNoField) {
          std::string_view raw;
          if (auto e = obj.raw_json().get(raw); e) return fail(JsonDecodeResult::invalid_json, e);
          if (node.require >= 0) return check_requirement(node, nullptr);
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
      case od::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b); e) return fail(JsonDecodeResult::invalid_json, e);
        if (node.is_time) bad_time_type("a boolean");
        if (node.field != kNoField) store<bool>(n, b);
        return JsonDecodeResult::ok;
      }
      case od::json_type::null: {
        // type() looks at the first byte only: "nul", "nan", "none" are typed null too.
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null) {
          detail = "invalid literal (expected null)";
          return JsonDecodeResult::invalid_json;
        }
        if (node.is_time) time_pending = false;  // a null time counts as missing
        if (node.field != kNoField) store<std::monostate>(n);
        return JsonDecodeResult::ok;
      }
      case od::json_type::string:
        break;  // handled above
    }
    return JsonDecodeResult::ok;
  }

  JsonDecodeResult object(od::object& obj, std::uint32_t n) {
    for (auto field_result : obj) {
      if (auto e = field_result.error(); e) return fail(JsonDecodeResult::invalid_json, e);
      // A reference into the result, not a copy: copying the (key, value) pair out of it cost a
      // store-forwarding stall per key (a 16-byte load of two fresh 8-byte stores).
      od::field&& field = std::move(field_result).value_unsafe();
      // The raw key points just past the opening quote. Find its closing quote 8 bytes at a
      // time, noting backslashes and dots before it (the bytes read past the quote are the rest
      // of the document or its padding). Plain keys (the norm) are matched in place.
      const char* raw = field.key().raw();
      const Node& node = nodes[n];
      if (const std::uint32_t hit = child_plain(node, raw); hit != 0) [[likely]] {
        if (auto r = value(field.value(), hit); r != JsonDecodeResult::ok) return r;
        continue;
      }
      // A key whose first byte starts no child (and is not an escape) cannot name one, not even
      // dotted or escaped further on: skip it without looking at the rest.
      if (!node.may_start_with(static_cast<unsigned char>(*raw)) && *raw != '\\') continue;
      // No plain match: the key is unwanted, escaped, dotted or long.
      const char* p = raw;
      std::uint64_t quote, backslash, dot = 0;
      for (;;) {
        const std::uint64_t w = load8(p);
        quote = bytes_eq(w, '"');
        backslash = bytes_eq(w, '\\');
        const std::uint64_t dots = bytes_eq(w, '.');
        if (quote != 0) {
          const std::uint64_t before = (quote & -quote) - 1;  // bits below the first quote
          backslash &= before;
          dot |= dots & before;
          p += std::countr_zero(quote) / 8;
          break;
        }
        dot |= dots;
        if (backslash != 0) break;
        p += 8;
      }
      std::uint32_t next;
      if (backslash == 0 && dot == 0) [[likely]] {
        next = child_raw(n, raw, static_cast<std::size_t>(p - raw));
      } else if (backslash == 0) {
        next = lookup_dotted(n, std::string_view(raw, static_cast<std::size_t>(p - raw)));
      } else {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key); e) return fail(JsonDecodeResult::invalid_json, e);
        next = key.find('.') == std::string_view::npos ? child(n, key) : lookup_dotted(n, key);
      }
      if (next == 0) continue;  // not wanted: the iterator skips the value
      if (auto r = value(field.value(), next); r != JsonDecodeResult::ok) return r;
    }
    return JsonDecodeResult::ok;
  }

  JsonDecodeResult decode(const char* data, std::size_t len, std::size_t capacity, Event& ev, std::int64_t fallback) {
    out = &ev;
    ev.fields.clear();
    ev.time_ms = 0;
    time_found = time_bad = time_pending = defaulted = false;
    detail.clear();
    if (++generation == 0) {  // wrapped: forget every mark
      seen.assign(seen.size(), 0);
      satisfied.assign(satisfied.size(), 0);
      generation = 1;
    }
    if (!requirements.empty() && prescan_rejects(data, len)) return JsonDecodeResult::filtered;
    JsonDecodeResult r = run(data, len, capacity);
    if (r == JsonDecodeResult::ok)
      for (std::uint32_t s : satisfied)
        if (s != generation) r = JsonDecodeResult::filtered;  // a required path is absent
    if (r == JsonDecodeResult::ok) {
      if (time_pending) time_from_string(time_text);
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
void JsonEventDecoder::require_one_of(std::string_view path, std::vector<std::string> values) {
  impl_->require_one_of(path, std::move(values));
}

}  // namespace cxflow
