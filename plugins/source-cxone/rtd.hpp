// source-cxone, protocol rtd: the pure parts (no I/O, no Boost): Real-Time Data API responses,
// JWT claims, and the normalizer that turns rows into agent / interaction / queue events.
// Included by rtd.cpp, rtd_normalize.cpp and the unit tests only.
#pragma once

#include <cxflow/event.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "source-cxone.hpp"

namespace cxflow::cxone::rtd {

using Json = nlohmann::json;

// Case-insensitive member lookup (CXone's older layout uses PascalCase keys); nullptr when absent.
const Json* member(const Json& object, std::string_view key);
// Text of a scalar id (integers without a fraction, strings as is); "" for null/absent/other.
std::string id_text(const Json* v);
// An ISO 8601 time; a time without a zone is taken as UTC (CXone reports UTC).
std::optional<std::int64_t> parse_time(const Json* v);

// One page of a list endpoint, in either layout: top-level {totalRecords, _links, lastPollTime,
// <array>} or {"resultSet": {...}}.
struct Page {
  Json rows = Json::array();
  std::optional<std::int64_t> total_records;
  std::string next;  // absolute URL of the next page, "" on the last
  std::optional<std::int64_t> last_poll_ms;
};
// nullopt with `error` set when the body is not such a page.
std::optional<Page> parse_page(std::string_view body, const std::string& array, std::string& error);

// JWT claims (the middle part, base64url JSON); no signature check. nullopt when not a JWT.
std::optional<Json> jwt_claims(std::string_view token);
// Standard and URL-safe base64, padding optional; nullopt on invalid input.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

// Why a row was skipped (counted as rtd_malformed_<name>).
enum class RowIssue { not_an_object, missing_key, bad_time, bad_value };
inline constexpr int kRowIssues = 4;
const char* row_issue_name(RowIssue r) noexcept;

// What the normalizer did, for the counters (plain numbers: it runs on one thread).
struct NormalizerStats {
  std::uint64_t rows = 0;
  std::uint64_t duplicates = 0;  // (key, lastUpdateTime) already seen
  std::uint64_t events = 0;
  std::uint64_t ends_by_state = 0;
  std::uint64_t ends_by_absence = 0;
  std::uint64_t malformed[kRowIssues] = {};
};

// Rows -> normalized events (see the README's mapping table). Stateful per stream: the last
// (lastUpdateTime, state) per key for dedupe and change detection, and per contact what its end
// event needs. Runs on one thread.
class Normalizer {
 public:
  // `streams` as resolved by effective_streams(); `fields` is the pipeline's (frozen) table:
  // only the fields the pipeline uses are set.
  Normalizer(const Config& cfg, std::vector<RtdStream> streams, const FieldTable& fields);

  // A read of stream `index` starts (`full`: without updatedSince, every row is in it).
  void begin_read(std::size_t index, bool full);
  // One row of the read; appends the events it causes. `read_time_ms` = the read's lastPollTime.
  // Returns false when the row was malformed (counted).
  bool row(std::size_t index, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out);
  // The read ended. `complete`: every page was read and totalRecords did not change under the
  // paging. A contact missing from a complete full read is suspected to have ended at that read's
  // time; missing from the next complete full read too, it ends then (with the first read's time),
  // so a row skipped by a page shift (one removed and one added between pages leaves totalRecords
  // unchanged) is not taken for an end. Returns the contacts now awaiting that confirmation (the
  // poller reads again at once).
  std::size_t end_read(std::size_t index, bool complete, std::int64_t read_time_ms, std::vector<Event>& out);

  // True when contacts/active must be read in full on every poll (end detection by absence:
  // end_detection absence, or auto while no end state has been seen).
  bool contacts_need_full_reads() const;
  const NormalizerStats& stats() const { return stats_; }
  // Entries held (contacts, agents, skills, raw keys): bounded by the live set plus what ended
  // since the last full read.
  std::size_t tracked() const;

 private:
  struct Contact {
    std::int64_t last_update_ms = 0;
    std::string state;  // normalized
    std::int64_t contact_start_ms = 0;
    std::optional<std::int64_t> agent_start_ms;
    std::string agent_id, skill;
    bool ended = false;
    std::uint64_t seen_read = 0;
    std::optional<std::int64_t> missing_since;  // read time of the complete full read that missed it
  };
  struct Keyed {
    std::int64_t last_update_ms = 0;
    std::string state, reason;
    std::uint64_t seen_read = 0;
  };
  struct StreamState {
    RtdStream def;
    std::unordered_map<std::string, Contact> contacts;
    std::unordered_map<std::string, Keyed> keyed;
    std::uint64_t read_no = 0;
    bool full = false;
  };

  // Marks `id` seen by this read; nullptr when (id, updated) is not newer than what was applied.
  Keyed* track(StreamState& s, const std::string& id, std::int64_t updated, bool& fresh);
  bool contact_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out);
  bool agent_row(StreamState& s, const Json& row, std::vector<Event>& out);
  bool skill_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out);
  bool raw_row(StreamState& s, const Json& row, std::int64_t read_time_ms, std::vector<Event>& out);
  void end_contact(const std::string& id, Contact& c, std::int64_t end_ms, std::vector<Event>& out);
  Event make(const char* type, std::int64_t time_ms) const;
  bool malformed(RowIssue why);
  bool is_end_state(const Json& row) const;
  void flatten(const Json& v, const std::string& prefix, Event& e, int depth) const;

  std::vector<std::string> end_states_;  // lower case
  EndDetection mode_;
  bool end_state_seen_ = false;
  std::vector<StreamState> streams_;
  const FieldTable& table_;
  NormalizerStats stats_;
  struct Fields {
    FieldId event_type, timestamp, interaction_id, agent_id, queue, skill, team, media, state, reason, wait, handle,
        queue_length, agents_available, agents_logged_in, contacts_active, longest_wait, service_level;
  } f_;
};

// The normalized interaction state of a contact row's stateName ("" = not an end; see the README).
std::string contact_state(std::string_view state_name, bool answered);
// The normalized agent state of an agent row.
std::string agent_state(std::string_view state_name, bool acw);

}  // namespace cxflow::cxone::rtd
