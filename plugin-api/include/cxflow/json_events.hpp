// Decoding JSON events (one JSON object per call) into cxflow Events, projected onto the fields
// the pipeline uses. Shared by every source that reads JSON (source-replay, source-cxone).
//
//   JsonEventDecoder dec(ctx.fields());           // after the field table is frozen (start())
//   Event e;
//   dec.require_one_of("eventType", {"interaction"});   // optional early rejection (filtered)
//   if (auto r = dec.decode(line, e); r != JsonDecodeResult::ok)
//     ctx.counter(std::string("malformed_") + reason(r)).add();
//
// What it does with a document:
// - The document must be a JSON object. Nested objects flatten to dotted paths
//   ({"metrics":{"state":"ended"}} -> metrics.state); a key that already contains dots
//   ({"metrics.state":"ended"}) reaches the same field.
// - Projection: only paths present in the FieldTable (when the decoder was built) are kept; every
//   other key is skipped without being materialized, so arbitrary input cannot grow anything.
// - Values: strings (unescaped, UTF-8), integers that fit int64 -> int64, other numbers
//   (fractions, exponents, integers beyond int64) -> double, true/false -> bool, null -> null.
//   A wanted path whose value is an array or an object with no wanted children is kept as its
//   raw JSON text (a string). A number that does not fit a finite double rejects the document.
// - Event time: the `timestamp_field` path (default "timestamp") is an ISO 8601 string with a
//   zone ("2026-01-05T08:00:01.250Z", "...+01:00"), an epoch-milliseconds number, or a string of
//   digits (epoch ms). Range: 1970-01-01 .. 9999-12-31. The timestamp field is also kept as a
//   field if the pipeline uses it.
// - Missing or unparseable time: `TimePolicy::reject` (default) fails the document with
//   missing_timestamp / bad_timestamp; `TimePolicy::fallback` uses the time the caller passes to
//   decode() and sets time_defaulted() (callers count it). A far-future time is the caller's
//   policy (the decoder does not know what "now" is in a replay).
// - Total over arbitrary bytes: decode() never throws (simdjson is used with exceptions off, so
//   every simdjson error is a checked result) and any input gives exactly one JsonDecodeResult;
//   after an error the decoder decodes the next document normally. A bad literal (`nul`, `tru`,
//   `nan`), a number outside the JSON grammar (`-`, `1e`, `01`, `0x1F`), a bad escape, invalid
//   UTF-8, a raw control byte or NUL in a string, a truncated document, trailing content:
//   invalid_json. fuzz/json_events_fuzzer.cpp checks this (docs/robustness.md).
// - Validation is as deep as the fields read: simdjson On-Demand checks the whole document's
//   UTF-8 and bracket structure and every key, and fully parses only the values that are kept
//   (a malformed literal inside a skipped value may pass). Nesting depth is not limited: the
//   decoder only descends as deep as the wanted paths; deeper values are skipped or kept raw.
// - Impossible times (2026-02-31, month 13, hour 24 or 25, second 60 other than at 23:59:60 UTC)
//   are bad_timestamp, never normalized to another date (see parse_iso8601_ms in time.hpp).
//
// Not thread-safe: one decoder per thread (each holds a simdjson parser and buffers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cxflow/event.hpp"

namespace cxflow {

enum class JsonDecodeResult {
  ok,
  invalid_json,       // not parseable JSON (syntax, bad UTF-8, bad escapes, trailing content, empty)
  not_an_object,      // valid JSON, but not an object at the top level
  missing_timestamp,  // the timestamp field is absent (or null) and the policy is reject
  bad_timestamp,      // the timestamp field is present but not a valid time, policy reject
  invalid_number,     // a kept number does not fit a finite double (e.g. 1e999)
  filtered,           // not an error: a require_one_of() condition rejected the document
};

// Stable snake_case name, for counters ("malformed_" + reason(r)) and messages.
const char* reason(JsonDecodeResult r) noexcept;

struct JsonDecodeOptions {
  enum class TimePolicy { reject, fallback };
  // Dotted path of the event time field.
  std::string timestamp_field = "timestamp";
  TimePolicy time_policy = TimePolicy::reject;
  // When non-empty and present in the FieldTable, the whole input text is stored in this field.
  std::string raw_field;
  // When set, only these fields of the FieldTable are kept (a source's projection:
  // SourceContext::projection()); otherwise every field of the table is.
  std::optional<std::vector<FieldId>> only;
};

class JsonEventDecoder {
 public:
  // Bytes past the end of the input that decode_padded() may read (simdjson's SIMDJSON_PADDING).
  static constexpr std::size_t kPadding = 64;

  // Builds the lookup structure for every name in `fields` now; names interned later are not
  // seen. Throws std::invalid_argument for an empty timestamp_field.
  explicit JsonEventDecoder(const FieldTable& fields, JsonDecodeOptions options = {});
  ~JsonEventDecoder();
  JsonEventDecoder(JsonEventDecoder&&) noexcept;
  JsonEventDecoder& operator=(JsonEventDecoder&&) noexcept;
  JsonEventDecoder(const JsonEventDecoder&) = delete;
  JsonEventDecoder& operator=(const JsonEventDecoder&) = delete;

  // Decodes one JSON document into `out` (fields are cleared first, capacity kept). On error,
  // `out` holds no fields. `fallback_time_ms` is used only with TimePolicy::fallback.
  // Copies `json` into an internal padded buffer; see decode_padded() to avoid the copy.
  JsonDecodeResult decode(std::string_view json, Event& out, std::int64_t fallback_time_ms = 0);
  // Same, without the copy: the caller guarantees that kPadding bytes after json.end() are
  // readable (their content does not matter), e.g. a line inside a larger read buffer.
  JsonDecodeResult decode_padded(std::string_view json, Event& out, std::int64_t fallback_time_ms = 0);

  // True when the last successful decode used the fallback time.
  bool time_defaulted() const noexcept;
  // Human-readable detail of the last error (simdjson's message, the bad timestamp text...).
  const std::string& last_error_detail() const noexcept;
  // Number of field paths the decoder keeps (size of the projection).
  std::size_t wanted_fields() const noexcept;

  // Early rejection (a filter pushed down into decoding). After this call a document is
  // decoded only if the value at the dotted `path` is a string equal to one of `values`; any
  // other document returns JsonDecodeResult::filtered and `out` holds no fields. The check runs
  // when the key is read and decoding stops right there, so the rest of a rejected document is
  // neither decoded nor validated, and its timestamp is not parsed. A document without the path
  // (or with null, a number, an object...) is rejected at its end; a value on the path that is
  // not even valid (`nul`, `1e`) is invalid_json, not filtered. `path` need not be a kept
  // field. Several calls must all hold (one path named twice keeps the intersection). With
  // duplicate keys the first occurrence that fails rejects the document. Call before decoding.
  // Before parsing, a pre-scan rejects a document (as filtered) whose text holds no backslash and
  // in which, for some condition, none of the values occurs as a JSON string literal ("ended"):
  // such a document cannot match, so it is not parsed at all (it may even be malformed). The
  // pre-scan pauses itself while it rejects almost nothing (under 16 of 512 documents) and samples
  // again later, so a malformed document that also fails a condition may come back as filtered or
  // as malformed; a valid one is filtered either way. This is how a source uses
  // SourceContext::keep_conditions() (predicate pushdown).
  void require_one_of(std::string_view path, std::vector<std::string> values);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxflow
