// JsonEventDecoder (plugin-api/include/cxflow/json_events.hpp): nesting, projection, value types,
// every error reason, ISO/epoch timestamps, huge numbers, unicode and escapes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cxflow/json_events.hpp"
#include "cxflow/time.hpp"

namespace {

using cxflow::Event;
using cxflow::FieldTable;
using cxflow::JsonDecodeOptions;
using cxflow::JsonDecodeResult;
using cxflow::JsonEventDecoder;
using cxflow::Value;

constexpr const char* kSeed =
    R"({"eventType":"interaction","timestamp":"2026-01-05T08:00:01.250Z","interactionId":"c-123","agentId":"agent-7",)"
    R"("metrics":{"handleTime":245.5,"waitTime":12.0,"state":"ended","queueTime":3},"metadata":{"queue":"sales","skill":"sales"}})";

FieldTable table(std::initializer_list<const char*> names) {
  FieldTable t;
  for (const char* n : names) t.intern(n);
  t.freeze();
  return t;
}

const Value* get(const FieldTable& t, const Event& e, const char* name) {
  auto id = t.find(name);
  return id ? e.get(*id) : nullptr;
}
std::string str(const FieldTable& t, const Event& e, const char* name) {
  const Value* v = get(t, e, name);
  return v && cxflow::as_string(*v) ? *cxflow::as_string(*v) : "<none>";
}

TEST(JsonEvents, SeedEventFlattensNestedObjectsAndKeepsOnlyWantedFields) {
  const auto t = table({"eventType", "interactionId", "metrics.handleTime", "metrics.waitTime", "metrics.state",
                        "metadata.queue", "metrics.unused"});
  JsonEventDecoder dec(t);
  EXPECT_EQ(dec.wanted_fields(), 7u);
  Event e;
  ASSERT_EQ(dec.decode(kSeed, e), JsonDecodeResult::ok) << dec.last_error_detail();
  EXPECT_EQ(e.time_ms, *cxflow::parse_iso8601_ms("2026-01-05T08:00:01.250Z"));
  EXPECT_EQ(str(t, e, "eventType"), "interaction");
  EXPECT_EQ(str(t, e, "interactionId"), "c-123");
  EXPECT_EQ(str(t, e, "metrics.state"), "ended");
  EXPECT_EQ(str(t, e, "metadata.queue"), "sales");
  ASSERT_NE(get(t, e, "metrics.handleTime"), nullptr);
  EXPECT_DOUBLE_EQ(std::get<double>(*get(t, e, "metrics.handleTime")), 245.5);
  EXPECT_DOUBLE_EQ(std::get<double>(*get(t, e, "metrics.waitTime")), 12.0);
  // Projection: agentId, metadata.skill, metrics.queueTime and timestamp are not in the table.
  EXPECT_EQ(e.fields.size(), 6u);
  EXPECT_EQ(get(t, e, "metrics.unused"), nullptr);
}

TEST(JsonEvents, ProjectionDoesNotGrowTheTableOrKeepUnknownKeys) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"a":1,"b":{"c":[1,2,{"d":3}]},"zzz":"x"})", e), JsonDecodeResult::ok);
  EXPECT_EQ(t.size(), 1u);
  ASSERT_EQ(e.fields.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(e.fields[0].value), 1);
}

TEST(JsonEvents, ValueTypes) {
  const auto t = table({"i", "neg", "f", "exp", "s", "t", "fa", "n", "big", "huge", "arr", "obj", "deep.x"});
  JsonDecodeOptions o;
  JsonEventDecoder dec(t, o);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":0,"i":42,"neg":-9223372036854775808,"f":1.5,"exp":2e3,"s":"x","t":true,)"
                       R"("fa":false,"n":null,"big":18446744073709551615,"huge":123456789012345678901234567890,)"
                       R"("arr":[1, "two", {"x":3}],"obj":{"k":[1]},"deep":{"x":{"y":1}}})",
                       e),
            JsonDecodeResult::ok)
      << dec.last_error_detail();
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "i")), 42);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "neg")), INT64_MIN);
  EXPECT_DOUBLE_EQ(std::get<double>(*get(t, e, "f")), 1.5);
  EXPECT_DOUBLE_EQ(std::get<double>(*get(t, e, "exp")), 2000.0);
  EXPECT_EQ(std::get<std::string>(*get(t, e, "s")), "x");
  EXPECT_EQ(std::get<bool>(*get(t, e, "t")), true);
  EXPECT_EQ(std::get<bool>(*get(t, e, "fa")), false);
  ASSERT_NE(get(t, e, "n"), nullptr);
  EXPECT_TRUE(cxflow::is_null(*get(t, e, "n")));
  // Integers beyond int64 become doubles (uint64 range and beyond).
  EXPECT_DOUBLE_EQ(std::get<double>(*get(t, e, "big")), 18446744073709551615.0);
  EXPECT_NEAR(std::get<double>(*get(t, e, "huge")), 1.2345678901234568e29, 1e15);
  // Arrays and objects without wanted children are kept as raw JSON text.
  EXPECT_EQ(std::get<std::string>(*get(t, e, "arr")), R"([1, "two", {"x":3}])");
  EXPECT_EQ(std::get<std::string>(*get(t, e, "obj")), R"({"k":[1]})");
  EXPECT_EQ(std::get<std::string>(*get(t, e, "deep.x")), R"({"y":1})");
}

TEST(JsonEvents, NumberBeyondDoubleRangeIsInvalidNumberOnlyWhenKept) {
  const auto t = table({"x"});
  JsonEventDecoder dec(t);
  Event e;
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"x":1e999})", e), JsonDecodeResult::invalid_number);
  EXPECT_TRUE(e.fields.empty());
  EXPECT_STREQ(cxflow::reason(JsonDecodeResult::invalid_number), "invalid_number");
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"other":1e999})", e), JsonDecodeResult::ok);
}

TEST(JsonEvents, UnicodeAndEscapedStringsAndKeys) {
  const auto t = table({"name", "quote", "agentId", "metrics.state"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"name":"Z\u00fcrich \u2713 \ud83d\ude00 caf\u00e9 ü","quote":"a\"b\\c\n\t/",)"
                       R"("\u0061gentId":"escaped-key","metrics":{"st\u0061te":"ended"}})",
                       e),
            JsonDecodeResult::ok)
      << dec.last_error_detail();
  EXPECT_EQ(str(t, e, "name"), "Zürich ✓ 😀 café ü");
  EXPECT_EQ(str(t, e, "quote"), "a\"b\\c\n\t/");
  EXPECT_EQ(str(t, e, "agentId"), "escaped-key");
  EXPECT_EQ(str(t, e, "metrics.state"), "ended");
}

TEST(JsonEvents, DottedKeysReachTheSameFieldAsNestedObjects) {
  const auto t = table({"metrics.state", "metadata.queue"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"metrics.state":"ended","metadata":{"queue":"sales"}})", e),
            JsonDecodeResult::ok);
  EXPECT_EQ(str(t, e, "metrics.state"), "ended");
  EXPECT_EQ(str(t, e, "metadata.queue"), "sales");
}

TEST(JsonEvents, DuplicateKeysKeepTheLastValueOnce) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"a":1,"a":"two"})", e), JsonDecodeResult::ok);
  ASSERT_EQ(e.fields.size(), 1u);
  EXPECT_EQ(std::get<std::string>(e.fields[0].value), "two");
  // The next document starts clean (no stale duplicate marks).
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"a":3})", e), JsonDecodeResult::ok);
  ASSERT_EQ(e.fields.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(e.fields[0].value), 3);
}

TEST(JsonEvents, Timestamps) {
  const auto t = table({"timestamp"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":"2026-01-05T08:00:01.250Z"})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'600'001'250);
  // The timestamp field is kept as a field too when the pipeline uses it.
  EXPECT_EQ(str(t, e, "timestamp"), "2026-01-05T08:00:01.250Z");
  ASSERT_EQ(dec.decode(R"({"timestamp":"2026-01-05T09:00:01.250+01:00"})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'600'001'250);
  ASSERT_EQ(dec.decode(R"({"timestamp":1767600001250})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'600'001'250);
  ASSERT_EQ(dec.decode(R"({"timestamp":1767600001250.4})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'600'001'250);
  ASSERT_EQ(dec.decode(R"({"timestamp":"1767600001250"})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'600'001'250);
}

TEST(JsonEvents, NestedTimestampField) {
  const auto t = table({"x"});
  JsonDecodeOptions o;
  o.timestamp_field = "meta.ts";
  JsonEventDecoder dec(t, o);
  Event e;
  ASSERT_EQ(dec.decode(R"({"x":1,"meta":{"ts":"2026-01-01T00:00:00Z"}})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 1'767'225'600'000);
  EXPECT_EQ(dec.decode(R"({"x":1,"timestamp":"2026-01-01T00:00:00Z"})", e), JsonDecodeResult::missing_timestamp);
  EXPECT_NE(dec.last_error_detail().find("meta.ts"), std::string::npos) << dec.last_error_detail();
}

struct ErrorCase {
  const char* json;
  JsonDecodeResult expected;
};

class JsonEventsErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonEventsErrors, Reason) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  Event e;
  e.fields.push_back({0, Value(std::int64_t{7})});
  EXPECT_EQ(dec.decode(GetParam().json, e), GetParam().expected)
      << GetParam().json << " -> " << cxflow::reason(GetParam().expected) << " (" << dec.last_error_detail() << ")";
  EXPECT_TRUE(e.fields.empty());
  EXPECT_FALSE(dec.last_error_detail().empty());
}

INSTANTIATE_TEST_SUITE_P(
    AllReasons, JsonEventsErrors,
    ::testing::Values(ErrorCase{"", JsonDecodeResult::invalid_json}, ErrorCase{"{", JsonDecodeResult::invalid_json},
                      ErrorCase{"nonsense", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":})", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":1,})", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":"\x"})", JsonDecodeResult::invalid_json},
                      ErrorCase{"{\"timestamp\":1,\"a\":\"\xff\xfe\"}", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":1} {"a":2})", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":1} x)", JsonDecodeResult::invalid_json},
                      ErrorCase{R"({"timestamp":1,"a":tru})", JsonDecodeResult::invalid_json},
                      ErrorCase{"[1,2]", JsonDecodeResult::not_an_object},
                      ErrorCase{R"("text")", JsonDecodeResult::not_an_object},
                      ErrorCase{"42", JsonDecodeResult::not_an_object},
                      ErrorCase{R"({"a":1})", JsonDecodeResult::missing_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":null})", JsonDecodeResult::missing_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":"yesterday"})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":"2026-01-05T08:00:01"})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":-5})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":1e300})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":true})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":{"x":1}})", JsonDecodeResult::bad_timestamp},
                      ErrorCase{R"({"a":1,"timestamp":[1]})", JsonDecodeResult::bad_timestamp}));

TEST(JsonEvents, DeepNestingIsSkippedOrKeptRawWithoutRecursion) {
  const auto t = table({"a", "b.c"});
  JsonEventDecoder dec(t);
  Event e;
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  std::string deep_obj;
  for (int i = 0; i < 5000; ++i) deep_obj += R"({"c":)";
  deep_obj += "1" + std::string(5000, '}');
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"a":)" + deep + R"(,"b":)" + deep_obj + R"(,"skip":)" + deep + "}", e),
            JsonDecodeResult::ok)
      << dec.last_error_detail();
  EXPECT_EQ(std::get<std::string>(*get(t, e, "a")), deep);
  EXPECT_EQ(std::get<std::string>(*get(t, e, "b.c")), deep_obj.substr(5, deep_obj.size() - 6));
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"a":)" + std::string(5000, '[') + "}", e), JsonDecodeResult::invalid_json);
}

TEST(JsonEvents, FallbackTimePolicy) {
  const auto t = table({"a"});
  JsonDecodeOptions o;
  o.time_policy = JsonDecodeOptions::TimePolicy::fallback;
  JsonEventDecoder dec(t, o);
  Event e;
  ASSERT_EQ(dec.decode(R"({"a":1})", e, 777), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 777);
  EXPECT_TRUE(dec.time_defaulted());
  ASSERT_EQ(dec.decode(R"({"a":1,"timestamp":"garbage"})", e, 888), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 888);
  EXPECT_TRUE(dec.time_defaulted());
  ASSERT_EQ(dec.decode(R"({"a":1,"timestamp":5})", e, 999), JsonDecodeResult::ok);
  EXPECT_EQ(e.time_ms, 5);
  EXPECT_FALSE(dec.time_defaulted());
  // Structural errors are still errors.
  EXPECT_EQ(dec.decode("[]", e, 1), JsonDecodeResult::not_an_object);
}

TEST(JsonEvents, RawField) {
  FieldTable t;
  t.intern("raw");
  t.freeze();
  JsonDecodeOptions o;
  o.raw_field = "raw";
  JsonEventDecoder dec(t, o);
  Event e;
  const std::string doc = R"({"timestamp":1,"x":{"y":2}})";
  ASSERT_EQ(dec.decode(doc, e), JsonDecodeResult::ok);
  EXPECT_EQ(std::get<std::string>(*e.get(*t.find("raw"))), doc);
}

TEST(JsonEvents, DecodePaddedReadsInPlaceFromALargerBuffer) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  // Two lines in one buffer: the first is decoded in place, the second line is its "padding".
  std::string buf = R"({"timestamp":1,"a":1})"
                    "\n"
                    R"({"timestamp":2,"a":22222222222})";
  const std::size_t first_len = buf.find('\n');
  buf.append(JsonEventDecoder::kPadding, '\0');
  Event e;
  ASSERT_EQ(dec.decode_padded(std::string_view(buf.data(), first_len), e), JsonDecodeResult::ok);
  EXPECT_EQ(std::get<std::int64_t>(e.fields.at(0).value), 1);
  const std::size_t second = first_len + 1;
  const std::size_t second_len = buf.find('}', second) + 1 - second;
  ASSERT_EQ(dec.decode_padded(std::string_view(buf.data() + second, second_len), e), JsonDecodeResult::ok);
  EXPECT_EQ(std::get<std::int64_t>(e.fields.at(0).value), 22222222222);
  EXPECT_EQ(e.time_ms, 2);
}

TEST(JsonEvents, NumberAtTheEndOfAPaddedLineIsNotExtendedByTheNextLine) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  std::string buf = R"({"timestamp":1,"a":1})";
  const std::size_t len = buf.size();
  buf += "999\n";
  buf.append(JsonEventDecoder::kPadding, ' ');
  Event e;
  ASSERT_EQ(dec.decode_padded(std::string_view(buf.data(), len), e), JsonDecodeResult::ok);
  EXPECT_EQ(std::get<std::int64_t>(e.fields.at(0).value), 1);
}

TEST(JsonEvents, EmptyTimestampFieldIsRejected) {
  const auto t = table({"a"});
  JsonDecodeOptions o;
  o.timestamp_field = "";
  EXPECT_THROW(JsonEventDecoder(t, o), std::invalid_argument);
}

}  // namespace

// --- key matching, time cache, early rejection (require_one_of) ---------------------------------

TEST(JsonEvents, KeysOfEveryLengthMatchInPlaceAndNearMissesDoNot) {
  // Segment lengths around the 8- and 16-byte words the matcher compares, and keys that share a
  // prefix or differ only in their last byte.
  const auto t = table({"a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq",
                        "n.abcdefghijklmnopqrstuvwxyz"});
  JsonEventDecoder dec(t);
  Event e;
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"a":1,"ab":0,"abcdefg":2,"abcdefgh":3,"abcdefgX":0,"abcdefghi":4,)"
                       R"("abcdefghijklmnop":5,"abcdefghijklmnoX":0,"abcdefghijklmnopq":6,"abcdefghijklmnopX":0,)"
                       R"("n":{"abcdefghijklmnopqrstuvwxyz":7,"abcdefghijklmnopqrstuvwxyZ":0}})",
                       e),
            JsonDecodeResult::ok)
      << dec.last_error_detail();
  ASSERT_EQ(e.fields.size(), 7u);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "a")), 1);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "abcdefg")), 2);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "abcdefgh")), 3);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "abcdefghi")), 4);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "abcdefghijklmnop")), 5);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "abcdefghijklmnopq")), 6);
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "n.abcdefghijklmnopqrstuvwxyz")), 7);
}

TEST(JsonEvents, EscapedAndDottedKeysStillMatch) {
  const auto t = table({"metrics.state", "ab", "x.y.z"});
  JsonEventDecoder dec(t);
  Event e;
  // \u0061 = 'a'; a dotted key at the top and inside an object; a long key with a late backslash.
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"\u0061b":1,"metrics.state":"ended","x":{"y.z":2},)"
                       R"("long-key-with-a-late\"quote":3})",
                       e),
            JsonDecodeResult::ok)
      << dec.last_error_detail();
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "ab")), 1);
  EXPECT_EQ(str(t, e, "metrics.state"), "ended");
  EXPECT_EQ(std::get<std::int64_t>(*get(t, e, "x.y.z")), 2);
  EXPECT_EQ(e.fields.size(), 3u);
}

TEST(JsonEvents, ConsecutiveTimesInTheSameSecondAgreeWithTheFullParser) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  Event e;
  for (const char* ts : {"2026-01-05T08:00:01.250Z", "2026-01-05T08:00:01.999Z", "2026-01-05T08:00:01Z",
                         "2026-01-05T08:00:01.5+01:00", "2026-01-05T08:00:01,25-0230", "2026-01-05T08:00:01.1234Z",
                         "2026-01-05T08:00:02.000Z", "2026-01-05T08:00:02.000z", "2026-01-05T08:00:02+05"}) {
    ASSERT_EQ(dec.decode(std::string(R"({"timestamp":")") + ts + R"("})", e), JsonDecodeResult::ok) << ts;
    EXPECT_EQ(e.time_ms, *cxflow::parse_iso8601_ms(ts)) << ts;
  }
  // Same prefix as the cached second, bad tails: still rejected.
  for (const char* ts : {"2026-01-05T08:00:02", "2026-01-05T08:00:02.Z", "2026-01-05T08:00:02.5",
                         "2026-01-05T08:00:02X", "2026-01-05T08:00:02+24:00", "2026-01-05T08:00:02+01:60",
                         "2026-01-05T08:00:02Zjunk", "2026-01-05T08:00:02+1"}) {
    EXPECT_EQ(dec.decode(std::string(R"({"timestamp":")") + ts + R"("})", e), JsonDecodeResult::bad_timestamp) << ts;
  }
}

TEST(JsonEvents, RequireOneOfRejectsEarlyAndKeepsMatches) {
  const auto t = table({"eventType", "metrics.state", "metadata.queue"});
  JsonEventDecoder dec(t);
  dec.require_one_of("eventType", {"interaction"});
  dec.require_one_of("metrics.state", {"ended", "abandoned"});
  Event e;
  ASSERT_EQ(dec.decode(kSeed, e), JsonDecodeResult::ok) << dec.last_error_detail();
  EXPECT_EQ(str(t, e, "metadata.queue"), "sales");
  EXPECT_EQ(e.fields.size(), 3u);
  // Rejected at eventType: the rest (even invalid JSON and a bad time) is never read.
  EXPECT_EQ(dec.decode(R"({"eventType":"agent","timestamp":"noon","x":1,})", e), JsonDecodeResult::filtered);
  EXPECT_TRUE(e.fields.empty());
  EXPECT_STREQ(cxflow::reason(JsonDecodeResult::filtered), "filtered");
  // Rejected at the nested state.
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","timestamp":1,"metrics":{"state":"active"}})", e),
            JsonDecodeResult::filtered);
  EXPECT_TRUE(e.fields.empty());
  // A dotted key reaches the same requirement.
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","timestamp":1,"metrics.state":"ended"})", e),
            JsonDecodeResult::ok);
  // Missing, null, number, object, array: rejected (filter-interaction drops them too).
  for (const char* doc : {R"({"eventType":"interaction","timestamp":1})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":{"state":null}})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":{"state":3}})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":{"state":{"a":1}}})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":{"state":["ended"]}})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":"ended"})",
                          R"({"eventType":"Interaction","timestamp":1,"metrics":{"state":"ended"}})"})
    EXPECT_EQ(dec.decode(doc, e), JsonDecodeResult::filtered) << doc;
  // A kept document is still fully checked: time and JSON errors win over nothing.
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","metrics":{"state":"ended"}})", e),
            JsonDecodeResult::missing_timestamp);
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","timestamp":"noon","metrics":{"state":"ended"}})", e),
            JsonDecodeResult::bad_timestamp);
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","timestamp":1,"metrics":{"state":"ended"},"x":1,})", e),
            JsonDecodeResult::invalid_json);
}

TEST(JsonEvents, RequireOneOfOnAPathThatIsNotKeptAndTwiceOnOnePath) {
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  dec.require_one_of("kind", {"x", "y"});
  dec.require_one_of("kind", {"y", "z"});  // both must hold: only "y"
  Event e;
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"kind":"x","a":1})", e), JsonDecodeResult::filtered);
  ASSERT_EQ(dec.decode(R"({"timestamp":1,"kind":"y","a":1})", e), JsonDecodeResult::ok);
  EXPECT_EQ(e.fields.size(), 1u);  // "kind" is checked, not kept
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"kind":"z","a":1})", e), JsonDecodeResult::filtered);
  EXPECT_THROW(dec.require_one_of("", {"x"}), std::invalid_argument);
}

// --- the pre-scan: documents that cannot satisfy a require_one_of() are rejected before parsing ---

TEST(JsonEvents, PreScanPausedOnAStreamThatAlmostAlwaysPassesStillFiltersEveryDocument) {
  // Thousands of documents that pass: the pre-scan pauses itself (it rejects nothing), and the
  // walk alone must keep enforcing the condition - in the pause and after it.
  const auto t = table({"eventType", "metrics.state"});
  JsonEventDecoder dec(t);
  dec.require_one_of("metrics.state", {"ended", "abandoned"});
  Event e;
  std::size_t kept = 0, filtered = 0;
  for (int i = 0; i < 30000; ++i) {
    const bool pass = i % 50 != 0;  // 2% fail: too few for the pre-scan to pay
    const std::string doc = std::string(R"({"eventType":"interaction","timestamp":)") + std::to_string(i + 1) +
                            R"(,"metrics":{"state":")" + (pass ? "ended" : "active") + R"("}})";
    const auto r = dec.decode(doc, e);
    if (pass) {
      ASSERT_EQ(r, JsonDecodeResult::ok) << i;
      ASSERT_EQ(str(t, e, "metrics.state"), "ended");
      ++kept;
    } else {
      ASSERT_EQ(r, JsonDecodeResult::filtered) << i;
      ASSERT_TRUE(e.fields.empty());
      ++filtered;
    }
  }
  EXPECT_EQ(kept, 29400u);
  EXPECT_EQ(filtered, 600u);
}

TEST(JsonEvents, PreScanNeverRejectsADocumentWhoseValueIsEscapedOrSplitAcrossTheBlock) {
  const auto t = table({"eventType", "metrics.state"});
  JsonEventDecoder dec(t);
  dec.require_one_of("eventType", {"interaction"});
  dec.require_one_of("metrics.state", {"ended", "abandoned"});
  Event e;
  // The value written with escapes: the literal "ended" is not in the text, the value is.
  for (const char* doc : {R"({"eventType":"interaction","timestamp":1,"metrics":{"state":"end\u0065d"}})",
                          R"({"eventType":"inter\u0061ction","timestamp":1,"metrics":{"state":"abandoned"}})",
                          R"({"eventType":"interaction","timestamp":1,"metrics":{"st\u0061te":"ended"}})"})
    EXPECT_EQ(dec.decode(doc, e), JsonDecodeResult::ok) << doc;
  // The literal at every offset relative to 16-byte blocks, at the very end of the text too.
  for (int pad = 0; pad < 40; ++pad) {
    const std::string doc = R"({"timestamp":1,"x":")" + std::string(static_cast<std::size_t>(pad), 'y') +
                            R"(","eventType":"interaction","metrics":{"state":"abandoned"}})";
    EXPECT_EQ(dec.decode(doc, e), JsonDecodeResult::ok) << doc;
    // The literal present only as a key or as another field's value: the decode rejects it.
    const std::string other = R"({"timestamp":1,"x":")" + std::string(static_cast<std::size_t>(pad), 'y') +
                              R"(","eventType":"interaction","ended":"abandoned","metrics":{"state":"active"}})";
    EXPECT_EQ(dec.decode(other, e), JsonDecodeResult::filtered) << other;
  }
  // Not even a literal: rejected before parsing, so a malformed document counts as filtered too.
  EXPECT_EQ(dec.decode(R"({"eventType":"interaction","timestamp":1,"metrics":{"state":"active"},,})", e),
            JsonDecodeResult::filtered);
  // A value JSON would escape cannot be pre-scanned: the decode decides.
  JsonEventDecoder quoted(t);
  quoted.require_one_of("eventType", {"a\"b"});
  EXPECT_EQ(quoted.decode(R"({"eventType":"a\"b","timestamp":1})", e), JsonDecodeResult::ok);
  EXPECT_EQ(quoted.decode(R"({"eventType":"ab","timestamp":1})", e), JsonDecodeResult::filtered);
}

TEST(JsonEvents, PreScanAgreesWithTheFullDecodeOnRandomDocuments) {
  // Every document is decoded twice: by a decoder with the conditions (pre-scan + early
  // rejection) and by one without, whose result is then checked against the conditions by hand.
  const auto t = table({"eventType", "metrics.state", "v"});
  JsonEventDecoder with(t), without(t);
  with.require_one_of("eventType", {"interaction", "agent"});
  with.require_one_of("metrics.state", {"ended", "abandoned"});
  const char* types[] = {"interaction", "agent", "queue", "interactio", "xinteraction", "inter\\u0061ction"};
  const char* states[] = {"ended", "abandoned", "active", "end", "endedx", "\\u0065nded", "abandone"};
  const char* noise[] = {"", R"("ended":1,)", R"("n":"ended",)", R"("n":"agent",)", R"("z":[1,"abandoned"],)"};
  std::uint64_t x = 42;
  auto next = [&x](std::size_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>((x >> 33) % n);
  };
  int kept = 0, filtered = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string doc = "{";
    doc += noise[next(5)];
    if (next(8) != 0) doc += std::string(R"("eventType":")") + types[next(6)] + R"(",)";
    doc += noise[next(5)];
    doc += R"("timestamp":1,)";
    if (next(8) != 0) doc += std::string(R"("metrics":{"state":")") + states[next(7)] + R"("},)";
    doc += noise[next(5)];
    doc += R"("v":)" + std::to_string(i) + "}";
    Event a, b;
    const JsonDecodeResult ra = with.decode(doc, a);
    ASSERT_EQ(without.decode(doc, b), JsonDecodeResult::ok) << doc;
    const std::string type = str(t, b, "eventType"), state = str(t, b, "metrics.state");
    const bool match = (type == "interaction" || type == "agent") && (state == "ended" || state == "abandoned");
    EXPECT_EQ(ra, match ? JsonDecodeResult::ok : JsonDecodeResult::filtered) << doc;
    (match ? kept : filtered)++;
  }
  EXPECT_GT(kept, 400);
  EXPECT_GT(filtered, 400);
}

// --- issue 12: the decoder is total over arbitrary bytes ---
// `{"metadata":{"queue":nul}}` used to throw simdjson's INCORRECT_TYPE ("The JSON element does not
// have the requested type.") out of decode(): source-replay stopped and source-cxone failed the
// pipeline. Every bad input below must come back as one malformed result with its reason, with
// and without a pushed-down condition, and the decoder must decode the next good document.

namespace {

const std::initializer_list<const char*> kSeedFields = {
    "eventType",     "timestamp",        "interactionId",      "agentId",
    "metrics.state", "metrics.waitTime", "metrics.handleTime", "metadata.queue"};

// A seed-protocol event whose metadata.queue value is `queue` (raw JSON text).
std::string with_queue(const std::string& queue) {
  return R"({"eventType":"interaction","timestamp":"2026-01-05T08:00:01.250Z","interactionId":"c-1","agentId":"agent-7",)"
         R"("metrics":{"handleTime":245.5,"waitTime":12,"state":"ended"},"metadata":{"queue":)" +
         queue + "}}";
}
std::string with_time(const std::string& ts) {
  return R"({"eventType":"interaction","timestamp":")" + ts +
         R"(","interactionId":"c-1","metrics":{"state":"ended"},"metadata":{"queue":"sales"}})";
}

struct BadInput {
  std::string name;
  std::string json;
  JsonDecodeResult expected;
};

std::vector<BadInput> bad_inputs() {
  std::vector<BadInput> v;
  const auto add = [&](std::string name, std::string json, JsonDecodeResult r) {
    v.push_back({std::move(name), std::move(json), r});
  };
  const auto inv = JsonDecodeResult::invalid_json;
  // Bad literals and numbers in a kept field.
  for (const char* lit : {"nul", "nulll", "tru",  "fals", "falsey", "nan", "NaN", "none", "Infinity",  "-Infinity",
                          "-",   "1e",    "1e+",  "1.",   ".5",     "+1",  "01",  "-01",  "0x1F",      "1.5.5",
                          "--1", "1e5e5", "-inf", "-nan", "1_000",  "t",   "f",   "n",    "undefined", "'sales'"})
    add(std::string("literal ") + lit, with_queue(lit), inv);
  add("bad literal as the timestamp", R"({"timestamp":nul,"metadata":{"queue":"sales"}})", inv);
  add("bad literal in the event type", R"({"eventType":tru,"timestamp":1,"metadata":{"queue":"sales"}})", inv);
  // Strings.
  add("unterminated string", with_queue("\"sales"), inv);
  add("unterminated string at the end", R"({"eventType":"interaction","timestamp":1,"metadata":{"queue":"sa)", inv);
  add("bad escape \\q", with_queue(R"("sa\qles")"), inv);
  add("short unicode escape", with_queue(R"("\u12")"), inv);
  add("non-hex unicode escape", with_queue(R"("\uZZZZ")"), inv);
  add("lone high surrogate", with_queue(R"("\ud800")"), inv);
  add("raw control byte in a string", with_queue("\"sa\x01les\""), inv);
  add("raw NUL in a string", with_queue(std::string("\"sa\0les\"", 7)), inv);
  add("NUL between tokens", std::string(R"({"timestamp":1,)") + '\0' + R"("metadata":{"queue":"x"}})", inv);
  add("trailing NUL", with_queue("\"sales\"") + std::string(1, '\0'), inv);
  add("invalid UTF-8 in a kept value", with_queue("\"\xff\xfe\""), inv);
  add("overlong UTF-8", with_queue("\"\xc0\xaf\""), inv);
  add("truncated UTF-8", with_queue("\"sal\xe2\x82\""), inv);
  add("invalid UTF-8 in a skipped value",
      R"({"timestamp":1,"other":")" + std::string("\xff") + R"(","metadata":{"queue":"x"}})", inv);
  add("invalid UTF-8 in a key", R"({"timestamp":1,")" + std::string("\xc3") + R"(":1})", inv);
  // Structure.
  add("empty", "", inv);
  add("whitespace only", " \n\t ", inv);
  add("truncated after a key", R"({"eventType":"interaction","timestamp":)", inv);
  add("truncated object", R"({"eventType":"interaction","timestamp":1,"metadata":{"queue":"sales")", inv);
  add("truncated inside a kept object", R"({"timestamp":1,"metadata":{)", inv);
  add("missing colon", R"({"timestamp":1,"metadata":{"queue" "x"}})", inv);
  add("missing comma", R"({"timestamp":1 "metadata":{"queue":"x"}})", inv);
  add("trailing comma", R"({"timestamp":1,"metadata":{"queue":"x"},})", inv);
  add("trailing garbage", with_queue("\"sales\"") + " x", inv);
  add("second document", with_queue("\"sales\"") + with_queue("\"sales\""), inv);
  add("extra closing brace", with_queue("\"sales\"") + "}", inv);
  add("unbalanced array in a kept value", with_queue("[1,2"), inv);
  add("deep array nesting", with_queue(std::string(100000, '[') + std::string(100000, ']')), JsonDecodeResult::ok);
  add("deep unbalanced nesting", with_queue(std::string(100000, '[')), inv);
  add("deep object nesting, unbalanced", std::string(50000, '{'), inv);
  add("key without quotes", R"({timestamp:1})", inv);
  add("single quotes", R"({'timestamp':1})", inv);
  // Not an object.
  add("array of events", "[" + with_queue("\"sales\"") + "]", JsonDecodeResult::not_an_object);
  add("top-level string", R"("event")", JsonDecodeResult::not_an_object);
  add("top-level null", "null", JsonDecodeResult::not_an_object);
  add("top-level bad literal", "nul", inv);
  add("top-level bad number", "1e", inv);
  // Times (issue 12: impossible dates used to be normalized to another date).
  for (const char* ts : {"2026-02-31T10:00:00Z", "2026-02-29T10:00:00Z", "2026-04-31T10:00:00Z", "2026-13-01T10:00:00Z",
                         "2026-00-10T10:00:00Z", "2026-01-00T10:00:00Z", "2026-01-32T10:00:00Z", "2026-01-05T25:00:00Z",
                         "2026-01-05T24:00:00Z", "2026-01-05T10:60:00Z", "2026-01-05T10:00:61Z", "2026-01-05T10:00:60Z",
                         "2026-01-05T23:59:60+01:00", "1900-02-29T00:00:00Z", "2026-01-05T10:00:00+24:00",
                         "2026-01-05T10:00:00", "2026-1-05T10:00:00Z", "2026-01-05T10:00:00.Z"})
    add(std::string("time ") + ts, with_time(ts), JsonDecodeResult::bad_timestamp);
  add("number beyond double", with_queue("1e999"), JsonDecodeResult::invalid_number);
  return v;
}

}  // namespace

class JsonEventsBadInput : public ::testing::TestWithParam<bool> {};

TEST_P(JsonEventsBadInput, BadInputIsOneMalformedResultAndTheNextDocumentDecodes) {
  const bool pushdown = GetParam();
  const auto t = table(kSeedFields);
  JsonEventDecoder dec(t);
  if (pushdown) {
    dec.require_one_of("eventType", {"interaction"});
    dec.require_one_of("metrics.state", {"ended", "abandoned"});
  }
  const std::string good = with_queue("\"sales\"");
  Event e;
  for (const BadInput& in : bad_inputs()) {
    SCOPED_TRACE(in.name);
    JsonDecodeResult r = JsonDecodeResult::ok;
    ASSERT_NO_THROW(r = dec.decode(in.json, e));
    JsonDecodeResult expected = in.expected;
    // A document that lacks the pushed-down values may be rejected before parsing (documented).
    const bool lacks_a_value =
        in.json.find("\"interaction\"") == std::string::npos ||
        (in.json.find("\"ended\"") == std::string::npos && in.json.find("\"abandoned\"") == std::string::npos);
    if (pushdown && lacks_a_value && expected != JsonDecodeResult::ok)
      EXPECT_TRUE(r == expected || r == JsonDecodeResult::filtered) << cxflow::reason(r);
    else
      EXPECT_EQ(r, expected) << cxflow::reason(r) << " (" << dec.last_error_detail() << ")";
    if (r != JsonDecodeResult::ok) {
      EXPECT_TRUE(e.fields.empty());
      if (r != JsonDecodeResult::filtered) {
        EXPECT_FALSE(dec.last_error_detail().empty());
      }
    }
    // The same decoder, right after: a good document decodes in full.
    ASSERT_EQ(dec.decode(good, e), JsonDecodeResult::ok) << dec.last_error_detail();
    EXPECT_EQ(str(t, e, "metadata.queue"), "sales");
    EXPECT_EQ(str(t, e, "agentId"), "agent-7");
    EXPECT_EQ(e.time_ms, 1'767'600'001'250);
    EXPECT_EQ(e.fields.size(), 8u);
  }
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutPushdown, JsonEventsBadInput, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Pushdown" : "NoPushdown"; });

TEST(JsonEvents, EveryTruncationOfASeedEventIsMalformedNeverAnException) {
  const auto t = table(kSeedFields);
  JsonEventDecoder dec(t);
  Event e;
  const std::string doc = kSeed;
  for (std::size_t n = 0; n < doc.size(); ++n) {
    JsonDecodeResult r = JsonDecodeResult::ok;
    ASSERT_NO_THROW(r = dec.decode(std::string_view(doc).substr(0, n), e)) << n;
    EXPECT_EQ(r, JsonDecodeResult::invalid_json) << doc.substr(0, n);
  }
  EXPECT_EQ(dec.decode(doc, e), JsonDecodeResult::ok);
}

TEST(JsonEvents, EveryByteReplacedInASeedEventNeverThrows) {
  // Each position of the seed event replaced with bytes that break literals, strings and
  // structure: any result but an exception; the next good document decodes.
  const auto t = table(kSeedFields);
  JsonEventDecoder dec(t);
  dec.require_one_of("metrics.state", {"ended"});
  Event e;
  const std::string doc = kSeed;
  for (std::size_t i = 0; i < doc.size(); ++i)
    for (char c : {'\0', '"', '\\', '{', '[', ']', 'n', '-', '\xff', ',', ':'}) {
      std::string bad = doc;
      bad[i] = c;
      ASSERT_NO_THROW((void)dec.decode(bad, e)) << bad;
      ASSERT_EQ(dec.decode(doc, e), JsonDecodeResult::ok) << "after " << bad;
    }
}

TEST(JsonEvents, ABadLiteralInASkippedValueIsNotParsed) {
  // Documented limit: values outside the projection are skipped, not parsed, so a bad literal
  // there does not make the event malformed (its structure and UTF-8 are still checked).
  const auto t = table(kSeedFields);
  JsonEventDecoder dec(t);
  Event e;
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"unused":nul,"metadata":{"queue":"x"}})", e), JsonDecodeResult::ok);
  EXPECT_EQ(dec.decode(R"({"timestamp":1,"unused":"\ud800","metadata":{"queue":"x"}})", e), JsonDecodeResult::ok);
}

// --- ISO 8601: impossible times are rejected, not normalized (issue 12) ---

TEST(Iso8601, ImpossibleDatesAndTimesAreRejectedNotNormalized) {
  for (const char* ts : {"2026-02-31T10:00:00Z", "2026-02-29T10:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                         "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z", "2026-11-31T00:00:00Z", "2026-13-01T00:00:00Z",
                         "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-05T25:00:00Z",
                         "2026-01-05T24:00:00Z", "2026-01-05T10:60:00Z", "2026-01-05T10:00:61Z", "2026-01-05T10:00:99Z",
                         "2026-01-05T10:00:00+24:00", "2026-01-05T10:00:00+01:60"})
    EXPECT_FALSE(cxflow::parse_iso8601_ms(ts).has_value()) << ts;
  EXPECT_EQ(cxflow::parse_iso8601_ms("2028-02-29T00:00:00Z"),
            cxflow::parse_iso8601_ms("2028-02-28T00:00:00Z").value() + 86'400'000);
  EXPECT_EQ(cxflow::parse_iso8601_ms("2000-02-29T12:00:00Z"), 951'825'600'000);
  EXPECT_EQ(cxflow::parse_iso8601_ms("2026-12-31T23:59:59.999Z"), 1'798'761'599'999);
  EXPECT_EQ(cxflow::parse_iso8601_ms("2026-04-30T00:00:00Z"), 1'777'507'200'000);
}

TEST(Iso8601, ALeapSecondIsTheLastMillisecondOfItsUtcDayAndOnlyThere) {
  const auto last = cxflow::parse_iso8601_ms("2016-12-31T23:59:59.999Z").value();
  EXPECT_EQ(cxflow::parse_iso8601_ms("2016-12-31T23:59:60Z"), last);
  EXPECT_EQ(cxflow::parse_iso8601_ms("2016-12-31T23:59:60.500Z"), last);
  EXPECT_EQ(cxflow::parse_iso8601_ms("2016-12-31T15:59:60-08:00"), last);  // the same instant
  EXPECT_EQ(cxflow::parse_iso8601_ms("2017-01-01T05:29:60+05:30"), last);
  EXPECT_LT(cxflow::parse_iso8601_ms("2016-12-31T23:59:59.500Z").value(), last);  // order kept
  EXPECT_GT(cxflow::parse_iso8601_ms("2017-01-01T00:00:00Z").value(), last);
  for (const char* ts :
       {"2016-12-31T23:58:60Z", "2016-12-31T12:00:60Z", "2016-12-31T23:59:60+01:00", "2016-12-31T23:59:60"})
    EXPECT_FALSE(cxflow::parse_iso8601_ms(ts).has_value()) << ts;
}

TEST(Iso8601, TheDecodersCachedPrefixAgreesWithTheFullParserOnLeapSecondsAndBadDays) {
  // The decoder caches the "YYYY-MM-DDTHH:MM:SS" prefix of the previous time; a leap second after a
  // cached prefix of the same minute, and its zone variants, must give the full parser's answer.
  const auto t = table({"a"});
  JsonEventDecoder dec(t);
  Event e;
  for (const char* ts : {"2016-12-31T23:59:59Z", "2016-12-31T23:59:60Z", "2016-12-31T23:59:60.250Z",
                         "2016-12-31T23:59:60+01:00", "2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z",
                         "2026-02-28T10:00:00Z", "2026-02-29T10:00:00Z", "2026-02-28T10:00:00.5Z"}) {
    const auto want = cxflow::parse_iso8601_ms(ts);
    const auto r = dec.decode(with_time(ts), e);
    if (want) {
      ASSERT_EQ(r, JsonDecodeResult::ok) << ts;
      EXPECT_EQ(e.time_ms, *want) << ts;
    } else {
      EXPECT_EQ(r, JsonDecodeResult::bad_timestamp) << ts;
    }
  }
}
