// Plugin configuration: the tree the host hands to a plugin, and the declarative schema that
// binds it to a typed struct.
//
// A plugin declares each key once (name, type, default, range or allowed values, required,
// secret, description). The same declaration validates and binds the config, rejects unknown and
// duplicate keys, and documents the plugin in `cxflow plugins describe`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace cxflow {

struct SourcePos {
  std::string file;
  int line = 0;             // 1-based; 0 = unknown
  int column = 0;           // 1-based
  std::string str() const;  // "file:line:col"
};

// A config value as written by the user: scalar, sequence or map, with where it was written.
// Map entries keep their order and their key positions; duplicates are kept so the binder can
// report them.
class ConfigNode {
 public:
  enum class Kind { Null, Scalar, Sequence, Map };

  Kind kind = Kind::Null;
  SourcePos pos;
  std::string scalar;              // Kind::Scalar (after ${VAR} expansion)
  std::vector<ConfigNode> items;   // Kind::Sequence items, or Kind::Map values
  std::vector<std::string> keys;   // Kind::Map keys, parallel to items
  std::vector<SourcePos> key_pos;  // Kind::Map key positions, parallel to items

  bool is_null() const noexcept { return kind == Kind::Null; }
  bool is_scalar() const noexcept { return kind == Kind::Scalar; }
  bool is_sequence() const noexcept { return kind == Kind::Sequence; }
  bool is_map() const noexcept { return kind == Kind::Map; }
  // First value under `key` in a map, or nullptr.
  const ConfigNode* find(std::string_view key) const noexcept;

  static ConfigNode make_scalar(std::string value, SourcePos pos = {});
  static ConfigNode make_map(SourcePos pos = {});
  static ConfigNode make_sequence(SourcePos pos = {});
  ConfigNode& add(std::string key, ConfigNode value);  // map
  ConfigNode& push(ConfigNode value);                  // sequence
};

struct ConfigError {
  SourcePos pos;
  std::string path;     // dotted key path inside the component, e.g. "rules[1].above.warning"
  std::string message;  // what was wrong and what was expected
  std::string str() const;
};

// Plugins throw this from their constructor (or from schema checks) to report a config error
// at a precise place.
class ConfigException : public std::runtime_error {
 public:
  ConfigException(SourcePos pos, std::string message)
      : std::runtime_error(message), pos_(std::move(pos)), message_(std::move(message)) {}
  // `path`: the key path inside the component ("metrics.aht", "columns.queue").
  ConfigException(SourcePos pos, std::string path, std::string message)
      : std::runtime_error(message), pos_(std::move(pos)), path_(std::move(path)), message_(std::move(message)) {}
  const SourcePos& pos() const noexcept { return pos_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& message() const noexcept { return message_; }

 private:
  SourcePos pos_;
  std::string path_;
  std::string message_;
};

// ---- Value types with units ----------------------------------------------------------------

struct Duration {
  std::int64_t ms = 0;
  friend bool operator==(Duration, Duration) = default;
};
struct ByteSize {
  std::uint64_t bytes = 0;
  friend bool operator==(ByteSize, ByteSize) = default;
};
// A string that must never be printed. `str()` is for the one place that sends it.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  const std::string& reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

 private:
  std::string value_;
};
inline constexpr const char* kRedacted = "<redacted>";

// "500ms", "60s", "5m", "4h", "1d", "250us" (rounded to ms), or a bare number of seconds.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);
// "512", "64KiB", "1MiB", "2GiB", "10KB" (1000-based), "1.5MiB".
std::optional<ByteSize> parse_size(std::string_view text);
std::string format_size(ByteSize s);
std::optional<bool> parse_bool(std::string_view text);

// Every message that quotes a user's value goes through quote_value, so a 50 MB scalar cannot
// become a 50 MB message: at most kQuoteMaxChars bytes of it, in single quotes, control
// characters escaped (\n, \t, \xNN), and when it was cut, "..." plus the full length:
//   'abc'    'aaaaaaaa...' (50000000 characters)
// A longer `max_chars` is for values that are names built by cxflow (key paths).
inline constexpr std::size_t kQuoteMaxChars = 40;
std::string quote_value(std::string_view value, std::size_t max_chars = kQuoteMaxChars);
// Same, the window placed around byte `offset` (an error in the middle of a long value):
//   '...((((((((x...' (character 20001 of 40002)    '...a <=' (at its end, character 9)
std::string quote_value_at(std::string_view value, std::size_t offset);

// Levenshtein distance (ASCII case ignored): the basis of "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a sensible distance (at most max(2, size/3) edits), or "".
// Deterministic whatever the candidates' order: the smallest edit distance wins, then the
// longest common prefix, then the alphabetically first ("sped" -> "speed", not "seed").
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// "; did you mean 'x'?" with closest_match's pick, or "" when nothing is close. Every
// "did you mean" in cxflow comes from here.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// ---- Schema description (what `plugins describe` prints) -----------------------------------

enum class KeyType { String, Int, Float, Bool, Duration, Size, Enum, StringList, StringMap, Record, RecordList, Any };
const char* key_type_name(KeyType t);

struct KeyInfo {
  std::string name;
  KeyType type = KeyType::String;
  std::string description;
  std::optional<std::string> default_text;
  bool required = false;
  bool secret = false;
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> allowed;  // Enum values
  std::vector<KeyInfo> children;     // Record / RecordList keys
  std::string example;               // optional example value (YAML)
  std::string type_name;             // shown instead of the type's name when set (keys bound as Any)
};

struct SchemaInfo {
  std::vector<KeyInfo> keys;
  std::vector<std::string> key_names() const;
};

// Collects errors while binding; keeps the key path for messages.
class BindContext {
 public:
  std::vector<ConfigError>& errors;
  std::string path;

  void error(const SourcePos& pos, std::string message) const;
  std::string child(std::string_view key) const {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
};

namespace detail {
// Scalar conversions shared by all schemas. Each returns false after reporting an error.
bool convert(const ConfigNode& n, std::string& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, Secret& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, std::int64_t& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, int& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, double& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, bool& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, Duration& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, ByteSize& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, std::vector<std::string>& out, const BindContext& cx, bool secret);
bool convert(const ConfigNode& n, std::vector<std::pair<std::string, std::string>>& out, const BindContext& cx,
             bool secret);
bool convert(const ConfigNode& n, ConfigNode& out, const BindContext& cx, bool secret);
// Numeric view used by range checks.
inline std::optional<double> numeric(std::int64_t v) { return static_cast<double>(v); }
inline std::optional<double> numeric(int v) { return static_cast<double>(v); }
inline std::optional<double> numeric(double v) { return v; }
inline std::optional<double> numeric(Duration v) { return static_cast<double>(v.ms); }
inline std::optional<double> numeric(ByteSize v) { return static_cast<double>(v.bytes); }
template <class V>
std::optional<double> numeric(const V&) {
  return std::nullopt;
}
template <class V>
constexpr KeyType key_type_of() {
  if constexpr (std::is_same_v<V, std::string> || std::is_same_v<V, Secret>)
    return KeyType::String;
  else if constexpr (std::is_same_v<V, bool>)
    return KeyType::Bool;
  else if constexpr (std::is_same_v<V, std::int64_t> || std::is_same_v<V, int>)
    return KeyType::Int;
  else if constexpr (std::is_same_v<V, double>)
    return KeyType::Float;
  else if constexpr (std::is_same_v<V, Duration>)
    return KeyType::Duration;
  else if constexpr (std::is_same_v<V, ByteSize>)
    return KeyType::Size;
  else if constexpr (std::is_same_v<V, std::vector<std::string>>)
    return KeyType::StringList;
  else if constexpr (std::is_same_v<V, std::vector<std::pair<std::string, std::string>>>)
    return KeyType::StringMap;
  else if constexpr (std::is_same_v<V, ConfigNode>)
    return KeyType::Any;
  else if constexpr (std::is_enum_v<V>)
    return KeyType::Enum;
  else
    return KeyType::Record;
}
// A default as written in a schema ("60s", or "[a, b]" for a list) as a config node.
ConfigNode default_node(const std::string& text, const SourcePos& pos);
// Reports unknown and duplicate keys of a map against the allowed names.
void check_keys(const ConfigNode& map, const std::vector<std::string>& allowed, const BindContext& cx);
std::string format_range_error(const KeyInfo& k, double value, const std::string& shown);
}  // namespace detail

// ---- Typed schema ---------------------------------------------------------------------------

template <class T>
class Schema;

// Fluent setters for one key.
template <class T, class M>
class KeyBuilder {
 public:
  KeyBuilder(KeyInfo& info, std::vector<std::pair<std::string, M>>* enum_values) : info_(info), enums_(enum_values) {}
  // Default as the user would write it in YAML ("60s", "64KiB", "block").
  KeyBuilder& def(std::string text) {
    info_.default_text = std::move(text);
    return *this;
  }
  KeyBuilder& required() {
    info_.required = true;
    return *this;
  }
  KeyBuilder& secret() {
    info_.secret = true;
    return *this;
  }
  KeyBuilder& min(double v) {
    info_.min = v;
    return *this;
  }
  KeyBuilder& max(double v) {
    info_.max = v;
    return *this;
  }
  KeyBuilder& range(double lo, double hi) { return min(lo).max(hi); }
  KeyBuilder& example(std::string yaml) {
    info_.example = std::move(yaml);
    return *this;
  }
  // What `plugins describe` shows as the type, for keys the plugin parses itself (ConfigNode).
  KeyBuilder& type_name(std::string name) {
    info_.type_name = std::move(name);
    return *this;
  }
  // Allowed values for a string key; for an enum member, the name <-> value mapping.
  KeyBuilder& one_of(std::vector<std::string> values) {
    info_.type = KeyType::Enum;
    info_.allowed = std::move(values);
    return *this;
  }
  KeyBuilder& one_of(std::vector<std::pair<std::string, M>> mapping) requires std::is_enum_v<M> {
    info_.allowed.clear();
    for (auto& [name, value] : mapping) info_.allowed.push_back(name);
    *enums_ = std::move(mapping);
    return *this;
  }

 private:
  KeyInfo& info_;
  std::vector<std::pair<std::string, M>>* enums_;
};

// Binds a ConfigNode map to a T. Keys are declared with member pointers; the declaration
// order is the documentation order.
template <class T>
class Schema {
 public:
  using Check = std::function<std::string(const T&)>;  // "" = ok, else the error message

  template <class M>
  KeyBuilder<T, M> key(std::string name, M T::*member, std::string description) {
    auto entry = std::make_shared<Entry<M>>();
    entry->member = member;
    entry->info.name = std::move(name);
    entry->info.type = detail::key_type_of<M>();
    if constexpr (std::is_same_v<M, Secret>) entry->info.secret = true;
    entry->info.description = std::move(description);
    Entry<M>* raw = entry.get();
    entries_.push_back(std::move(entry));
    return KeyBuilder<T, M>(raw->info, &raw->enums);
  }

  // A nested record (map) bound with its own schema.
  template <class R>
  KeyBuilder<T, R> record(std::string name, R T::*member, const Schema<R>& schema, std::string description) {
    auto entry = std::make_shared<RecordEntry<R>>(schema);
    entry->member = member;
    entry->info.name = std::move(name);
    entry->info.type = KeyType::Record;
    entry->info.description = std::move(description);
    entry->info.children = schema.info().keys;
    RecordEntry<R>* raw = entry.get();
    entries_.push_back(std::move(entry));
    return KeyBuilder<T, R>(raw->info, nullptr);
  }

  // A list of records, each bound with its own schema.
  template <class R>
  KeyBuilder<T, std::vector<R>> records(std::string name, std::vector<R> T::*member, const Schema<R>& schema,
                                        std::string description) {
    auto entry = std::make_shared<RecordListEntry<R>>(schema);
    entry->member = member;
    entry->info.name = std::move(name);
    entry->info.type = KeyType::RecordList;
    entry->info.description = std::move(description);
    entry->info.children = schema.info().keys;
    RecordListEntry<R>* raw = entry.get();
    entries_.push_back(std::move(entry));
    return KeyBuilder<T, std::vector<R>>(raw->info, nullptr);
  }

  // A check across keys, run after every key bound cleanly; reported at the map.
  Schema& check(Check fn) {
    checks_.push_back({std::string(), std::move(fn)});
    return *this;
  }
  // The same, reported at `key`'s value (or at the map when the key is absent).
  Schema& check(std::string key, Check fn) {
    checks_.push_back({std::move(key), std::move(fn)});
    return *this;
  }

  SchemaInfo info() const {
    SchemaInfo s;
    for (const auto& e : entries_) s.keys.push_back(e->info);
    return s;
  }

  // Binds `node` (a map, or null for "no keys") into `out`. Returns false with errors added.
  bool bind(const ConfigNode& node, T& out, std::vector<ConfigError>& errors, const std::string& path = {}) const {
    const std::size_t before = errors.size();
    BindContext cx{errors, path};
    static const ConfigNode empty_map = ConfigNode::make_map();
    const ConfigNode* map = &node;
    if (node.is_null()) {
      map = &empty_map;
    } else if (!node.is_map()) {
      cx.error(node.pos, "expected a map of keys, found " + std::string(node.is_scalar() ? "a scalar" : "a list"));
      return false;
    }
    std::vector<std::string> names;
    for (const auto& e : entries_) names.push_back(e->info.name);
    detail::check_keys(*map, names, cx);
    for (const auto& e : entries_) {
      const ConfigNode* v = map->find(e->info.name);
      BindContext kcx{errors, cx.child(e->info.name)};
      if (v == nullptr || v->is_null()) {
        if (e->info.default_text) {
          const ConfigNode d = detail::default_node(*e->info.default_text, map->pos);
          e->bind(d, out, kcx);
        } else if (e->info.required) {
          kcx.error(map->pos, "missing required key '" + e->info.name + "' (" + e->info.description + ")");
        }
        continue;
      }
      e->bind(*v, out, kcx);
    }
    if (errors.size() != before) return false;
    for (const auto& [key, fn] : checks_) {
      std::string msg = fn(out);
      if (msg.empty()) continue;
      if (key.empty()) {
        cx.error(map->pos, msg);
      } else {
        const ConfigNode* at = map->find(key);
        BindContext kcx{errors, cx.child(key)};
        kcx.error(at ? at->pos : map->pos, msg);
      }
    }
    return errors.size() == before;
  }

 private:
  struct EntryBase {
    KeyInfo info;
    virtual ~EntryBase() = default;
    virtual void bind(const ConfigNode& n, T& out, const BindContext& cx) const = 0;
  };

  template <class M>
  struct Entry : EntryBase {
    M T::*member = nullptr;
    std::vector<std::pair<std::string, M>> enums;

    void bind(const ConfigNode& n, T& out, const BindContext& cx) const override {
      const KeyInfo& k = this->info;
      if constexpr (std::is_enum_v<M>) {
        std::string text;
        if (!detail::convert(n, text, cx, k.secret)) return;
        for (const auto& [name, value] : enums)
          if (name == text) {
            out.*member = value;
            return;
          }
        cx.error(n.pos,
                 quote_value(text) + " is not one of " + join_allowed(k.allowed) + did_you_mean(text, k.allowed));
      } else {
        M value{};
        if (!detail::convert(n, value, cx, k.secret)) return;
        if constexpr (std::is_same_v<M, std::string>) {
          if (k.type == KeyType::Enum) {
            bool ok = false;
            for (const auto& a : k.allowed) ok = ok || a == value;
            if (!ok) {
              cx.error(n.pos, quote_value(value) + " is not one of " + join_allowed(k.allowed) +
                                  did_you_mean(value, k.allowed));
              return;
            }
          }
        }
        if (auto num = detail::numeric(value)) {
          if ((k.min && *num < *k.min) || (k.max && *num > *k.max)) {
            cx.error(n.pos,
                     detail::format_range_error(k, *num, k.secret ? std::string(kRedacted) : quote_value(n.scalar)));
            return;
          }
        }
        out.*member = std::move(value);
      }
    }
    static std::string join_allowed(const std::vector<std::string>& v) {
      std::string s;
      for (const auto& a : v) s += (s.empty() ? "" : ", ") + a;
      return "[" + s + "]";
    }
  };

  template <class R>
  struct RecordEntry : EntryBase {
    explicit RecordEntry(const Schema<R>& s) : schema(s) {}
    Schema<R> schema;
    R T::*member = nullptr;
    void bind(const ConfigNode& n, T& out, const BindContext& cx) const override {
      R value{};
      if (schema.bind(n, value, cx.errors, cx.path)) out.*member = std::move(value);
    }
  };

  template <class R>
  struct RecordListEntry : EntryBase {
    explicit RecordListEntry(const Schema<R>& s) : schema(s) {}
    Schema<R> schema;
    std::vector<R> T::*member = nullptr;
    void bind(const ConfigNode& n, T& out, const BindContext& cx) const override {
      if (!n.is_sequence()) {
        cx.error(n.pos, "expected a list of maps");
        return;
      }
      std::vector<R> values;
      bool ok = true;
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        R value{};
        ok = schema.bind(n.items[i], value, cx.errors, cx.path + "[" + std::to_string(i) + "]") && ok;
        values.push_back(std::move(value));
      }
      if (ok) out.*member = std::move(values);
    }
  };

  std::vector<std::shared_ptr<const EntryBase>> entries_;
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace cxflow
