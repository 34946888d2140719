// source-cxone, protocol rtd: the Real-Time Data API poller on the source's own io_context and
// thread. One coroutine polls every stream on its own schedule (one request at a time, so the
// token cache needs no locking), pages through each read, normalizes the rows (rtd_normalize.cpp)
// and hands batches to the strand through the same one-slot hand-off as the WebSocket side.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cxflow/time.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "auth.hpp"
#include "io_thread.hpp"
#include "rtd.hpp"

namespace cxflow::cxone {

namespace asio = boost::asio;

const char* retry_cause_name(RetryCause c) noexcept {
  switch (c) {
    case RetryCause::unauthorized:
      return "unauthorized";
    case RetryCause::rate_limited:
      return "rate_limited";
    case RetryCause::server_error:
      return "server_error";
    case RetryCause::network:
      return "network";
    case RetryCause::timeout:
      return "timeout";
  }
  return "unknown";
}

RtdCounters::RtdCounters(Setup& s)
    : polls(s.counter("rtd_polls")),
      full_reads(s.counter("rtd_full_reads")),
      pages(s.counter("rtd_pages")),
      rows(s.counter("rtd_rows")),
      not_modified(s.counter("rtd_not_modified")),
      duplicates(s.counter("rtd_duplicates")),
      unstable_reads(s.counter("rtd_unstable_reads")),
      polls_delayed(s.counter("rtd_polls_delayed")),
      bad_pages(s.counter("rtd_bad_pages")),
      ends_by_state(s.counter("rtd_ends_by_state")),
      ends_by_absence(s.counter("rtd_ends_by_absence")),
      token_refreshes(s.counter("token_refreshes")),
      malformed(s.counter("rtd_malformed_total")),
      tracked(s.counter("rtd_tracked_keys")) {
  for (int i = 0; i < kRetryCauses; ++i)
    retries_by.push_back(&s.declare_counter({"rtd_retries",
                                             CounterKind::Counter,
                                             "requests",
                                             {{"cause", retry_cause_name(static_cast<RetryCause>(i))}},
                                             CounterRole::Retries,
                                             "API and token requests retried, by cause"}));
  for (int i = 0; i < rtd::kRowIssues; ++i)
    malformed_by.push_back(&s.declare_counter({"rtd_malformed",
                                               CounterKind::Counter,
                                               "rows",
                                               {{"reason", rtd::row_issue_name(static_cast<rtd::RowIssue>(i))}},
                                               CounterRole::Malformed,
                                               "rows skipped as malformed, by reason"}));
}

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxRereads = 3;  // an unstable paged read is repeated at once at most this often

RetryCause cause_of(const AuthFailure& f) {
  if (f.status == 401) return RetryCause::unauthorized;
  if (f.status == 429) return RetryCause::rate_limited;
  if (f.status >= 500) return RetryCause::server_error;
  if (f.status == 0 && f.timed_out) return RetryCause::timeout;
  return f.status == 0 ? RetryCause::network : RetryCause::server_error;
}

class RtdNet final : public IoThreadNetwork {
 public:
  RtdNet(const Config& cfg, const FieldTable& fields, Counters& counters, RtdCounters& rc,
         std::shared_ptr<Handoff> handoff, NetHooks hooks)
      : IoThreadNetwork(cfg, std::move(handoff), std::move(hooks)),
        c_(counters),
        rc_(rc),
        auth_(cfg_, http_, c_.token_requests, rc_.token_refreshes),
        streams_(effective_streams(cfg_)),
        norm_(cfg_, streams_, fields),
        state_(streams_.size()),
        backoff_(cfg.backoff_initial.ms, cfg.backoff_max.ms, std::random_device{}()) {
    if (!cfg_.tls_verify)
      hooks_.log(LogLevel::Warn,
                 "tls_verify is false: server certificates are NOT verified; anyone on the network path can read the "
                 "access key and the data. Use ca_file for a private CA instead");
  }

  ~RtdNet() override { stop(); }

  void take_pending(std::vector<Event>& events, RawFrames&) override { events = std::exchange(pending_.events, {}); }

 private:
  struct StreamRun {
    std::int64_t next_due_ms = 0;              // steady
    std::optional<std::int64_t> last_poll_ms;  // server time of the last complete read (updatedSince)
    std::int64_t last_poll_steady_ms = 0;      // when that read's first page arrived
    std::int64_t last_full_steady_ms = 0;
    std::optional<std::int64_t> watermark_ms;  // server time before which this stream has nothing more
    int rereads = 0;
    bool force_full = false;
    bool reread_now = false;  // the last read was cut short or unstable: read again at once
  };

  asio::awaitable<void> run() override {
    try {
      std::string base;
      for (std::int64_t attempt = 1;; ++attempt) {
        AuthFailure f;
        const auto b = co_await auth_.api_base(f);
        if (stopping_) co_return;
        if (b) {
          base = *b;
          break;
        }
        if (!co_await wait_retry(f, attempt)) co_return;
      }
      root_ = base + cfg_.api_path_prefix + "/" + cfg_.api_version + "/";
      std::string names;
      for (const auto& s : streams_)
        names += (names.empty() ? "" : ", ") + s.path + " every " + format_duration(s.interval);
      hooks_.log(LogLevel::Info, "polling " + root_ + " (" + names + ")" +
                                     (auth_.tenant_id().empty() ? "" : " for tenant " + auth_.tenant_id()));
      const std::int64_t t0 = steady_now_ms();
      for (auto& st : state_) st.next_due_ms = t0;
      while (!stopping_) {
        std::size_t i = 0;
        for (std::size_t k = 1; k < state_.size(); ++k)
          if (state_[k].next_due_ms < state_[i].next_due_ms) i = k;
        const std::int64_t wait = state_[i].next_due_ms - steady_now_ms();
        if (wait > 0) {
          sleep_timer_.expires_after(std::chrono::milliseconds(wait));
          co_await sleep_timer_.async_wait(use_tuple);
          if (stopping_) break;
        }
        // Backpressure: a poll waits while the pipeline is full or the last poll's events are
        // still waiting for the hand-off slot, so at most one poll's events are held.
        bool delayed = false;
        for (;;) {
          if (stopping_) co_return;
          hand_off();
          if (!h_->paused.load() && pending_.events.empty()) break;
          if (!delayed) rc_.polls_delayed.add();
          delayed = true;
          gate_.expires_at(asio::steady_timer::time_point::max());
          co_await gate_.async_wait(use_tuple);
        }
        const std::int64_t started = steady_now_ms();
        if (!co_await poll(i)) co_return;
        StreamRun& st = state_[i];
        if (st.reread_now)
          st.next_due_ms = steady_now_ms();
        else
          st.next_due_ms = std::max(started, st.next_due_ms) + streams_[i].interval.ms;
      }
    } catch (const std::exception& e) {
      hooks_.fail(std::string("source-cxone poller: ") + e.what());
    }
  }

  // Counts, logs and sleeps before a retry; false when the source must stop (fatal, gave up,
  // stopping).
  asio::awaitable<bool> wait_retry(const AuthFailure& f, std::int64_t attempt) {
    if (f.fatal) {
      hooks_.fail(f.what);
      co_return false;
    }
    rc_.retries_by[static_cast<int>(cause_of(f))]->add();
    c_.http_retries.add();
    if (cfg_.max_reconnect_attempts > 0 && attempt > cfg_.max_reconnect_attempts) {
      hooks_.fail("giving up after " + std::to_string(cfg_.max_reconnect_attempts) +
                  " consecutive failed attempts (max_reconnect_attempts); last error: " + f.what);
      co_return false;
    }
    const std::int64_t delay = f.retry_after_ms ? *f.retry_after_ms : backoff_.delay_ms(attempt);
    hooks_.log(LogLevel::Warn,
               f.what + "; next attempt in " + format_delay(delay) + " (attempt " + std::to_string(attempt) +
                   (f.retry_after_ms ? ", as the server's Retry-After asks" : ", backoff with jitter") + ")");
    sleep_timer_.expires_after(std::chrono::milliseconds(delay));
    co_await sleep_timer_.async_wait(use_tuple);
    co_return !stopping_;
  }

  // GET with the token, one re-login on 401, retries on 429/5xx/network/timeouts. nullopt: stop.
  asio::awaitable<std::optional<HttpResult>> api_get(const Url& u) {
    bool relogged = false;
    for (std::int64_t attempt = 1;;) {
      AuthFailure f;
      const auto tok = co_await auth_.token(f);
      if (stopping_) co_return std::nullopt;
      if (!tok) {
        if (!co_await wait_retry(f, attempt++)) co_return std::nullopt;
        continue;
      }
      HttpRequest req;
      req.url = u;
      req.authorization = "Bearer " + *tok;
      HttpResult r = co_await http_.send(req);
      if (stopping_) co_return std::nullopt;
      if (r.status == 200 || r.status == 204 || r.status == 304) co_return r;
      const std::string what = "GET " + u.str();
      if (r.status == 401 && !relogged) {
        relogged = true;
        auth_.invalidate();
        rc_.retries_by[static_cast<int>(RetryCause::unauthorized)]->add();
        hooks_.log(LogLevel::Info, what + ": HTTP 401; logging in again");
        continue;
      }
      f = AuthFailure{};
      f.status = r.status;
      f.timed_out = r.timed_out;
      if (r.status == 0) {
        f.what = what + ": " + r.error;
      } else {
        f.what = what + ": HTTP " + std::to_string(r.status);
        if (const std::string m = server_message(r.body); !m.empty()) f.what += " (" + m + ")";
      }
      if (r.status == 401) auth_.invalidate();  // a second 401 in a row: back off, then log in again
      if (r.status == 429 || r.status == 503) f.retry_after_ms = parse_retry_after_ms(r.retry_after, wall_now_ms());
      if (r.status == 403) {
        f.fatal = true;
        f.what += ": the access key's user lacks the permission for this API (CXone role: Real-Time Data)";
      } else if (r.status >= 400 && r.status < 500 && r.status != 401 && r.status != 408 && r.status != 429) {
        f.fatal = true;
        if (r.status == 404) f.what += ": unknown path (check api_path_prefix, api_version and streams[].path)";
      }
      if (!co_await wait_retry(f, attempt++)) co_return std::nullopt;
    }
  }

  // One read of stream `i` (every page). False: stop.
  asio::awaitable<bool> poll(std::size_t i) {
    const RtdStream& s = streams_[i];
    StreamRun& st = state_[i];
    const std::int64_t now = steady_now_ms();
    const bool full = !st.last_poll_ms || st.force_full || now - st.last_full_steady_ms >= cfg_.full_resync.ms ||
                      (s.kind == StreamKind::contacts && norm_.contacts_need_full_reads());
    std::string url = root_ + s.path + "?top=" + std::to_string(cfg_.page_size);
    if (!full) url += "&updatedSince=" + form_encode(format_iso8601_ms(*st.last_poll_ms));
    rc_.polls.add();
    if (full) rc_.full_reads.add();
    norm_.begin_read(i, full);
    const std::size_t before = pending_.events.size();
    std::optional<std::int64_t> read_time, total0;
    std::int64_t read_steady = now;
    std::int64_t rows_read = 0;
    bool complete = true, unstable = false, not_modified = false;
    for (std::int64_t page = 0;; ++page) {
      std::string err;
      const auto u = parse_url(url, &err);
      if (!u) {
        rc_.bad_pages.add();
        hooks_.log(LogLevel::Warn,
                   "GET " + root_ + s.path + ": _links.next '" + url + "' is not a URL (" + err + "); read cut short");
        complete = false;
        break;
      }
      const auto r = co_await api_get(*u);
      if (!r) co_return false;
      if (r->status != 200) {
        rc_.not_modified.add();
        not_modified = true;
        break;
      }
      auto p = rtd::parse_page(r->body, s.array, err);
      if (!p) {
        rc_.bad_pages.add();
        hooks_.log(LogLevel::Warn, "GET " + u->str() + ": " + err + "; read cut short");
        complete = false;
        break;
      }
      rc_.pages.add();
      if (!read_time) {
        read_time = p->last_poll_ms ? *p->last_poll_ms : wall_now_ms();
        read_steady = steady_now_ms();
      }
      if (!total0)
        total0 = p->total_records;
      else if (p->total_records && *p->total_records != *total0)
        unstable = true;
      for (const auto& row : p->rows) norm_.row(i, row, *read_time, pending_.events);
      rows_read += static_cast<std::int64_t>(p->rows.size());
      rc_.rows.add(p->rows.size());
      if (p->next.empty() || p->rows.empty()) {
        if (p->total_records && rows_read < *p->total_records) complete = false;
        break;
      }
      if (p->total_records && rows_read >= *p->total_records) break;
      url = p->next;
    }
    if (unstable) {
      complete = false;
      rc_.unstable_reads.add();
    }
    const std::size_t suspects =
        norm_.end_read(i, complete && !not_modified, read_time.value_or(wall_now_ms()), pending_.events);
    if (not_modified && st.last_poll_ms) {
      // Nothing changed since last_poll_ms up to this request: the server's time has moved on by
      // at least what our clock has (a 304 carries no lastPollTime; updatedSince stays).
      st.watermark_ms =
          std::max(st.watermark_ms.value_or(*st.last_poll_ms), *st.last_poll_ms + (now - st.last_poll_steady_ms));
      st.force_full = false;
      st.reread_now = false;
      st.rereads = 0;
    } else if (complete && read_time) {
      st.last_poll_ms = read_time;
      st.last_poll_steady_ms = read_steady;
      st.watermark_ms = std::max(st.watermark_ms.value_or(*read_time), *read_time);
      if (full) st.last_full_steady_ms = now;
      st.force_full = suspects > 0;  // confirm absences with a second full read at once
      st.reread_now = suspects > 0;
      st.rereads = 0;
    } else if (++st.rereads <= kMaxRereads) {
      st.force_full = full;  // read again at once (a delta with the same updatedSince)
      st.reread_now = true;
    } else {
      st.rereads = 0;
      st.force_full = false;
      st.reread_now = false;
      hooks_.log(LogLevel::Warn, "GET " + root_ + s.path + ": the set kept changing under the paging in " +
                                     std::to_string(kMaxRereads + 1) + " reads in a row; trying again next interval");
    }
    const std::size_t produced = pending_.events.size() - before;
    c_.events.add(produced);
    if (produced > 0)
      c_.last_event_time_ms.set(static_cast<std::uint64_t>(std::max<std::int64_t>(0, pending_.events.back().time_ms)));
    // The watermark: every stream has read up to its watermark; nothing older will follow.
    std::optional<std::int64_t> wm;
    for (const auto& r : state_) {
      if (!r.watermark_ms) {
        wm.reset();
        break;
      }
      wm = wm ? std::min(*wm, *r.watermark_ms) : *r.watermark_ms;
    }
    if (wm && (pending_.watermark_ms == kNoWatermark || *wm > pending_.watermark_ms)) pending_.watermark_ms = *wm;
    sync_counters();
    hand_off();
    co_return true;
  }

  void sync_counters() {
    const auto& n = norm_.stats();
    rc_.duplicates.set(n.duplicates);
    rc_.ends_by_state.set(n.ends_by_state);
    rc_.ends_by_absence.set(n.ends_by_absence);
    std::uint64_t bad = 0;
    for (int k = 0; k < rtd::kRowIssues; ++k) {
      rc_.malformed_by[static_cast<std::size_t>(k)]->set(n.malformed[k]);
      bad += n.malformed[k];
    }
    rc_.malformed.set(bad);
    rc_.tracked.set(norm_.tracked());
  }

  // Moves what the polls produced (events and the watermark) into the hand-off slot when free.
  void hand_off() override {
    if (pending_.events.empty() && pending_.watermark_ms == kNoWatermark) return;
    {
      std::lock_guard<std::mutex> lock(h_->m);
      if (h_->slot_full || h_->stopped) return;
      h_->slot = std::move(pending_);
      h_->slot_full = true;
    }
    pending_ = Batch{};
    hooks_.deliver();
  }

  Counters& c_;
  RtdCounters& rc_;
  Auth auth_;
  std::vector<RtdStream> streams_;
  rtd::Normalizer norm_;
  std::vector<StreamRun> state_;
  Backoff backoff_;
  std::string root_;
  Batch pending_;  // io thread: produced, not yet handed off (the strand reads it after join)
};

}  // namespace

std::unique_ptr<Network> make_rtd_network(const Config& cfg, const FieldTable& fields, Counters& counters,
                                          RtdCounters& rtd_counters, std::shared_ptr<Handoff> handoff, NetHooks hooks) {
  return std::make_unique<RtdNet>(cfg, fields, counters, rtd_counters, std::move(handoff), std::move(hooks));
}

}  // namespace cxflow::cxone
