#include "api/webhook_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "api/context.h"
#include "api/forwarding.h"
#include "api/webhooks.h"
#include "consumers/kafka_admin.h"
#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "engine/store.h"
#include "http/outbound.h"
#include "projections/alerts.h"
#include "projections/key_directory.h"
#include "projections/webhooks.h"
#include "schemas/clock.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"
#include "schemas/thread_name.h"

namespace keymeter {

namespace {

constexpr size_t kOutboxPage = 1000;
constexpr auto kApplyWait = std::chrono::seconds(10);
constexpr auto kRecordedFor = std::chrono::minutes(1);

std::string JobKey(const OutboxEntry& e) { return e.webhook_id + '\0' + e.alert_id; }

TimeUs Micros(std::chrono::milliseconds d) { return TimeUs(d.count()) * 1000; }

}  // namespace

struct WebhookSender::Impl {
  Impl(ServeContext& c, WebhookSenderOptions o) : context(c), options(std::move(o)) {}

  ServeContext& context;
  const WebhookSenderOptions options;

  std::mutex mu;
  std::condition_variable_any wake;
  std::deque<OutboxEntry> jobs;              // GUARDED_BY(mu)
  absl::flat_hash_set<std::string> busy;     // GUARDED_BY(mu): queued or in flight
  // Attempts recorded (published) that the store may not show yet: the projector writes a
  // batch after it applied it. A delivery whose stored attempts are fewer waits; an entry goes
  // once the store caught up, or after kRecordedFor (the delivery left the outbox).
  struct Recorded {
    uint32_t attempt;
    std::chrono::steady_clock::time_point at;
  };
  absl::flat_hash_map<std::string, Recorded> recorded;  // GUARDED_BY(mu)
  std::unique_ptr<KafkaProducer> producer;   // the poll thread's
  std::vector<std::jthread> threads;

  Pipeline& pipeline() { return context.pipeline; }

  bool Owned(const std::string& account_id) {
    return pipeline().Owns(PartitionOfAccount(context, account_id));
  }

  // Publishes one op of the sender (System) and waits until it is applied.
  Status Record(const std::string& account_id, const std::function<std::string(
                                                   const EnvelopeHeader&)>& build) {
    EnvelopeHeader h;
    h.command_id = "snd_" + RandomKeyChars(22);
    h.time_us = NowUs();
    h.actor = fb::ActorKind::System;
    h.account_id = account_id;
    const std::string envelope = build(h);
    if (Status s = pipeline().Publish(
            std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()),
            account_id);
        !s.ok()) {
      return s;
    }
    std::optional<Status> applied = pipeline().AwaitOutcome(OutcomeKey(h.command_id, {}),
                                                            kApplyWait);
    if (!applied) return Status(Code::kCommandPending, "not applied yet");
    return *applied;
  }

  void Poll(std::stop_token stop) {
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(mu);
        wake.wait_for(lock, stop, options.poll, [] { return false; });
      }
      if (stop.stop_requested()) return;
      Forget();
      if (!pipeline().Readiness().first) continue;
      std::vector<OutboxEntry> topic;
      std::string after;
      while (!stop.stop_requested()) {
        std::string last;
        Result<std::vector<OutboxEntry>> page =
            ReadOutbox(pipeline().store().db(), pipeline().store().cfs()[Cf::kOutbox], after,
                       kOutboxPage, &last);
        if (!page) {
          spdlog::warn("webhooks: reading the outbox: {}", page.error().ToString());
          break;
        }
        Offer(page.value(), &topic);
        if (page.value().size() < kOutboxPage) break;
        after = last;
      }
      if (!topic.empty()) PublishTopic(topic);
    }
  }

  void Forget() {
    const auto cutoff = std::chrono::steady_clock::now() - kRecordedFor;
    std::lock_guard lock(mu);
    absl::erase_if(recorded, [&](const auto& entry) { return entry.second.at < cutoff; });
  }

  // Queues the due deliveries of owned accounts; gathers the alerts waiting for the topic.
  void Offer(std::vector<OutboxEntry>& entries, std::vector<OutboxEntry>* topic) {
    const TimeUs now = NowUs();
    const bool topic_on = pipeline().kafka_mode() && !options.alerts_topic.empty();
    for (OutboxEntry& e : entries) {
      if (e.webhook_id.empty() ? !topic_on : e.next_attempt_us > now) continue;
      if (!Owned(e.account_id)) continue;
      if (e.webhook_id.empty()) {
        topic->push_back(std::move(e));
        continue;
      }
      std::lock_guard lock(mu);
      if (jobs.size() >= size_t(options.senders) * 4) continue;  // the next poll offers it
      if (!busy.insert(JobKey(e)).second) continue;
      jobs.push_back(std::move(e));
      wake.notify_all();
    }
  }

  void Work(std::stop_token stop) {
    while (true) {
      OutboxEntry e;
      {
        std::unique_lock lock(mu);
        if (!wake.wait(lock, stop, [&] { return !jobs.empty(); }) || stop.stop_requested()) {
          return;
        }
        e = std::move(jobs.front());
        jobs.pop_front();
      }
      Deliver(e);
      std::lock_guard lock(mu);
      busy.erase(JobKey(e));
    }
  }

  void Deliver(const OutboxEntry& e) {
    if (!Owned(e.account_id)) return;  // the partition moved since it was queued
    Store& store = pipeline().store();
    Result<std::optional<WebhookDelivery>> delivery =
        ReadDelivery(store.db(), store.cfs()[Cf::kWebhooks], e.account_id, e.webhook_id,
                     e.alert_time_us, e.alert_id);
    if (!delivery || !delivery.value()) return;
    const WebhookDelivery& d = *delivery.value();
    {
      std::lock_guard lock(mu);
      auto it = recorded.find(JobKey(e));
      if (it != recorded.end()) {
        if (it->second.attempt > d.attempts) return;  // the store is a batch behind: next poll
        recorded.erase(it);
      }
    }
    // Delivered, given up, or not due (queued from a page read before the last attempt landed).
    if (d.delivered || d.failed || d.next_attempt_us > NowUs()) return;
    Result<std::optional<Alert>> alert = ReadAlert(store.db(), store.cfs()[Cf::kAlerts],
                                                   e.account_id, e.alert_time_us, e.alert_id);
    if (!alert || !alert.value()) return;
    const std::optional<WebhookState> webhook =
        FindWebhook(pipeline(), e.account_id, e.webhook_id);
    const std::optional<std::string> secret =
        WebhookSecret(context.options.operator_token_hash, e.webhook_id);
    if (!webhook || !secret) return;
    const std::string& url = webhook->url;
    WebhookAttempt a{.webhook_id = e.webhook_id,
                     .alert_id = e.alert_id,
                     .alert_time_us = e.alert_time_us,
                     .attempt = d.attempts + 1};
    const std::string body = DeliveryBody(*alert.value());
    const http::ClientHeaders headers = {
        {"Keymeter-Signature", SignDelivery(*secret, NowUs() / 1'000'000, body)},
        {"Keymeter-Webhook-Id", e.webhook_id},
        {"Keymeter-Event", std::string(AlertEventName(*alert.value()))},
        {"Keymeter-Delivery-Attempt", std::to_string(a.attempt)}};
    Result<http::OutboundUrl> target = http::ParseOutboundUrl(url);
    Result<http::OutboundReply> reply =
        target ? http::PostOnce(target.value(), body, headers,
                                {.timeout = options.timeout,
                                 .allow_private = options.allow_private,
                                 .ca_file = options.ca_file})
               : Result<http::OutboundReply>(target.error());
    if (reply) a.status = uint16_t(std::clamp(reply.value().status, 0, 999));
    a.delivered = reply && a.status >= 200 && a.status < 300;
    if (!a.delivered) {
      a.error = reply ? "HTTP-STATUS" : std::string(LogName(reply.error().code()));
      const TimeUs most = Micros(options.retry_max);
      TimeUs backoff = Micros(options.retry_base);
      for (uint32_t i = 1; i < a.attempt && backoff < most; ++i) backoff *= 2;  // no overflow
      backoff = std::min(backoff, most);
      a.next_attempt_us = NowUs() + std::max<TimeUs>(backoff, 1);
      if (a.next_attempt_us > e.alert_time_us + Micros(options.retry_for)) a.next_attempt_us = 0;
    }
    Status s = Record(e.account_id,
                      [&](const EnvelopeHeader& h) { return BuildWebhookAttempted(h, a); });
    if (!s.ok()) {
      spdlog::warn("webhooks: recording attempt {} of {} to {}: {}", a.attempt, e.alert_id,
                   e.webhook_id, s.ToString());
    }
    // Not in the log: the attempt is made again (a receiver dedupes on the alert id).
    if (!s.ok() && s.code() != Code::kCommandPending) return;
    std::lock_guard lock(mu);
    recorded[JobKey(e)] = {a.attempt, std::chrono::steady_clock::now()};
  }

  // Puts the alerts on the topic, then records them published, account by account.
  void PublishTopic(const std::vector<OutboxEntry>& entries) {
    if (producer == nullptr) {
      const std::string& brokers = pipeline().options().brokers;
      Result<std::unique_ptr<KafkaProducer>> made =
          KafkaProducer::Create({.brokers = brokers, .client_id = "keymeter-alerts"});
      if (!made) {
        spdlog::warn("alerts topic: {}", made.error().ToString());
        return;
      }
      if (Status s = EnsureTopic(brokers, {.name = options.alerts_topic, .partitions = 4},
                                 std::chrono::seconds(5));
          !s.ok()) {
        spdlog::warn("alerts topic: could not ensure {}: {}", options.alerts_topic, s.ToString());
        return;
      }
      producer = std::move(made.value());
    }
    Store& store = pipeline().store();
    std::map<std::string, std::vector<std::pair<std::string, TimeUs>>> by_account;
    const uint64_t failures = producer->delivery_failures();
    for (const OutboxEntry& e : entries) {
      Result<std::optional<Alert>> alert = ReadAlert(store.db(), store.cfs()[Cf::kAlerts],
                                                     e.account_id, e.alert_time_us, e.alert_id);
      if (!alert) return;
      if (alert.value()) {
        const std::string body = DeliveryBody(*alert.value());
        Status s = producer->Produce(
            options.alerts_topic, e.account_id,
            std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
        if (!s.ok()) return;
      }
      by_account[e.account_id].emplace_back(e.alert_id, e.alert_time_us);
    }
    if (!producer->Flush(std::chrono::seconds(10)).ok()) return;
    if (producer->delivery_failures() != failures) return;  // the next poll tries them again
    for (const auto& [account_id, alerts] : by_account) {
      Status s = Record(account_id,
                        [&](const EnvelopeHeader& h) { return BuildAlertsPublished(h, alerts); });
      if (!s.ok()) spdlog::warn("alerts topic: recording published: {}", s.ToString());
    }
  }
};

WebhookSender::WebhookSender(ServeContext& context, WebhookSenderOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(options))) {}

WebhookSender::~WebhookSender() { Stop(); }

void WebhookSender::Start() {
  if (!impl_->threads.empty()) return;
  impl_->threads.emplace_back([this](std::stop_token stop) {
    SetThreadName("km-outbox");
    impl_->Poll(stop);
  });
  for (int i = 0; i < std::max(1, impl_->options.senders); ++i) {
    impl_->threads.emplace_back([this](std::stop_token stop) {
      SetThreadName("km-webhook");
      impl_->Work(stop);
    });
  }
}

void WebhookSender::Stop() {
  for (std::jthread& t : impl_->threads) t.request_stop();
  impl_->wake.notify_all();
  impl_->threads.clear();  // joins
}

}  // namespace keymeter
