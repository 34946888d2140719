#include "dispatch.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <string>

namespace cxflow::host {

ComponentDriver::ComponentDriver(InstanceBase& instance, std::size_t inputs, std::size_t batch_events,
                                 DispatchHost& host, DispatchCounters counters)
    : instance_(instance),
      kind_(instance.kind()),
      reads_only_(kind_ == Kind::Transform && static_cast<TransformInstance&>(instance).reads_only()),
      batch_events_(std::max<std::size_t>(1, batch_events)),
      host_(host),
      counters_(counters),
      input_wm_(inputs, kNoWatermark),
      input_eos_(inputs, false) {}

void ComponentDriver::start(Context& ctx) {
  Status s;
  {
    InCall in(*this, "start");
    if (kind_ == Kind::Sink)
      s = sink().start(ctx);
    else if (kind_ == Kind::Transform)
      s = transform().start(ctx);
  }
  started_ = s.ok;
  check(s, "start");
}

void ComponentDriver::start_source(SourceContext& ctx) {
  Status s;
  {
    InCall in(*this, "start");
    s = source().start(ctx);
  }
  started_ = s.ok;
  check(s, "start");
}

void ComponentDriver::receive(std::size_t slot, Batch& in, bool exclusive) {
  const std::int64_t wm = in.watermark_ms;
  const bool eos = in.end_of_stream;
  if (!in.events.empty()) {
    counters_.events_in.add(in.events.size());
    if (failed_ || finished_) {
      counters_.dropped.add(in.events.size());
    } else if (kind_ == Kind::Transform) {
      if (exclusive) {
        in.watermark_ms = kNoWatermark;
        in.end_of_stream = false;
        Status s;
        {
          InCall call(*this, "process");
          s = transform().process(in, output_);
        }
        check(s, "process");
      } else if (reads_only_) {
        Status s;  // another consumer shares the batch, and this one only reads it
        {
          InCall call(*this, "process");
          s = transform().process_shared(in, output_);
        }
        check(s, "process");
      } else {
        counters_.copied.add(in.events.size());
        Batch own;  // another consumer shares the batch: this one gets its own copy
        own.events = in.events;
        Status s;
        {
          InCall call(*this, "process");
          s = transform().process(own, output_);
        }
        check(s, "process");
      }
    } else if (kind_ == Kind::Sink) {
      Status s;
      {
        InCall call(*this, "write");
        s = sink().write(in);
      }
      check(s, "write");
    }
  }
  if (wm != kNoWatermark && slot < input_wm_.size()) {
    input_wm_[slot] = std::max(input_wm_[slot], wm);
    advance_watermark();
  }
  if (eos && slot < input_eos_.size() && !input_eos_[slot]) {
    input_eos_[slot] = true;
    if (std::all_of(input_eos_.begin(), input_eos_.end(), [](bool e) { return e; }))
      finish();
    else
      advance_watermark();  // an ended input no longer holds the minimum back
  }
  flush_output();
}

void ComponentDriver::advance_watermark() {
  if (failed_ || finished_) return;
  std::int64_t m = std::numeric_limits<std::int64_t>::max();
  bool any = false;
  for (std::size_t i = 0; i < input_wm_.size(); ++i) {
    if (input_eos_[i]) continue;
    any = true;
    m = std::min(m, input_wm_[i]);
  }
  if (!any || m == kNoWatermark || m <= current_wm_) return;
  current_wm_ = m;
  Status s;
  {
    InCall call(*this, "on_watermark");
    if (kind_ == Kind::Transform)
      s = transform().on_watermark(m, output_);
    else if (kind_ == Kind::Sink)
      s = sink().on_watermark(m);
  }
  check(s, "on_watermark");
  if (kind_ == Kind::Transform && !failed_) out_.watermark_ms = m;
}

// Every input ended: flush, forward end-of-stream, and for a sink, commit and finish.
void ComponentDriver::finish() {
  if (finished_) return;
  if (!failed_) {
    Status s;
    {
      InCall call(*this, "on_end_of_stream");
      if (kind_ == Kind::Transform)
        s = transform().on_end_of_stream(output_);
      else if (kind_ == Kind::Sink)
        s = sink().on_end_of_stream();
    }
    check(s, "on_end_of_stream");
    if (failed_) return;  // fail_here() already ended it
  }
  finished_ = true;
  if (kind_ == Kind::Transform) {
    out_.end_of_stream = true;
    flush_output();
  } else if (kind_ == Kind::Sink) {
    host_.sink_finished();
  }
}

void ComponentDriver::flush_output() {
  if (kind_ != Kind::Transform || out_.empty()) return;
  send(std::exchange(out_, Batch{}));
}

bool ComponentDriver::send(Batch&& b) {
  counters_.events_out.add(b.events.size());
  return host_.deliver(std::move(b));
}

void ComponentDriver::check(const Status& s, const char* call) {
  if (s.ok) return;
  counters_.errors.add();
  host_.failed(call, s.message);
  fail_here();
}

void ComponentDriver::fail(std::string_view message) {
  counters_.errors.add();
  host_.failed(nullptr, message);
  fail_here();
}

// Right after a failure: stop consuming; downstream gets end-of-stream so it commits what it
// already accepted.
void ComponentDriver::fail_here() {
  if (failed_) return;
  failed_ = true;
  if (finished_) return;
  if (kind_ == Kind::Transform) {
    finished_ = true;
    out_.events.clear();
    out_.watermark_ms = kNoWatermark;
    out_.end_of_stream = true;
    flush_output();
  } else if (kind_ == Kind::Sink) {
    finished_ = true;
    host_.sink_finished();
  } else {
    source_end_of_stream();
  }
}

// ---- transform output ----
void ComponentDriver::Output::emit(Event&& e) {
  d.out_.events.push_back(std::move(e));
  if (d.out_.events.size() >= d.batch_events_) spill();
}

void ComponentDriver::Output::emit(Batch&& b) {
  if (d.out_.events.empty())
    d.out_.events = std::move(b.events);
  else
    d.out_.events.insert(d.out_.events.end(), std::make_move_iterator(b.events.begin()),
                         std::make_move_iterator(b.events.end()));
  if (d.out_.events.size() >= d.batch_events_) spill();
}

// What is emitted in one call goes on in batches of at most batch_events; a remainder smaller
// than that waits for the end of the call (or the next spill).
void ComponentDriver::Output::spill() {
  auto& events = d.out_.events;
  const std::size_t n = d.batch_events_;
  if (events.size() == n) {
    Batch full;
    full.events = std::move(events);
    events.clear();
    d.send(std::move(full));
    return;
  }
  std::size_t at = 0;
  for (; events.size() - at >= n; at += n) {
    Batch piece;
    piece.events.assign(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(at)),
                        std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(at + n)));
    d.send(std::move(piece));
  }
  events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(at));
}

// ---- sources ----
bool ComponentDriver::source_emit(Batch&& b) {
  if (finished_) {
    counters_.dropped.add(b.events.size());
    return true;
  }
  const bool eos = b.end_of_stream;
  b.end_of_stream = false;
  const bool room = send(std::move(b));
  if (eos) source_end_of_stream();
  return room;
}

void ComponentDriver::source_end_of_stream() {
  if (finished_) return;
  finished_ = true;
  Batch b;
  b.end_of_stream = true;
  send(std::move(b));
  host_.source_ended();
}

void ComponentDriver::stop_source() {
  if (finished_) return;
  if (started_ && !failed_) {
    Status s;
    {
      InCall call(*this, "stop");
      s = source().stop();
    }
    check(s, "stop");
  }
  source_end_of_stream();
}

Status ComponentDriver::stop_instance() {
  if (kind_ == Kind::Source || !started_) return {};
  InCall call(*this, "stop");
  return instance_.stop();
}

}  // namespace cxflow::host
