#include "projections/webhooks.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "projections/aligned.h"
#include "projections/alerts.h"
#include "projections/column_families.h"
#include "schemas/envelope.h"
#include "schemas/hex.h"
#include "schemas/records_generated.h"

namespace keymeter {

namespace {

constexpr std::string_view kCrossed = "threshold.crossed";
constexpr std::string_view kResolved = "threshold.resolved";

// account_id tag webhook_id 0x00: a webhook's rows of one kind.
std::string PrefixOf(std::string_view account_id, char tag, std::string_view webhook_id) {
  std::string k = AccountPrefix(account_id, tag);
  k.append(webhook_id);
  k.push_back('\0');
  return k;
}

// account_id 0x01 webhook_id 0x00 (webhooks): its delivery log; + be64(time) alert_id: one.
std::string DeliveryPrefix(std::string_view account_id, std::string_view webhook_id) {
  return PrefixOf(account_id, '\1', webhook_id);
}

// account_id 0x00 webhook_id 0x00 (outbox): its pending deliveries.
std::string QueuePrefix(std::string_view account_id, std::string_view webhook_id) {
  return PrefixOf(account_id, '\0', webhook_id);
}

// account_id 0x01 (outbox): the account's alerts waiting for the topic.
std::string TopicPrefix(std::string_view account_id) { return AccountPrefix(account_id, '\1'); }

// `prefix` be64(alert time) alert_id.
std::string WithAlert(std::string prefix, TimeUs time_us, std::string_view alert_id) {
  return TimedKey(std::move(prefix), time_us, alert_id);
}

std::string EncodeDelivery(const WebhookDelivery& d) {
  flatbuffers::FlatBufferBuilder b(160);
  b.Finish(fb::CreateDeliveryRecordDirect(b, d.alert_id.c_str(), d.alert_time_us, d.attempts,
                                          d.delivered, d.failed, d.last_attempt_us,
                                          d.last_status, d.last_error.c_str(),
                                          d.next_attempt_us));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::optional<WebhookDelivery> DecodeDelivery(std::string_view bytes, std::string_view webhook_id) {
  const AlignedBytes value(bytes);
  flatbuffers::Verifier verifier(value.data(), value.size());
  if (!verifier.VerifyBuffer<fb::DeliveryRecord>(nullptr)) return std::nullopt;
  const auto* r = flatbuffers::GetRoot<fb::DeliveryRecord>(value.data());
  return WebhookDelivery{.webhook_id = std::string(webhook_id),
                  .alert_id = Str(r->alert_id()),
                  .alert_time_us = r->alert_time_us(),
                  .attempts = r->attempts(),
                  .delivered = r->delivered(),
                  .failed = r->failed(),
                  .last_attempt_us = r->last_attempt_us(),
                  .last_status = r->last_status(),
                  .last_error = Str(r->last_error()),
                  .next_attempt_us = r->next_attempt_us()};
}

void PutQueued(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* outbox,
               std::string_view account_id, const WebhookDelivery& d) {
  std::string value;
  PutBigEndian64(&value, uint64_t(d.next_attempt_us));
  batch->Put(outbox, WithAlert(QueuePrefix(account_id, d.webhook_id), d.alert_time_us, d.alert_id),
             value)
      .PermitUncheckedError();
}

const WebhookState* Find(const std::vector<WebhookState>& webhooks, std::string_view id) {
  for (const WebhookState& w : webhooks) {
    if (w.webhook_id == id) return &w;
  }
  return nullptr;
}

}  // namespace

Result<uint8_t> ParseWebhookEvents(const std::vector<std::string>& names) {
  if (names.empty()) return kAllEvents;
  uint8_t events = 0;
  for (const std::string& name : names) {
    if (name == kCrossed) {
      events |= kEventCrossed;
    } else if (name == kResolved) {
      events |= kEventResolved;
    } else {
      return Status(Code::kInvalidWebhook,
                    "events: threshold.crossed or threshold.resolved, not '" +
                        name.substr(0, 64) + "'");
    }
  }
  return events;
}

std::vector<std::string_view> WebhookEventNames(uint8_t events) {
  std::vector<std::string_view> names;
  if (events & kEventCrossed) names.push_back(kCrossed);
  if (events & kEventResolved) names.push_back(kResolved);
  return names;
}

std::string_view AlertEventName(const Alert& alert) { return alert.resolved ? kResolved : kCrossed; }

bool WebhookState::Wants(const Alert& alert) const {
  return (events & (alert.resolved ? kEventResolved : kEventCrossed)) != 0;
}

std::string EncodeWebhook(const WebhookState& w) {
  flatbuffers::FlatBufferBuilder b(128);
  b.Finish(fb::CreateWebhookRecordDirect(b, w.webhook_id.c_str(), w.url.c_str(), w.events,
                                         w.created_us));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::optional<WebhookState> DecodeWebhook(std::string_view bytes) {
  const AlignedBytes value(bytes);
  flatbuffers::Verifier verifier(value.data(), value.size());
  if (!verifier.VerifyBuffer<fb::WebhookRecord>(nullptr)) return std::nullopt;
  const auto* r = flatbuffers::GetRoot<fb::WebhookRecord>(value.data());
  if (r->webhook_id() == nullptr || r->webhook_id()->size() == 0) return std::nullopt;
  return WebhookState{.webhook_id = Str(r->webhook_id()),
                      .url = Str(r->url()),
                      .events = r->events(),
                      .created_us = r->created_us()};
}

std::string WebhookKey(std::string_view account_id, std::string_view webhook_id) {
  return AccountPrefix(account_id, '\0').append(webhook_id);
}

void PutWebhook(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks,
                std::string_view account_id, const WebhookState& webhook) {
  batch->Put(webhooks, WebhookKey(account_id, webhook.webhook_id), EncodeWebhook(webhook))
      .PermitUncheckedError();
}

void DeleteWebhook(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks,
                   rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                   std::string_view webhook_id) {
  batch->Delete(webhooks, WebhookKey(account_id, webhook_id)).PermitUncheckedError();
  std::string log = DeliveryPrefix(account_id, webhook_id), log_end = log;
  log_end.back() = '\1';
  batch->DeleteRange(webhooks, log, log_end).PermitUncheckedError();
  std::string queue = QueuePrefix(account_id, webhook_id), queue_end = queue;
  queue_end.back() = '\1';
  batch->DeleteRange(outbox, queue, queue_end).PermitUncheckedError();
}

Result<std::vector<std::pair<std::string, WebhookState>>> LoadWebhooks(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* webhooks) {
  std::vector<std::pair<std::string, WebhookState>> out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, webhooks));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const size_t end = key.find_first_of(std::string_view("\0\1", 2));
    if (end == std::string_view::npos) return Status(Code::kCorruptRecord, "webhooks key");
    if (key[end] == '\1') {  // the account's delivery logs: on to its next account
      std::string next(key.substr(0, end));
      next.push_back('\2');
      it->Seek(next);
      if (!it->Valid()) break;
      it->Prev();
      continue;
    }
    std::optional<WebhookState> w = DecodeWebhook(it->value().ToStringView());
    if (!w) return Status(Code::kCorruptRecord, "webhook record does not verify");
    out.emplace_back(std::string(key.substr(0, end)), std::move(*w));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "webhooks: " + it->status().ToString());
  return out;
}

void EnqueueDeliveries(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks_cf,
                       rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                       const std::vector<WebhookState>& webhooks, const Alert& alert) {
  for (const WebhookState& w : webhooks) {
    if (!w.Wants(alert)) continue;
    const std::string prefix = DeliveryPrefix(account_id, w.webhook_id);
    if (alert.time_us > kDeliveryLogRetentionUs) {
      batch->DeleteRange(webhooks_cf, prefix,
                         WithAlert(prefix, alert.time_us - kDeliveryLogRetentionUs, ""))
          .PermitUncheckedError();
    }
    const WebhookDelivery d{.webhook_id = w.webhook_id,
                     .alert_id = alert.alert_id,
                     .alert_time_us = alert.time_us,
                     .next_attempt_us = alert.time_us};
    batch->Put(webhooks_cf, WithAlert(prefix, alert.time_us, alert.alert_id), EncodeDelivery(d))
        .PermitUncheckedError();
    PutQueued(batch, outbox, account_id, d);
  }
  const std::string topic = TopicPrefix(account_id);
  if (alert.time_us > kAlertOutboxRetentionUs) {
    batch->DeleteRange(outbox, topic, WithAlert(topic, alert.time_us - kAlertOutboxRetentionUs, ""))
        .PermitUncheckedError();
  }
  batch->Put(outbox, WithAlert(topic, alert.time_us, alert.alert_id), "").PermitUncheckedError();
}

Status ApplyAttempt(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* webhooks_cf,
                    rocksdb::ColumnFamilyHandle* outbox, std::string_view account_id,
                    const std::vector<WebhookState>& webhooks, const fb::WebhookAttempted& op,
                    TimeUs time_us) {
  const std::string webhook_id = Str(op.webhook_id());
  if (Find(webhooks, webhook_id) == nullptr) {
    return Status(Code::kNoSuchWebhook, "no webhook '" + webhook_id.substr(0, 64) + "'");
  }
  WebhookDelivery d{.webhook_id = webhook_id,
             .alert_id = Str(op.alert_id()),
             .alert_time_us = op.alert_time_us(),
             .attempts = op.attempt(),
             .delivered = op.delivered(),
             .failed = !op.delivered() && op.next_attempt_us() == 0,
             .last_attempt_us = time_us,
             .last_status = op.status(),
             .last_error = Str(op.error()),
             .next_attempt_us = op.delivered() ? 0 : op.next_attempt_us()};
  const std::string key =
      WithAlert(DeliveryPrefix(account_id, webhook_id), d.alert_time_us, d.alert_id);
  batch->Put(webhooks_cf, key, EncodeDelivery(d)).PermitUncheckedError();
  if (d.next_attempt_us != 0) {
    PutQueued(batch, outbox, account_id, d);
  } else {
    batch->Delete(outbox, WithAlert(QueuePrefix(account_id, webhook_id), d.alert_time_us,
                                    d.alert_id))
        .PermitUncheckedError();
  }
  return Status::Ok();
}

void ApplyPublished(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* outbox,
                    std::string_view account_id, const fb::AlertsPublished& op) {
  if (op.alerts() == nullptr) return;
  const std::string topic = TopicPrefix(account_id);
  for (const fb::AlertRef* a : *op.alerts()) {
    batch->Delete(outbox, WithAlert(topic, a->time_us(), Str(a->alert_id()))).PermitUncheckedError();
  }
}

Result<std::vector<OutboxEntry>> ReadOutbox(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* outbox,
                                            std::string_view after, size_t limit,
                                            std::string* last_key) {
  std::vector<OutboxEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, outbox));
  after.empty() ? it->SeekToFirst() : it->Seek(rocksdb::Slice(after.data(), after.size()));
  if (!after.empty() && it->Valid() && it->key() == rocksdb::Slice(after.data(), after.size())) {
    it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const size_t end = key.find_first_of(std::string_view("\0\1", 2));
    OutboxEntry e;
    std::string_view rest;
    if (end == std::string_view::npos) return Status(Code::kCorruptRecord, "outbox key");
    e.account_id = std::string(key.substr(0, end));
    if (key[end] == '\0') {  // webhook_id 0x00 be64(time) alert_id -> be64(next)
      const size_t id_end = key.find('\0', end + 1);
      if (id_end == std::string_view::npos || it->value().size() != 8) {
        return Status(Code::kCorruptRecord, "outbox delivery entry");
      }
      e.webhook_id = std::string(key.substr(end + 1, id_end - end - 1));
      e.next_attempt_us = TimeUs(GetBigEndian64(it->value().ToStringView()));
      rest = key.substr(id_end + 1);
    } else {
      rest = key.substr(end + 1);
    }
    if (rest.size() <= 8) return Status(Code::kCorruptRecord, "outbox entry");
    e.alert_time_us = TimeUs(GetBigEndian64(rest));
    e.alert_id = std::string(rest.substr(8));
    *last_key = std::string(key);
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "outbox: " + it->status().ToString());
  return out;
}

Result<std::optional<WebhookDelivery>> ReadDelivery(rocksdb::DB* db,
                                             rocksdb::ColumnFamilyHandle* webhooks_cf,
                                             std::string_view account_id,
                                             std::string_view webhook_id, TimeUs alert_time_us,
                                             std::string_view alert_id) {
  std::string value;
  const rocksdb::Status s =
      db->Get({}, webhooks_cf,
              WithAlert(DeliveryPrefix(account_id, webhook_id), alert_time_us, alert_id), &value);
  if (s.IsNotFound()) return std::optional<WebhookDelivery>();
  if (!s.ok()) return Status(Code::kIoError, "webhooks: " + s.ToString());
  std::optional<WebhookDelivery> d = DecodeDelivery(value, webhook_id);
  if (!d) return Status(Code::kCorruptRecord, "delivery record does not verify");
  return d;
}

Result<WebhookDeliveryPage> ReadDeliveries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* webhooks_cf,
                                    std::string_view account_id, std::string_view webhook_id,
                                    std::string_view state, size_t limit,
                                    std::string_view cursor) {
  const std::string prefix = DeliveryPrefix(account_id, webhook_id);
  std::string upper = prefix;
  upper.back() = '\1';
  if (!cursor.empty()) {  // the hex of the last key returned, after the webhook's prefix
    std::string suffix(cursor.size() / 2, '\0');
    if (cursor.size() % 2 != 0 || cursor.size() < 18 ||
        !DecodeHex(cursor, std::span(reinterpret_cast<uint8_t*>(suffix.data()), suffix.size()))) {
      return Status(Code::kInvalidField, "cursor: not one of a page of deliveries");
    }
    upper = prefix + suffix;
  }
  rocksdb::ReadOptions options;
  const rocksdb::Slice lower_slice(prefix);
  options.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, webhooks_cf));
  WebhookDeliveryPage page;
  std::string last;
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    if (it->key().compare(upper) >= 0) continue;
    std::optional<WebhookDelivery> d = DecodeDelivery(it->value().ToStringView(), webhook_id);
    if (!d) return Status(Code::kCorruptRecord, "delivery record does not verify");
    if (!state.empty() && d->state() != state) continue;
    if (page.deliveries.size() == limit) {
      AppendHex(&page.next_cursor,
                std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(last.data()) +
                                             prefix.size(),
                                         last.size() - prefix.size()));
      break;
    }
    last = it->key().ToString();
    page.deliveries.push_back(std::move(*d));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "webhooks: " + it->status().ToString());
  return page;
}

}  // namespace keymeter
