// source-cxone, strand side: start/stop, the hand-off from the network thread, backpressure,
// watermarks and the idle watermark.
#include "source-cxone.hpp"

#include <algorithm>

#include <cxflow/normalized.hpp>

#include "internal.hpp"

namespace cxflow::cxone {

CxoneSource::CxoneSource(const Config& config, Setup& setup)
    : cfg_(config), counters_(std::make_shared<Counters>(setup)), handoff_(std::make_shared<Handoff>()) {
  // Both protocols emit the normalized schema; the event time is also kept under timestamp_field.
  // The WebSocket stream's JSON, and RTD's raw streams, may carry further fields: they pass as sent.
  normalized::declare_fields(setup);
  setup.produces(cfg_.timestamp_field);
  setup.produces_open();
  if (cfg_.protocol == Protocol::rtd) {
    rtd_counters_ = std::make_shared<RtdCounters>(setup);
    return;
  }
  // Required fields must survive the projection even if no other component reads them.
  for (const auto& f : cfg_.required_fields) setup.reads(f);
}

CxoneSource::~CxoneSource() {
  if (net_) net_->stop();
}

void CxoneSource::start(SourceContext& ctx) {
  ctx_ = &ctx;
  SourceContext* c = &ctx;
  std::shared_ptr<Handoff> h = handoff_;
  NetHooks hooks;
  hooks.log = [c](LogLevel level, std::string m) { c->post([c, level, m = std::move(m)] { c->log(level, m); }); };
  hooks.fail = [c](std::string m) { c->post([c, m = std::move(m)] { c->fail(m); }); };
  hooks.deliver = [this, c, h] {
    c->post([this, h] {
      {
        std::lock_guard<std::mutex> lock(h->m);
        if (h->stopped) return;
      }
      deliver();
    });
  };
  hooks.ended = [this, c, h] {
    c->post([this, h] {
      {
        std::lock_guard<std::mutex> lock(h->m);
        if (h->stopped) return;
      }
      // stop() joins the (finished) network thread and emits everything it decoded; then the
      // stream ends like a finite source's.
      stop();
      ctx_->end_of_stream();
    });
  };
  if (cfg_.protocol == Protocol::rtd) {
    net_ = make_rtd_network(cfg_, ctx.fields(), *counters_, *rtd_counters_, handoff_, std::move(hooks));
  } else {
    frames_ = std::make_unique<FrameDecoder>(
        cfg_, ctx.fields(), *counters_, [c](LogLevel level, std::string m) { c->log(level, m); }, steady_now_ms,
        wall_now_ms, ctx.keep_conditions(), ctx.projection());
    net_ = make_network(cfg_, *counters_, handoff_, std::move(hooks));
  }
  last_event_steady_ms_ = ctx.clock().steady_ms();
  // The idle timer starts with the first events: before any, the stream has no time to advance.
  net_->start();
}

void CxoneSource::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (idle_armed_ && ctx_ != nullptr) ctx_->cancel_timer(idle_timer_);
  idle_armed_ = false;
  if (!net_) return;
  net_->stop();  // closes the connection and joins the network thread
  {
    std::lock_guard<std::mutex> lock(handoff_->m);
    handoff_->stopped = true;
  }
  // Everything received is emitted, oldest first, whatever the backpressure.
  Batch slot;
  RawFrames raw;
  take_slot(slot, raw);
  decode(raw, slot);
  if (!slot.events.empty()) emit(slot);
  Batch rest;
  net_->take_pending(rest.events, raw);
  decode(raw, rest);
  if (!rest.events.empty()) emit(rest);
  if (frames_) frames_->flush();
}

bool CxoneSource::take_slot(Batch& b, RawFrames& raw) {
  std::lock_guard<std::mutex> lock(handoff_->m);
  if (!handoff_->slot_full) return false;
  b = std::exchange(handoff_->slot, Batch{});
  raw = std::exchange(handoff_->raw, RawFrames{});
  handoff_->slot_full = false;
  return true;
}

void CxoneSource::decode(RawFrames& raw, Batch& b) {
  if (frames_ && !raw.empty()) frames_->decode_all(raw, b.events);
}

void CxoneSource::deliver() {
  if (stopped_ || handoff_->paused.load()) return;  // on_ready() delivers once there is room
  Batch b;
  RawFrames raw;
  if (!take_slot(b, raw)) return;
  net_->wake();  // the network thread fills the next batch while this one is decoded
  decode(raw, b);
  emit(b);
}

void CxoneSource::on_ready() {
  waiting_ready_ = false;
  if (stopped_) return;
  handoff_->paused = false;
  deliver();
  if (!handoff_->paused.load()) net_->wake();
}

void CxoneSource::emit(Batch& b) {
  for (const Event& e : b.events) max_time_ms_ = std::max(max_time_ms_, e.time_ms);
  if (cfg_.protocol == Protocol::rtd) {
    // The poller's watermark (the server time every stream has read up to) minus the margin.
    const std::int64_t wm = b.watermark_ms == kNoWatermark ? kNoWatermark : b.watermark_ms - cfg_.max_out_of_order.ms;
    b.watermark_ms = kNoWatermark;
    if (wm != kNoWatermark && (last_watermark_ == kNoWatermark || wm > last_watermark_)) {
      b.watermark_ms = wm;
      last_watermark_ = wm;
    }
  } else if (!b.events.empty()) {
    last_event_steady_ms_ = ctx_->clock().steady_ms();
    if (!idle_armed_ && !idle_started_ && cfg_.idle_timeout.ms > 0 && !stopped_) {
      idle_started_ = true;
      idle_timer_ = ctx_->start_timer(cfg_.idle_timeout.ms, [this] { idle_check(); });
      idle_armed_ = true;
    }
  }
  if (cfg_.protocol != Protocol::rtd && max_time_ms_ != kNoWatermark) {
    const std::int64_t wm = max_time_ms_ - cfg_.max_out_of_order.ms;
    if (last_watermark_ == kNoWatermark || wm > last_watermark_) {
      b.watermark_ms = wm;
      last_watermark_ = wm;
    }
  }
  if (b.empty()) return;
  if (!ctx_->emit(std::move(b)) && !stopped_) {
    handoff_->paused = true;
    counters_->paused.add();
    if (!waiting_ready_) {
      waiting_ready_ = true;
      std::shared_ptr<Handoff> h = handoff_;
      ctx_->when_ready([this, h] {
        {
          std::lock_guard<std::mutex> lock(h->m);
          if (h->stopped) return;
        }
        on_ready();
      });
    }
  }
}

// A live stream with no input (and not held back by backpressure) for idle_timeout advances
// the watermark to the wall clock minus max_out_of_order, so windows close in quiet periods.
void CxoneSource::idle_check() {
  idle_armed_ = false;
  if (stopped_) return;
  const std::int64_t now = ctx_->clock().steady_ms();
  const std::int64_t quiet = now - last_event_steady_ms_;
  if (quiet >= cfg_.idle_timeout.ms && !handoff_->paused.load()) {
    const std::int64_t wm = ctx_->clock().wall_ms() - cfg_.max_out_of_order.ms;
    if (last_watermark_ == kNoWatermark || wm > last_watermark_) {
      Batch b;
      b.watermark_ms = wm;
      last_watermark_ = wm;
      if (!ctx_->emit(std::move(b))) {
        handoff_->paused = true;
        counters_->paused.add();
        if (!waiting_ready_) {
          waiting_ready_ = true;
          std::shared_ptr<Handoff> h = handoff_;
          ctx_->when_ready([this, h] {
            {
              std::lock_guard<std::mutex> lock(h->m);
              if (h->stopped) return;
            }
            on_ready();
          });
        }
      }
    }
  }
  const std::int64_t next = quiet >= cfg_.idle_timeout.ms ? cfg_.idle_timeout.ms : cfg_.idle_timeout.ms - quiet;
  idle_timer_ = ctx_->start_timer(next, [this] { idle_check(); });
  idle_armed_ = true;
}

}  // namespace cxflow::cxone
