// The work both no-framework yardsticks do per event, shared by cxflow-baseline (file replay,
// bench/baseline.cpp) and cxflow-cxone-baseline (fake CXone over TLS, bench/cxone_baseline.cpp):
//
//   simdjson On-Demand parse of one event in place (the caller's buffer carries simdjson's padding)
//   -> keep eventType == "interaction" and metrics.state in {ended, abandoned}
//      (stops reading an event as soon as it is known to be rejected)
//   -> 60 s tumbling windows on event time, grouped by metadata.queue:
//      contacts = count, avg_handle_time = avg(metrics.handleTime) where state == ended,
//      avg_wait_time = avg(metrics.waitTime), service_level = ratio(metrics.waitTime <= 20)
//      a window closes when an event at or past its end arrives (input is in event-time order;
//      an event for a closed window is counted as late and dropped, like aggregate-window with
//      allowed_lateness 0)
//   -> SQLite: WAL, synchronous=NORMAL, one prepared upsert, one transaction per window;
//      table queue_minutes(window_start TEXT, queue TEXT, contacts, avg_handle_time,
//      avg_wait_time, service_level), UNIQUE(window_start, queue) - the same table the
//      cxflow bench pipelines write.
// Header-only and in an anonymous namespace: each yardstick is one translation unit.
#pragma once

#include <simdjson.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace od = simdjson::ondemand;

namespace {

constexpr std::int64_t kWindowMs = 60'000;
constexpr double kServiceLevelThresholdS = 20.0;
// The program name in error messages (each main sets it).
inline const char* program_name = "cxflow-baseline";

[[noreturn]] inline void die(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", program_name, msg.c_str());
  std::exit(1);
}

// --- ISO 8601 ("2026-01-05T08:00:01.250Z", "...+01:00") -> epoch ms -------------------------
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(const char* p, int n, int& v) {
  v = 0;
  for (int i = 0; i < n; ++i) {
    const unsigned c = static_cast<unsigned char>(p[i]) - '0';
    if (c > 9) return false;
    v = v * 10 + static_cast<int>(c);
  }
  return true;
}

class TimeParser {
 public:
  std::optional<std::int64_t> parse(std::string_view s) {
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
      return std::nullopt;
    std::int64_t sec;
    if (cached_valid_ && std::memcmp(s.data(), cached_.data(), 19) == 0) {
      sec = cached_sec_;  // same second as the previous event: the common case
    } else {
      int y, mo, d, h, mi, se;
      if (!digits(&s[0], 4, y) || !digits(&s[5], 2, mo) || !digits(&s[8], 2, d) || !digits(&s[11], 2, h) ||
          !digits(&s[14], 2, mi) || !digits(&s[17], 2, se) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
          mi > 59 || se > 60)
        return std::nullopt;
      sec = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
      std::memcpy(cached_.data(), s.data(), 19);
      cached_sec_ = sec;
      cached_valid_ = true;
    }
    std::size_t i = 19;
    std::int64_t ms = 0;
    if (s[i] == '.') {
      ++i;
      int scale = 100, nd = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        ms += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
        ++nd;
      }
      if (nd == 0) return std::nullopt;
    }
    if (i >= s.size()) return std::nullopt;
    std::int64_t offset_s = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == s.size() && s[i + 3] == ':') {
      int oh, om;
      if (!digits(&s[i + 1], 2, oh) || !digits(&s[i + 4], 2, om)) return std::nullopt;
      offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
      i += 6;
    } else {
      return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    return (sec - offset_s) * 1000 + ms;
  }

 private:
  std::array<char, 19> cached_{};
  std::int64_t cached_sec_ = 0;
  bool cached_valid_ = false;
};

std::string iso_ms(std::int64_t ms) {
  const std::int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  std::int64_t z = (sec >= 0 ? sec : sec - 86399) / 86400;
  const unsigned sod = static_cast<unsigned>(sec - z * 86400);
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const long long y = yoe + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d, sod / 3600, sod / 60 % 60, sod % 60,
                static_cast<unsigned>(ms - sec * 1000));
  return buf;
}

// --- aggregation ----------------------------------------------------------------------------
struct GroupAgg {
  std::string queue;  // "" when the event has no metadata.queue
  std::uint64_t contacts = 0;
  double handle_sum = 0;
  std::uint64_t handle_n = 0;
  double wait_sum = 0;
  std::uint64_t wait_n = 0;
  std::uint64_t wait_within = 0;  // events with waitTime <= 20 s (ratio over all contacts)
};

struct Window {
  std::int64_t start_ms;
  std::vector<GroupAgg> groups;  // a handful of queues: a linear scan beats hashing
  GroupAgg& group(std::string_view q) {
    for (auto& g : groups)
      if (g.queue == q) return g;
    groups.emplace_back();
    groups.back().queue.assign(q);
    return groups.back();
  }
};

// --- SQLite ---------------------------------------------------------------------------------
class Db {
 public:
  explicit Db(const char* path) {
    if (sqlite3_open(path, &db_) != SQLITE_OK) die(std::string("cannot open ") + path + ": " + sqlite3_errmsg(db_));
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS queue_minutes (window_start TEXT NOT NULL, queue TEXT NOT NULL, "
        "contacts INTEGER, avg_handle_time REAL, avg_wait_time REAL, service_level REAL, "
        "UNIQUE (window_start, queue))");
    const char* sql =
        "INSERT INTO queue_minutes (window_start, queue, contacts, avg_handle_time, avg_wait_time, service_level) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (window_start, queue) DO UPDATE SET "
        "contacts = excluded.contacts, avg_handle_time = excluded.avg_handle_time, "
        "avg_wait_time = excluded.avg_wait_time, service_level = excluded.service_level";
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK)
      die(std::string("prepare: ") + sqlite3_errmsg(db_));
  }
  ~Db() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = std::string(sql) + ": " + (err ? err : "?");
      sqlite3_free(err);
      die(m);
    }
  }
  // One transaction per window.
  void write(const Window& w) {
    if (w.groups.empty()) return;
    const std::string start = iso_ms(w.start_ms);
    exec("BEGIN IMMEDIATE");
    for (const GroupAgg& g : w.groups) {
      sqlite3_bind_text(insert_, 1, start.data(), static_cast<int>(start.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 2, g.queue.data(), static_cast<int>(g.queue.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 3, static_cast<sqlite3_int64>(g.contacts));
      if (g.handle_n)
        sqlite3_bind_double(insert_, 4, g.handle_sum / static_cast<double>(g.handle_n));
      else
        sqlite3_bind_null(insert_, 4);
      if (g.wait_n)
        sqlite3_bind_double(insert_, 5, g.wait_sum / static_cast<double>(g.wait_n));
      else
        sqlite3_bind_null(insert_, 5);
      // ratio(cond): events matching / all events of the group (an event without a waitTime does not match).
      sqlite3_bind_double(insert_, 6, static_cast<double>(g.wait_within) / static_cast<double>(g.contacts));
      if (sqlite3_step(insert_) != SQLITE_DONE) die(std::string("insert: ") + sqlite3_errmsg(db_));
      sqlite3_reset(insert_);
      ++rows_;
    }
    exec("COMMIT");
  }
  std::uint64_t rows() const { return rows_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::uint64_t rows_ = 0;
};

// --- per line -------------------------------------------------------------------------------
struct Stats {
  std::uint64_t events = 0, kept = 0, malformed = 0, late = 0;
};

enum class Line { keep, skip, malformed };

struct Parsed {
  std::string_view timestamp;
  std::string_view queue;
  bool ended = false;
  bool has_handle = false, has_wait = false;
  double handle = 0, wait = 0;
};

class Pipeline {
 public:
  explicit Pipeline(const char* db_path) : db_(db_path) {}

  void line(const char* data, std::size_t len, std::size_t capacity) {
    if (len == 0) return;
    ++stats.events;
    Parsed p;
    switch (parse(data, len, capacity, p)) {
      case Line::skip:
        return;
      case Line::malformed:
        ++stats.malformed;
        return;
      case Line::keep:
        break;
    }
    const auto t = time_.parse(p.timestamp);
    if (!t) {
      ++stats.malformed;
      return;
    }
    ++stats.kept;
    add(*t, p);
  }

  void finish() {
    for (const Window& w : open_) db_.write(w);
    open_.clear();
  }
  std::uint64_t rows() const { return db_.rows(); }
  // "WHO: S s, N events in (R/s), W rows written" and the counts, on stderr.
  void report(const char* who, double secs) const {
    std::fprintf(stderr, "%s: %.2f s, %llu events in (%.0f/s), %llu rows written\n", who, secs,
                 static_cast<unsigned long long>(stats.events), static_cast<double>(stats.events) / secs,
                 static_cast<unsigned long long>(rows()));
    std::fprintf(stderr, "%s: %llu kept, %llu malformed, %llu late\n", who, static_cast<unsigned long long>(stats.kept),
                 static_cast<unsigned long long>(stats.malformed), static_cast<unsigned long long>(stats.late));
  }
  Stats stats;

 private:
  Line parse(const char* data, std::size_t len, std::size_t capacity, Parsed& p) {
    od::document doc;
    if (parser_.iterate(data, len, capacity).get(doc)) return Line::malformed;
    od::object obj;
    if (doc.get_object().get(obj)) return Line::malformed;
    bool interaction = false, final_state = false, has_time = false;
    for (auto f : obj) {
      od::field field;
      if (std::move(f).get(field)) return Line::malformed;
      const od::raw_json_string key = field.key();
      if (key.unsafe_is_equal("eventType")) {
        std::string_view type;
        if (field.value().get_string().get(type)) return Line::malformed;
        if (type != "interaction") return Line::skip;
        interaction = true;
      } else if (key.unsafe_is_equal("timestamp")) {
        if (field.value().get_string().get(p.timestamp)) return Line::malformed;
        has_time = true;
      } else if (key.unsafe_is_equal("metrics")) {
        od::object m;
        if (field.value().get_object().get(m)) return Line::malformed;
        for (auto mf : m) {
          od::field f2;
          if (std::move(mf).get(f2)) return Line::malformed;
          const od::raw_json_string k2 = f2.key();
          if (k2.unsafe_is_equal("state")) {
            std::string_view state;
            if (f2.value().get_string().get(state)) return Line::malformed;
            if (state == "ended")
              p.ended = true;
            else if (state != "abandoned")
              return Line::skip;
            final_state = true;
          } else if (k2.unsafe_is_equal("handleTime")) {
            if (f2.value().get_double().get(p.handle)) return Line::malformed;
            p.has_handle = true;
          } else if (k2.unsafe_is_equal("waitTime")) {
            if (f2.value().get_double().get(p.wait)) return Line::malformed;
            p.has_wait = true;
          }
        }
      } else if (key.unsafe_is_equal("metadata")) {
        od::object m;
        if (field.value().get_object().get(m)) return Line::malformed;
        for (auto mf : m) {
          od::field f2;
          if (std::move(mf).get(f2)) return Line::malformed;
          if (f2.key().unsafe_is_equal("queue")) {
            if (f2.value().get_string().get(p.queue)) return Line::malformed;
          }
        }
      }
    }
    if (!has_time) return Line::malformed;
    return interaction && final_state ? Line::keep : Line::skip;
  }

  void add(std::int64_t t, const Parsed& p) {
    const std::int64_t start = t >= 0 ? t / kWindowMs * kWindowMs : (t - kWindowMs + 1) / kWindowMs * kWindowMs;
    if (start + kWindowMs <= watermark_) {  // its window was already written
      ++stats.late;
      return;
    }
    // The watermark is the newest event time: every window ending at or before it is complete.
    if (t > watermark_) {
      watermark_ = t;
      std::size_t n = 0;
      while (n < open_.size() && open_[n].start_ms + kWindowMs <= t) db_.write(open_[n++]);
      if (n) open_.erase(open_.begin(), open_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    Window* w = nullptr;
    for (auto& o : open_)
      if (o.start_ms == start) w = &o;
    if (!w) {
      auto it = std::find_if(open_.begin(), open_.end(), [&](const Window& o) { return o.start_ms > start; });
      w = &*open_.insert(it, Window{start, {}});
    }
    GroupAgg& g = w->group(p.queue);
    ++g.contacts;
    if (p.ended && p.has_handle) {
      g.handle_sum += p.handle;
      ++g.handle_n;
    }
    if (p.has_wait) {
      g.wait_sum += p.wait;
      ++g.wait_n;
      g.wait_within += p.wait <= kServiceLevelThresholdS;
    }
  }

  od::parser parser_;
  TimeParser time_;
  Db db_;
  std::vector<Window> open_;            // ordered by start
  std::int64_t watermark_ = INT64_MIN;  // newest kept event time
};

}  // namespace
