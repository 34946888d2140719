// source-replay: replays newline-delimited JSON events from a file, as fast as the pipeline takes
// them (`speed: max`) or paced by their event times (`speed: 1` = original pace, `60` = an hour a
// minute).
//
// Reading: large read() calls into one buffer that always has JsonEventDecoder::kPadding spare
// bytes after the data, so lines are decoded in place (no copy per line). A line longer than
// max_line_bytes is skipped while it streams past (never held in memory).
//
// Event time: see README.md ("Event time"). In short: a line needs a valid timestamp (or, with
// on_bad_time: last_seen, gets the highest time seen so far); an event more than max_future ahead
// of the highest time seen so far is dropped (future_events); the watermark after each batch is
// the highest emitted time minus max_out_of_order.
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/condition.hpp>
#include <cxflow/config.hpp>
#include <cxflow/event.hpp>
#include <cxflow/json_events.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxflow::replay {

enum class BadTime { reject, last_seen };

// `prefilter`: filter-interaction's criteria, applied while decoding (see README.md).
struct Prefilter {
  std::vector<std::string> event_types;
  std::vector<std::string> states;
  ConfigNode where;  // a condition string; a node so that parse errors point into the file
  bool active() const noexcept { return !event_types.empty() || !states.empty() || !where.is_null(); }
};

struct Config {
  std::string path;
  std::string speed = "max";
  std::int64_t batch_size = 1024;
  ByteSize max_line_bytes{1024 * 1024};
  ByteSize read_size{256 * 1024};
  std::string timestamp_field = "timestamp";
  BadTime on_bad_time = BadTime::reject;
  Duration max_future{3'600'000};
  Duration max_out_of_order{0};
  std::string dead_letter;
  Duration warn_interval{10'000};
  bool follow = false;
  Duration poll_interval{500};
  Prefilter prefilter;
};

// "max" -> 0; a positive factor ("1", "60", "0.5") -> the factor; anything else -> nullopt.
std::optional<double> parse_speed(std::string_view text);

// Malformed-line reasons, each with its own counter "malformed_<reason>".
enum class Malformed { invalid_json, not_an_object, missing_timestamp, bad_timestamp, invalid_number, too_long };
inline constexpr int kMalformedReasons = 6;
const char* malformed_name(Malformed m) noexcept;

class ReplaySource final : public Source {
 public:
  ReplaySource(const Config& config, Setup& setup);
  ~ReplaySource() override;
  ReplaySource(const ReplaySource&) = delete;
  ReplaySource& operator=(const ReplaySource&) = delete;

  void start(SourceContext& ctx) override;
  void stop() override;

 private:
  enum class Read { line, need_more, eof };

  void pump();
  // Next complete line (without '\n') into `line`, reading more as needed.
  Read next_line(std::string_view& line);
  bool refill();  // false at end of file
  // Decodes into scratch_ and applies the prefilter and the event-time policy; false for a
  // skipped line.
  bool accept(std::string_view line);
  void malformed(Malformed why, std::string_view line, const std::string& detail);
  void dead_letter(std::string_view bytes, bool end_of_line);
  void warn(const std::string& message);
  // Emits `batch` with the watermark (and end of stream); returns ctx.emit's answer.
  bool emit(Batch& batch, bool end_of_stream);
  void finish(Batch& batch);
  void close_files();

  Config cfg_;
  double speed_ = 0;  // 0 = max
  SourceContext* ctx_ = nullptr;
  std::unique_ptr<JsonEventDecoder> decoder_;
  std::unique_ptr<JsonEventDecoder> fallback_decoder_;  // on_bad_time: last_seen
  Event scratch_;                                       // decode target; keeps its field capacity across skipped lines
  Condition where_;                                     // prefilter.where (event_types/states run inside the decoder)

  // Input.
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;  // bytes usable for data (the padding comes after)
  std::size_t begin_ = 0;     // first unprocessed byte
  std::size_t end_ = 0;       // end of the data read
  bool eof_ = false;
  bool skipping_ = false;  // inside a line longer than max_line_bytes
  std::uint64_t line_no_ = 0;
  std::FILE* dead_ = nullptr;

  // Time.
  std::optional<Event> pending_;  // next event, not yet due (paced mode)
  bool have_max_ = false;
  std::int64_t max_seen_ = 0;  // highest accepted event time
  bool have_emitted_ = false;
  std::int64_t max_emitted_ = 0;  // highest emitted event time (drives the watermark)
  std::int64_t last_watermark_ = kNoWatermark;
  bool paced_started_ = false;
  std::int64_t pace_base_time_ms_ = 0;    // event time of the first paced event
  std::int64_t pace_base_steady_ms_ = 0;  // steady clock when it was emitted
  TimerId timer_ = 0;
  bool timer_armed_ = false;

  bool started_ = false;
  bool stopped_ = false;
  bool done_ = false;

  // Warnings.
  std::int64_t last_warn_steady_ms_ = 0;
  bool warned_ = false;
  std::uint64_t suppressed_ = 0;

  // Counters (registered at configure time so `describe` and the status line list them).
  Counter& lines_;
  Counter& malformed_total_;
  Counter* malformed_[kMalformedReasons];
  Counter& future_;
  Counter& late_;
  Counter& defaulted_;
  Counter& dead_lettered_;
  Counter& prefiltered_;
};

}  // namespace cxflow::replay
