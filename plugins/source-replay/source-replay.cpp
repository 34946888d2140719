#include "source-replay.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <cxflow/normalized.hpp>

namespace cxflow::replay {

std::optional<double> parse_speed(std::string_view text) {
  if (text == "max") return 0.0;
  if (text.empty() || text.size() > 32) return std::nullopt;
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

const char* malformed_name(Malformed m) noexcept {
  switch (m) {
    case Malformed::invalid_json:
      return "invalid_json";
    case Malformed::not_an_object:
      return "not_an_object";
    case Malformed::missing_timestamp:
      return "missing_timestamp";
    case Malformed::bad_timestamp:
      return "bad_timestamp";
    case Malformed::invalid_number:
      return "invalid_number";
    case Malformed::too_long:
      return "too_long";
  }
  return "unknown";
}

namespace {

Malformed from_decode(JsonDecodeResult r) {
  switch (r) {
    case JsonDecodeResult::not_an_object:
      return Malformed::not_an_object;
    case JsonDecodeResult::missing_timestamp:
      return Malformed::missing_timestamp;
    case JsonDecodeResult::bad_timestamp:
      return Malformed::bad_timestamp;
    case JsonDecodeResult::invalid_number:
      return Malformed::invalid_number;
    default:
      return Malformed::invalid_json;
  }
}

bool blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

// A printable excerpt of a bad line for a log message.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 80;
  std::string s;
  for (char c : line.substr(0, kMax)) s += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (line.size() > kMax) s += "...";
  return s;
}

}  // namespace

ReplaySource::ReplaySource(const Config& config, Setup& setup)
    : cfg_(config),
      lines_(setup.declare_counter(
          {"lines_read", CounterKind::Counter, "lines", {}, CounterRole::None, "lines read from the file"})),
      malformed_total_(
          setup.declare_counter({"malformed_lines",
                                 CounterKind::Counter,
                                 "lines",
                                 {},
                                 CounterRole::None,
                                 "lines skipped as malformed, all reasons (the sum of malformed{reason})"})),
      future_(setup.declare_counter({"future_events",
                                     CounterKind::Counter,
                                     "events",
                                     {},
                                     CounterRole::Dropped,
                                     "events more than max_future ahead of the highest time seen, dropped"})),
      late_(setup.declare_counter({"late_events",
                                   CounterKind::Counter,
                                   "events",
                                   {},
                                   CounterRole::None,
                                   "events older than the watermark (still emitted)"})),
      defaulted_(setup.declare_counter({"time_defaulted",
                                        CounterKind::Counter,
                                        "events",
                                        {},
                                        CounterRole::None,
                                        "events given the highest time seen (on_bad_time: last_seen)"})),
      dead_lettered_(setup.declare_counter(
          {"dead_lettered", CounterKind::Counter, "lines", {}, CounterRole::None, "lines written to dead_letter"})),
      prefiltered_(
          setup.declare_counter({"prefiltered",
                                 CounterKind::Counter,
                                 "lines",
                                 {},
                                 CounterRole::Dropped,
                                 "lines dropped by the prefilter or pushed-down conditions before full decoding"})) {
  const auto speed = parse_speed(cfg_.speed);
  if (!speed)
    throw ConfigException(
        {}, "'speed': expected 'max' or a positive factor (1 = original pace), found '" + cfg_.speed + "'");
  speed_ = *speed;
  for (int i = 0; i < kMalformedReasons; ++i)
    malformed_[i] = &setup.declare_counter({"malformed",
                                            CounterKind::Counter,
                                            "lines",
                                            {{"reason", malformed_name(static_cast<Malformed>(i))}},
                                            CounterRole::Malformed,
                                            "lines skipped as malformed, by reason"});
  // A replayed file holds normalized events, and whatever other fields it was recorded with.
  normalized::declare_fields(setup);
  setup.produces(cfg_.timestamp_field);
  setup.produces_open();
  // The prefilter's fields are reads of this source's own output (and so decoded).
  const Prefilter& pf = cfg_.prefilter;
  if (!pf.event_types.empty()) setup.reads("eventType", FieldType::String);
  if (!pf.states.empty()) setup.reads("metrics.state", FieldType::String);
  if (!pf.where.is_null()) {
    if (!pf.where.is_scalar())
      throw ConfigException(pf.where.pos,
                            "'prefilter.where': expected a condition string, e.g. 'metrics.waitTime <= 20'");
    try {
      where_ = Condition::parse(pf.where.scalar, setup, pf.where.pos);
    } catch (const ConfigException& e) {
      throw ConfigException(e.pos(), "'prefilter.where': " + e.message());
    }
  }
}

ReplaySource::~ReplaySource() { close_files(); }

void ReplaySource::close_files() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (dead_ != nullptr) std::fclose(dead_);
  dead_ = nullptr;
}

void ReplaySource::start(SourceContext& ctx) {
  ctx_ = &ctx;
  fd_ = ::open(cfg_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error("cannot open replay file '" + cfg_.path + "' (key 'path'): " + std::strerror(errno));
  if (!cfg_.dead_letter.empty()) {
    dead_ = std::fopen(cfg_.dead_letter.c_str(), "ae");
    if (dead_ == nullptr)
      throw std::runtime_error("cannot open dead-letter file '" + cfg_.dead_letter +
                               "' (key 'dead_letter'): " + std::strerror(errno));
  }
  JsonDecodeOptions opts;
  opts.timestamp_field = cfg_.timestamp_field;
  opts.only = ctx.projection();  // only what this source's downstream reads
  const auto make_decoder = [&] {
    auto d = std::make_unique<JsonEventDecoder>(ctx.fields(), opts);
    if (!cfg_.prefilter.event_types.empty()) d->require_one_of("eventType", cfg_.prefilter.event_types);
    if (!cfg_.prefilter.states.empty()) d->require_one_of("metrics.state", cfg_.prefilter.states);
    for (const KeepCondition& k : ctx.keep_conditions()) d->require_one_of(k.path, k.values);
    return d;
  };
  decoder_ = make_decoder();
  if (cfg_.on_bad_time == BadTime::last_seen) {
    opts.time_policy = JsonDecodeOptions::TimePolicy::fallback;
    fallback_decoder_ = make_decoder();
  }
  // Room for one maximal partial line plus one read, then the decoder's padding.
  capacity_ = static_cast<std::size_t>(cfg_.max_line_bytes.bytes + cfg_.read_size.bytes) + 1;
  buf_ = std::make_unique<char[]>(capacity_ + JsonEventDecoder::kPadding);
  std::memset(buf_.get() + capacity_, 0, JsonEventDecoder::kPadding);
  started_ = true;
  ctx.post([this] { pump(); });
}

void ReplaySource::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (timer_armed_ && ctx_ != nullptr) ctx_->cancel_timer(timer_);
  timer_armed_ = false;
  // Emit what is already parsed (the event waiting for its time in paced mode).
  if (started_ && !done_ && pending_) {
    Batch b;
    b.events.push_back(std::move(*pending_));
    pending_.reset();
    emit(b, false);
  }
  if (dead_ != nullptr) std::fflush(dead_);
  close_files();
}

bool ReplaySource::refill() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const std::size_t room = std::min<std::size_t>(capacity_ - end_, cfg_.read_size.bytes);
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.get() + end_, room);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      // Keep the padding after the data readable and deterministic.
      std::memset(buf_.get() + end_, 0, JsonEventDecoder::kPadding);
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    throw std::runtime_error("reading replay file '" + cfg_.path + "': " + std::strerror(errno));
  }
}

ReplaySource::Read ReplaySource::next_line(std::string_view& line) {
  const std::size_t max_line = static_cast<std::size_t>(cfg_.max_line_bytes.bytes);
  for (;;) {
    char* data = buf_.get();
    if (const void* nl = std::memchr(data + begin_, '\n', end_ - begin_)) {
      const std::size_t pos = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
      std::string_view l(data + begin_, pos - begin_);
      begin_ = pos + 1;
      if (skipping_) {  // the tail of a too-long line
        skipping_ = false;
        dead_letter(l, true);
        continue;
      }
      ++line_no_;
      lines_.add();
      if (l.size() > max_line) {
        malformed(Malformed::too_long, l,
                  std::to_string(l.size()) + " bytes > max_line_bytes " + std::to_string(max_line));
        dead_letter(l, true);
        continue;
      }
      line = l;
      return Read::line;
    }
    // No complete line in the buffer.
    if (skipping_) {
      dead_letter(std::string_view(data + begin_, end_ - begin_), false);
      begin_ = end_;
    } else if (end_ - begin_ > max_line) {
      ++line_no_;
      lines_.add();
      malformed(Malformed::too_long, std::string_view(data + begin_, end_ - begin_),
                "more than max_line_bytes " + std::to_string(max_line) + " bytes");
      dead_letter(std::string_view(data + begin_, end_ - begin_), false);
      begin_ = end_;
      skipping_ = true;
    }
    if (!eof_ && refill()) continue;
    if (cfg_.follow) return Read::need_more;  // a partial last line waits for the rest
    eof_ = true;
    if (begin_ < end_) {  // last line without '\n'
      std::string_view l(data + begin_, end_ - begin_);
      begin_ = end_;
      if (skipping_) {
        skipping_ = false;
        dead_letter(l, true);
        return Read::eof;
      }
      ++line_no_;
      lines_.add();
      line = l;
      return Read::line;
    }
    if (skipping_) {
      skipping_ = false;
      dead_letter({}, true);
    }
    return Read::eof;
  }
}

bool ReplaySource::accept(std::string_view line) {
  if (blank(line)) return false;
  Event& e = scratch_;
  JsonDecodeResult r = decoder_->decode_padded(line, e);
  if ((r == JsonDecodeResult::missing_timestamp || r == JsonDecodeResult::bad_timestamp) && fallback_decoder_ &&
      have_max_) {
    r = fallback_decoder_->decode_padded(line, e, max_seen_);
    if (r == JsonDecodeResult::ok) defaulted_.add();
  }
  if (r == JsonDecodeResult::ok && !where_.empty() && !where_.matches(e)) {
    e.fields.clear();
    r = JsonDecodeResult::filtered;
  }
  if (r == JsonDecodeResult::filtered) {
    prefiltered_.add();
    return false;
  }
  if (r != JsonDecodeResult::ok) {
    malformed(from_decode(r), line, decoder_->last_error_detail());
    dead_letter(line, true);
    return false;
  }
  if (have_max_ && e.time_ms > max_seen_ + cfg_.max_future.ms) {
    future_.add();
    warn(cfg_.path + ":" + std::to_string(line_no_) + ": event time " + std::to_string(e.time_ms) +
         " ms is more than max_future (" + format_duration(cfg_.max_future) +
         ") ahead of the highest time seen so far; dropped");
    dead_letter(line, true);
    return false;
  }
  if (!have_max_ || e.time_ms > max_seen_) max_seen_ = e.time_ms;
  have_max_ = true;
  return true;
}

void ReplaySource::malformed(Malformed why, std::string_view line, const std::string& detail) {
  malformed_total_.add();
  malformed_[static_cast<int>(why)]->add();
  std::string msg = cfg_.path + ":" + std::to_string(line_no_) + ": malformed line (" + malformed_name(why);
  if (!detail.empty()) msg += ": " + detail;
  msg += ")";
  if (!line.empty()) msg += ": " + excerpt(line);
  warn(msg + "; skipped");
}

void ReplaySource::dead_letter(std::string_view bytes, bool end_of_line) {
  if (dead_ == nullptr) return;
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), dead_);
  if (end_of_line) {
    std::fputc('\n', dead_);
    dead_lettered_.add();
  }
}

void ReplaySource::warn(const std::string& message) {
  const std::int64_t now = ctx_->clock().steady_ms();
  if (warned_ && now - last_warn_steady_ms_ < cfg_.warn_interval.ms) {
    ++suppressed_;
    return;
  }
  std::string m = message;
  if (suppressed_ > 0) m += " (" + std::to_string(suppressed_) + " similar warnings suppressed)";
  ctx_->log(LogLevel::Warn, m);
  warned_ = true;
  last_warn_steady_ms_ = now;
  suppressed_ = 0;
}

bool ReplaySource::emit(Batch& batch, bool end_of_stream) {
  for (const Event& e : batch.events) {
    if (last_watermark_ != kNoWatermark && e.time_ms < last_watermark_) late_.add();
    if (!have_emitted_ || e.time_ms > max_emitted_) max_emitted_ = e.time_ms;
    have_emitted_ = true;
  }
  if (have_emitted_) {
    const std::int64_t wm = max_emitted_ - cfg_.max_out_of_order.ms;
    if (last_watermark_ == kNoWatermark || wm > last_watermark_) {
      batch.watermark_ms = wm;
      last_watermark_ = wm;
    }
  }
  batch.end_of_stream = end_of_stream;
  if (batch.empty()) return true;
  return ctx_->emit(std::move(batch));
}

void ReplaySource::finish(Batch& batch) {
  done_ = true;
  emit(batch, true);
  std::string summary = "replayed " + cfg_.path + ": " + std::to_string(line_no_) + " lines";
  if (malformed_total_.value() > 0) {
    summary += ", " + std::to_string(malformed_total_.value()) + " malformed (";
    bool first = true;
    for (int i = 0; i < kMalformedReasons; ++i)
      if (const auto n = malformed_[i]->value()) {
        summary += std::string(first ? "" : ", ") + malformed_name(static_cast<Malformed>(i)) + " " + std::to_string(n);
        first = false;
      }
    summary += ")";
  }
  if (future_.value() > 0) summary += ", " + std::to_string(future_.value()) + " future events dropped";
  if (suppressed_ > 0) summary += ", " + std::to_string(suppressed_) + " warnings suppressed";
  ctx_->log(LogLevel::Info, summary);
  close_files();
}

void ReplaySource::pump() {
  timer_armed_ = false;
  if (stopped_ || done_) return;
  const std::size_t batch_size = static_cast<std::size_t>(cfg_.batch_size);
  Batch batch;
  batch.events.reserve(batch_size);
  // Bounds the work of one call when most lines are malformed, so the strand stays responsive.
  std::size_t line_budget = batch_size * 4;
  while (batch.events.size() < batch_size && line_budget > 0) {
    if (!pending_) {
      std::string_view line;
      const Read r = next_line(line);
      if (r == Read::eof) {
        finish(batch);
        return;
      }
      if (r == Read::need_more) {  // follow: poll for more
        if (!emit(batch, false)) {
          ctx_->when_ready([this] { pump(); });
          return;
        }
        timer_ = ctx_->start_timer(cfg_.poll_interval.ms, [this] { pump(); });
        timer_armed_ = true;
        return;
      }
      --line_budget;
      if (!accept(line)) continue;
      if (speed_ == 0) {  // not paced: straight into the batch
        batch.events.push_back(std::move(scratch_));
        continue;
      }
      pending_.emplace(std::move(scratch_));
    }
    if (speed_ > 0) {
      const std::int64_t now = ctx_->clock().steady_ms();
      if (!paced_started_) {
        paced_started_ = true;
        pace_base_time_ms_ = pending_->time_ms;
        pace_base_steady_ms_ = now;
      }
      const double offset = static_cast<double>(pending_->time_ms - pace_base_time_ms_) / speed_;
      const std::int64_t due = pace_base_steady_ms_ + static_cast<std::int64_t>(std::ceil(offset));
      if (due > now) {
        if (!emit(batch, false)) {  // full downstream: wait for room first, then for the time
          ctx_->when_ready([this] { pump(); });
          return;
        }
        timer_ = ctx_->start_timer(due - now, [this] { pump(); });
        timer_armed_ = true;
        return;
      }
    }
    batch.events.push_back(std::move(*pending_));
    pending_.reset();
  }
  if (emit(batch, false))
    ctx_->post([this] { pump(); });
  else
    ctx_->when_ready([this] { pump(); });
}

}  // namespace cxflow::replay
