// WebhookSender: delivers the alerts in the outbox (projections/webhooks.h) of the partitions
// this process owns — to the account's webhook endpoints, and in Kafka mode to the
// keymeter.alerts topic — and records what came of each as an op in the log.
//
// Contract:
// - Only while the engine is ready (caught up with the log) and only for owned partitions: a
//   standby holds the same outbox and takes over where the owner stopped when it fails.
// - A delivery: POST of DeliveryBody() signed with the webhook's secret (api/webhooks.h), with
//   Keymeter-Signature, Keymeter-Webhook-Id, Keymeter-Event and Keymeter-Delivery-Attempt.
//   A 2xx delivers it; anything else (another status, a network error, a refused address) is
//   retried after retry_base, doubling up to retry_max, while the alert is younger than
//   retry_for; the attempt after that gives up (the delivery is "failed": dead-lettered, in the
//   webhook's delivery log). Each attempt is a WebhookAttempted op (System), awaited until
//   applied before that delivery is looked at again: at most one attempt of a delivery is in
//   flight, and only the attempt in flight when a process dies is made twice.
// - The topic: each alert, as its DeliveryBody() keyed by account id, then AlertsPublished
//   once the broker acknowledged them (at least once; consumers dedupe on "id").
// - At most `senders` deliveries at once; a slow endpoint holds one sender for `timeout`.
//
// Thread safety: Start() and Stop() from one thread; the sender runs on its own threads.

#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace keymeter {

struct ServeContext;

struct WebhookSenderOptions {
  bool allow_private = false;  // deliver to loopback/private addresses (tests, demos)
  std::string ca_file;         // an extra CA bundle for https endpoints
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds retry_base{10'000};
  std::chrono::milliseconds retry_max{std::chrono::hours(1)};
  std::chrono::milliseconds retry_for{std::chrono::hours(24)};
  int senders = 4;  // deliveries at once (`keymeter serve` starts no sender with 0)
  std::chrono::milliseconds poll{250};
  std::string alerts_topic = "keymeter.alerts";  // Kafka mode; "" publishes none
};

class WebhookSender {
 public:
  WebhookSender(ServeContext& context, WebhookSenderOptions options);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keymeter
