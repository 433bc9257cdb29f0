// Webhooks (docs/api.md "Webhooks"): an account's endpoints for its threshold alerts, what each
// alert's delivery to each endpoint came to, and the outboxes the partition's owner drains.
// Everything here is a function of the log, like every projection: a raised alert enqueues its
// deliveries in the batch that stores it (EnqueueDeliveries), and the owner's sender records
// each attempt as an op (WebhookAttempted, ApplyAttempt), so every member — and any replay —
// holds the same delivery log and the same queue, and a new owner after a failover resumes
// where the old one stopped (an attempt in flight when it died is the only one made twice).
//
// Layouts (docs/storage.md):
//   webhooks  account_id 0x00 webhook_id                               -> fb::WebhookRecord
//             account_id 0x01 webhook_id 0x00 be64(alert_time) alert_id -> fb::DeliveryRecord
//   outbox    account_id 0x00 webhook_id 0x00 be64(alert_time) alert_id -> be64(next_attempt_us)
//             account_id 0x01 be64(alert_time) alert_id                 -> "" (keymeter.alerts)
// The outbox holds only what is pending: a delivery until it is delivered or given up, an alert
// until it is on the topic (AlertsPublished) or a day old. A webhook's delivery log keeps 30
// days of alerts (older rows go when a newer alert is enqueued).
//
// Thread safety: the functions are safe to call concurrently on a thread-safe DB; the in-memory
// webhooks belong to AccountState, under KeyDirectory's rules.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/civil_time.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

namespace fb {
struct WebhookAttempted;
struct AlertsPublished;
}  // namespace fb

struct Alert;

inline constexpr size_t kMaxWebhooksPerAccount = 10;
inline constexpr size_t kMaxWebhookUrlBytes = 2048;
inline constexpr TimeUs kDeliveryLogRetentionUs = 30 * kMicrosPerDay;
inline constexpr TimeUs kAlertOutboxRetentionUs = kMicrosPerDay;

// Event types, as bits of WebhookState::events.
inline constexpr uint8_t kEventCrossed = 1;
inline constexpr uint8_t kEventResolved = 2;
inline constexpr uint8_t kAllEvents = kEventCrossed | kEventResolved;

// The bits of `names` ("threshold.crossed", "threshold.resolved"; none = all), or
// INVALID-WEBHOOK naming the unknown one.
Result<uint8_t> ParseWebhookEvents(const std::vector<std::string>& names);
// The names of `events`' bits, in the order above.
std::vector<std::string_view> WebhookEventNames(uint8_t events);
// The event of `alert`: "threshold.crossed" or "threshold.resolved".
std::string_view AlertEventName(const Alert& alert);

struct WebhookState {
  std::string webhook_id;
  std::string url;
  uint8_t events = kAllEvents;
  TimeUs created_us = 0;

  bool Wants(const Alert& alert) const;
  friend bool operator==(const WebhookState&, const WebhookState&) = default;
};

std::string EncodeWebhook(const WebhookState& webhook);
std::optional<WebhookState> DecodeWebhook(std::string_view bytes);
std::string WebhookKey(std::string_view account_id, std::string_view webhook_id);
void PutWebhook(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks,
                std::string_view account_id, const WebhookState& webhook);
// Removes the webhook, its delivery log and its pending deliveries.
void DeleteWebhook(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks,
                   rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                   std::string_view webhook_id);
// Every stored webhook: (account id, webhook), in key order. IO-ERROR, CORRUPT-RECORD.
Result<std::vector<std::pair<std::string, WebhookState>>> LoadWebhooks(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* webhooks);

// What one alert's delivery to one webhook came to.
struct WebhookDelivery {
  std::string webhook_id;
  std::string alert_id;
  TimeUs alert_time_us = 0;
  uint32_t attempts = 0;
  bool delivered = false;
  bool failed = false;  // given up: dead-lettered
  TimeUs last_attempt_us = 0;
  uint16_t last_status = 0;
  std::string last_error;
  TimeUs next_attempt_us = 0;  // 0 once delivered or failed

  std::string_view state() const { return delivered ? "delivered" : failed ? "failed" : "pending"; }
  friend bool operator==(const WebhookDelivery&, const WebhookDelivery&) = default;
};

// Writes, for `alert` of `account_id`: a pending delivery (due at once) to each of `webhooks`
// that wants it, and the alert in the topic outbox; drops the delivery log rows and outbox
// entries the alert's time puts past their retention.
void EnqueueDeliveries(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks_cf,
                       rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                       const std::vector<WebhookState>& webhooks, const Alert& alert);

// Records one attempt made at `time_us` (op of `account_id`, whose webhook it must be: NO-SUCH-WEBHOOK
// otherwise, nothing written): the delivery as the op says, and its outbox entry moved to the
// next attempt or removed.
Status ApplyAttempt(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks_cf,
                    rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                    const std::vector<WebhookState>& webhooks, const fb::WebhookAttempted& op,
                    TimeUs time_us);

// Removes the alerts `op` names from `account_id`'s topic outbox.
void ApplyPublished(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* outbox,
                    std::string_view account_id, const fb::AlertsPublished& op);

// A pending delivery or an alert waiting for the topic, as the outbox holds it.
struct OutboxEntry {
  std::string account_id;
  std::string webhook_id;  // empty: the topic's
  std::string alert_id;
  TimeUs alert_time_us = 0;
  TimeUs next_attempt_us = 0;  // deliveries only
};
// At most `limit` entries of the whole outbox, in key order, starting after `after` (the
// previous call's last key, "" at first); `*last_key` is set to the last key read.
// IO-ERROR, CORRUPT-RECORD.
Result<std::vector<OutboxEntry>> ReadOutbox(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* outbox,
                                            std::string_view after, size_t limit,
                                            std::string* last_key);

// The attempt number and state of one delivery; nullopt when there is none.
Result<std::optional<WebhookDelivery>> ReadDelivery(rocksdb::DB* db,
                                             rocksdb::ColumnFamilyHandle* webhooks_cf,
                                             std::string_view account_id,
                                             std::string_view webhook_id, TimeUs alert_time_us,
                                             std::string_view alert_id);

struct WebhookDeliveryPage {
  std::vector<WebhookDelivery> deliveries;
  std::string next_cursor;  // "" at the end
};
// A webhook's delivery log, newest alert first; `state` "", "pending", "delivered" or
// "failed" filters. INVALID-FIELD (a cursor not of a page), IO-ERROR, CORRUPT-RECORD.
Result<WebhookDeliveryPage> ReadDeliveries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* webhooks_cf,
                                    std::string_view account_id, std::string_view webhook_id,
                                    std::string_view state, size_t limit,
                                    std::string_view cursor);

}  // namespace keymeter
