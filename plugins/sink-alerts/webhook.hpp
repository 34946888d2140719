// Webhook delivery for sink-alerts: HTTP/HTTPS POSTs on a thread of our own (its own io_context),
// fed by a bounded queue, so a dead or slow receiver never blocks the pipeline. Notifications to
// one webhook go out one at a time, in order; each is retried with doubling backoff.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <cxflow/component.hpp>

#include "sink-alerts.hpp"

namespace cxflow::alerts {

struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query
};
// Throws std::invalid_argument with a message naming what is wrong.
ParsedUrl parse_url(const std::string& url);

struct WebhookCounters {
  Counter& sent;
  Counter& retries;
  Counter& failed;
  Counter& dropped;
};

class Webhook {
 public:
  // Validates the config (URL, CA file presence is checked at start). No I/O.
  Webhook(const WebhookConfig& cfg, std::string name, WebhookCounters counters, LogQueue& logs);
  ~Webhook();
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  void start();  // creates the TLS context and the delivery thread
  // Queues one POST body; `summary` names the notification in log lines. Never blocks on I/O.
  void enqueue(std::string body, std::string summary);
  // Waits up to drain_timeout for queued notifications, then stops the thread. What is left is
  // logged and counted as failed.
  void stop();

  // scheme://host:port, without path or query (a Slack URL's path is its secret).
  const std::string& display_url() const noexcept { return display_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string display_;
};

}  // namespace cxflow::alerts
