// filter-interaction through the harness (the real .so): each criterion, their combination,
// invert, counters, in-place forwarding, config errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/harness.hpp"

namespace {

using cxflow::Event;
using cxflow::testing::Harness;

Event make(Harness& h, std::int64_t t, const char* type, const char* state, const char* queue = "sales",
           double wait = 10) {
  auto b = h.event(t);
  if (type) b.set("eventType", type);
  if (state) b.set("metrics.state", state);
  b.set("metadata.queue", queue);
  b.set("metrics.waitTime", cxflow::Value(wait));
  b.set("seq", static_cast<int>(t));
  return b.build();
}

// The pipeline's other fields, as a source would have them.
const std::vector<std::string> kFields = {"eventType", "metrics.state", "metadata.queue", "metrics.waitTime", "seq"};

std::vector<int> seqs(Harness& h, const std::vector<Event>& events) {
  std::vector<int> out;
  for (const auto& e : events) out.push_back(static_cast<int>(*h.number(e, "seq")));
  return out;
}

std::vector<Event> mixed(Harness& h) {
  std::vector<Event> v;
  v.push_back(make(h, 1, "interaction", "ended"));
  v.push_back(make(h, 2, "interaction", "active"));
  v.push_back(make(h, 3, "agent", "available"));
  v.push_back(make(h, 4, "interaction", "abandoned", "support", 300));
  v.push_back(make(h, 5, "queue", nullptr));
  v.push_back(make(h, 6, nullptr, "ended"));        // no eventType
  v.push_back(make(h, 7, "interaction", nullptr));  // no state
  v.push_back(make(h, 8, "interaction", "ended", "vip", 50));
  return v;
}

TEST(FilterInteraction, EventTypes) {
  auto h = Harness::load("filter-interaction", "event_types: [interaction]\n", kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{1, 2, 4, 7, 8}));
  EXPECT_EQ(h.counter("filtered{reason=event_type}"), 3u);
  EXPECT_EQ(h.counter("filtered{reason=state}"), 0u);
}

TEST(FilterInteraction, States) {
  auto h = Harness::load("filter-interaction", "states: [ended, abandoned]\n", kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{1, 4, 6, 8}));
  EXPECT_EQ(h.counter("filtered{reason=state}"), 4u);  // a missing state never matches
}

TEST(FilterInteraction, Where) {
  auto h = Harness::load("filter-interaction", "where: metrics.waitTime >= 50 and metadata.queue != sales\n", kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{4, 8}));
  EXPECT_EQ(h.counter("filtered{reason=where}"), 6u);
}

TEST(FilterInteraction, AllCriteriaMustMatchAndEachDropIsCountedByTheFirstFailingOne) {
  auto h = Harness::load("filter-interaction",
                         "event_types: [interaction]\nstates: [ended, abandoned]\nwhere: metadata.queue == sales\n",
                         kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{1}));
  EXPECT_EQ(h.counter("filtered{reason=event_type}"), 3u);  // 3, 5, 6
  EXPECT_EQ(h.counter("filtered{reason=state}"), 2u);       // 2, 7
  EXPECT_EQ(h.counter("filtered{reason=where}"), 2u);       // 4 (support), 8 (vip)
  EXPECT_EQ(h.counter("filtered{reason=matched}"), 0u);
}

TEST(FilterInteraction, InvertDropsTheMatchingEvents) {
  auto h = Harness::load("filter-interaction", "event_types: [interaction]\nstates: [ended]\ninvert: true\n", kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(h.counter("filtered{reason=matched}"), 2u);
  EXPECT_EQ(h.counter("filtered{reason=event_type}"), 0u);
  EXPECT_EQ(h.counter("filtered{reason=state}"), 0u);
}

TEST(FilterInteraction, ValuesOfOtherTypesNeverMatch) {
  auto h = Harness::load("filter-interaction", "states: [ended]\n", kFields);
  h.start();
  std::vector<Event> v;
  v.push_back(h.event(1).set("metrics.state", cxflow::Value(std::int64_t{1})).set("seq", 1).build());
  v.push_back(h.event(2).set("metrics.state", cxflow::Value()).set("seq", 2).build());
  v.push_back(h.event(3).set("metrics.state", "Ended").set("seq", 3).build());
  v.push_back(h.event(4).set("metrics.state", "ended").set("seq", 4).build());
  h.push(std::move(v));
  EXPECT_EQ(seqs(h, h.take()), (std::vector<int>{4}));
}

TEST(FilterInteraction, KeepsEventsIntactAndInOrderAcrossBatchesAndForwardsWatermarks) {
  auto h = Harness::load("filter-interaction", "states: [ended]\n", kFields);
  h.start();
  for (int b = 0; b < 3; ++b) {
    cxflow::Batch batch;
    for (int i = 0; i < 100; ++i)
      batch.events.push_back(make(h, b * 100 + i, "interaction", i % 2 ? "ended" : "active", "q", i));
    batch.watermark_ms = b * 100 + 99;
    h.push(std::move(batch));
  }
  auto out = h.take();
  ASSERT_EQ(out.size(), 150u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].time_ms, static_cast<std::int64_t>((i / 50) * 100 + (i % 50) * 2 + 1));
    EXPECT_EQ(h.text(out[i], "metrics.state"), "ended");
    EXPECT_EQ(h.text(out[i], "metadata.queue"), "q");
    EXPECT_EQ(out[i].fields.size(), 5u);
  }
  EXPECT_EQ(h.watermarks(), (std::vector<std::int64_t>{99, 199, 299}));
  EXPECT_EQ(h.counter("filtered{reason=state}"), 150u);
}

TEST(FilterInteraction, ABatchWithNothingKeptEmitsNothing) {
  auto h = Harness::load("filter-interaction", "event_types: [queue]\n", kFields);
  h.start();
  std::vector<Event> v;
  v.push_back(make(h, 1, "interaction", "ended"));
  h.push(std::move(v));
  EXPECT_TRUE(h.take().empty());
}

TEST(FilterInteraction, NoCriteriaPassesEverythingWithAWarning) {
  auto h = Harness::load("filter-interaction", "invert: false\n", kFields);
  h.start();
  h.push(mixed(h));
  EXPECT_EQ(h.take().size(), 8u);
  bool warned = false;
  for (const auto& l : h.logs()) warned = warned || l.find("every event passes") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(FilterInteraction, OnlyTheFieldsItUsesAreRegistered) {
  auto h = Harness::load("filter-interaction", "states: [ended]\n");
  EXPECT_TRUE(h.fields().find("metrics.state").has_value());
  EXPECT_FALSE(h.fields().find("eventType").has_value());
}

std::string errors_of(const std::string& yaml) {
  std::string all;
  for (const auto& e : Harness::config_errors("filter-interaction", yaml)) all += e.str() + "\n";
  return all;
}

TEST(FilterInteraction, UnparseableWhereNamesTheKeyAndThePosition) {
  // "where: " is 7 columns: the bad token ")" at offset 20 of the condition is at column 8 + 20.
  const std::string e = errors_of("states: [ended]\nwhere: metrics.waitTime <= )\n");
  EXPECT_NE(e.find("<test>:2:28"), std::string::npos) << e;
  EXPECT_NE(e.find("'where': in condition 'metrics.waitTime <= )'"), std::string::npos) << e;
  EXPECT_NE(e.find("')'"), std::string::npos) << e;
}

TEST(FilterInteraction, WhereMustBeAString) {
  const std::string e = errors_of("where: [a, b]\n");
  EXPECT_NE(e.find("<test>:1:8"), std::string::npos) << e;
  EXPECT_NE(e.find("'where': expected a condition string"), std::string::npos) << e;
}

TEST(FilterInteraction, UnknownEventTypeOrStateNamesTheListEntryAndSuggests) {
  std::string e = errors_of("event_types: [interaction, agnet]\n");
  EXPECT_NE(e.find("'event_types[1]': 'agnet' is not one of [interaction, agent, queue]; did you mean 'agent'?"),
            std::string::npos)
      << e;
  e = errors_of("states: [ended, abandonned]\n");
  EXPECT_NE(e.find("'states[1]': 'abandonned' is not one of"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'abandoned'?"), std::string::npos) << e;
  e = errors_of("states: ended\n");
  EXPECT_NE(e.find("'states'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a list"), std::string::npos) << e;
  e = errors_of("invert: maybe\n");
  EXPECT_NE(e.find("'invert'"), std::string::npos) << e;
  e = errors_of("state: [ended]\n");
  EXPECT_NE(e.find("did you mean 'states'"), std::string::npos) << e;
}

TEST(FilterInteraction, ExampleConfiguresAndKeysAreDescribed) {
  const auto& api = Harness::api("filter-interaction");
  EXPECT_EQ(errors_of(api.example()), "");
  for (const auto& k : api.schema().keys) EXPECT_FALSE(k.description.empty()) << k.name;
}

}  // namespace

TEST(FilterInteraction, PromisesItsTypeAndStateListsForPushdownUnlessInverted) {
  auto h =
      Harness::load("filter-interaction",
                    "event_types: [interaction]\nstates: [ended, abandoned]\nwhere: metrics.waitTime <= 20\n", kFields);
  ASSERT_EQ(h.promises().size(), 2u);  // the where clause is not promised
  EXPECT_EQ(h.promises()[0].path, "eventType");
  EXPECT_EQ(h.promises()[0].values, (std::vector<std::string>{"interaction"}));
  EXPECT_EQ(h.promises()[1].path, "metrics.state");
  EXPECT_EQ(h.promises()[1].values, (std::vector<std::string>{"ended", "abandoned"}));
  // Inverted, the filter keeps exactly what fails the lists: nothing can be promised.
  EXPECT_TRUE(Harness::load("filter-interaction", "states: [ended]\ninvert: true\n", kFields).promises().empty());
  EXPECT_TRUE(Harness::load("filter-interaction", "where: metrics.waitTime <= 20\n", kFields).promises().empty());
}
