// source-cxone: the network side's own io_context and thread, shared by the WebSocket client
// (net.cpp) and the Real-Time Data API poller (rtd.cpp). Both run one coroutine on that thread,
// sleep between retries on one timer, park their reader at one gate while the pipeline is full,
// and make their HTTP(S) requests through one client; start(), stop() and wake() are the same.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "http.hpp"
#include "internal.hpp"

namespace cxflow::cxone {

class IoThreadNetwork : public Network {
 public:
  // Runs run() on a new thread.
  void start() final;
  // Sets stopping_, cancels the sleep, the gate and the request in flight, calls abort_current()
  // on the io thread, joins the thread, then after_join(). Derived destructors must call it.
  void stop() final;
  // On the io thread: opens the gate, and hands the batch being filled off unless paused.
  void wake() final;

 protected:
  IoThreadNetwork(const Config& cfg, std::shared_ptr<Handoff> handoff, NetHooks hooks);
  ~IoThreadNetwork() override = default;

  virtual boost::asio::awaitable<void> run() = 0;
  // io thread: moves the batch being filled into the hand-off slot when it is free.
  virtual void hand_off() = 0;
  // io thread, from stop(): aborts what run() waits on besides the sleep, the gate and HTTP.
  virtual void abort_current() {}
  // After the thread is joined (stop()).
  virtual void after_join() {}

  Config cfg_;
  std::shared_ptr<Handoff> h_;
  NetHooks hooks_;
  boost::asio::io_context io_;
  HttpClient http_;                        // every HTTP(S) request; its TLS context serves the WebSocket too
  boost::asio::steady_timer sleep_timer_;  // between attempts
  boost::asio::steady_timer gate_;         // the reader waits here while the pipeline is full
  std::atomic<bool> stopping_{false};

 private:
  std::thread thread_;
};

}  // namespace cxflow::cxone
