#include "consumers/dead_letter_reader.h"

#include <rocksdb/db.h>

#include <charconv>

#include "consumers/decode.h"
#include "consumers/kafka_consumer.h"
#include "schemas/envelope.h"
#include "schemas/hex.h"

namespace keymeter {
namespace {

bool Matches(const DeadLetterQuery& q, const DeadLetterView& v) {
  return (q.reason.empty() || v.letter.reason == q.reason) &&
         (q.account.empty() || v.account_id == q.account) && v.letter.time_us >= q.from_us &&
         v.letter.time_us < q.to_us;
}

template <class T>
bool ParseInt(std::string_view text, T* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Status BadCursor() { return Status(Code::kInvalidField, "cursor: not one this list gave"); }

}  // namespace

std::optional<std::pair<int32_t, int64_t>> ParseDeadLetterId(std::string_view id) {
  const size_t dash = id.find('-');
  int32_t partition = 0;
  int64_t offset = 0;
  if (dash == std::string_view::npos || !ParseInt(id.substr(0, dash), &partition) ||
      !ParseInt(id.substr(dash + 1), &offset) || partition < 0 || offset < 0) {
    return std::nullopt;
  }
  return std::make_pair(partition, offset);
}

DeadLetterView ViewOf(DeadLetter d) {
  DeadLetterView v;
  v.id = std::to_string(d.partition) + "-" + std::to_string(d.offset);
  PayloadArena aligned;
  aligned.Add(d.payload);
  const Decoded decoded = DecodeEnvelope(aligned[0]);
  if (const fb::Envelope* env = decoded.envelope) {
    v.decodes = true;
    v.redrivable = d.payload.size() < kDeadLetterPayloadLimit;
    v.account_id = Str(env->account_id());
    v.op = OpName(env->op_type());
    v.key_id = Str(KeyIdOf(*env));
    if (const fb::RequestEvent* r = env->op_as_RequestEvent()) {
      v.key_id = Str(r->key_id());
      if (r->request_id() != nullptr) v.request_id = RequestIdFromFb(r->request_id());
    }
  }
  v.letter = std::move(d);
  return v;
}

Result<DeadLetterView> DeadLetterReader::Find(const std::string& id) {
  DeadLetterQuery q;
  q.limit = 1000;
  std::optional<DeadLetterView> found;
  do {
    Result<DeadLetterPage> page = List(q);
    if (!page) return page.error();
    for (DeadLetterView& v : page.value().items) {
      if (v.id == id) found = std::move(v);
    }
    q.cursor = page.value().next_cursor;
  } while (!q.cursor.empty());
  if (!found) return Status(Code::kNotFound, "no dead letter " + id);
  return std::move(*found);
}

// Store cursor := hex(the dlq key of the last item returned).
Result<DeadLetterPage> StoreDeadLetters::List(const DeadLetterQuery& query) {
  std::string start = DeadLetterKey(query.from_us, 0, 0);
  std::string after;
  if (!query.cursor.empty()) {
    after.resize(query.cursor.size() / 2);
    if (query.cursor.size() != 40 ||
        !DecodeHex(query.cursor, std::span(reinterpret_cast<uint8_t*>(after.data()), 20))) {
      return BadCursor();
    }
    start = std::max(start, after);
  }
  const std::string end = DeadLetterKey(query.to_us, 0, 0);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_));
  DeadLetterPage page;
  bool more = false;
  for (it->Seek(start); it->Valid() && it->key().ToString() < end; it->Next()) {
    if (it->key().ToString() == after) continue;
    if (page.items.size() == query.limit) {
      more = true;
      break;
    }
    Result<DeadLetter> d = DecodeDeadLetter(
        std::span(reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()));
    if (!d) continue;  // never written by keymeter: not ours to show
    DeadLetterView v = ViewOf(std::move(d).value());
    if (!Matches(query, v)) continue;
    page.items.push_back(std::move(v));
    page.next_cursor = ToHex(std::span(reinterpret_cast<const uint8_t*>(it->key().data()),
                                       it->key().size()));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "dlq scan: " + it->status().ToString());
  if (!more) page.next_cursor.clear();
  return page;
}

// Kafka cursor := "<dlq partition>:<next offset>": partitions before it are done.
Result<DeadLetterPage> KafkaDeadLetters::List(const DeadLetterQuery& query) {
  int32_t from_partition = 0;
  int64_t from_offset = 0;
  if (!query.cursor.empty()) {
    const size_t colon = query.cursor.find(':');
    if (colon == std::string::npos ||
        !ParseInt(std::string_view(query.cursor).substr(0, colon), &from_partition) ||
        !ParseInt(std::string_view(query.cursor).substr(colon + 1), &from_offset)) {
      return BadCursor();
    }
  }
  Result<std::unique_ptr<KafkaConsumer>> made =
      KafkaConsumer::Create({.brokers = options_.brokers,
                             .group_id = "keymeter-dlq-reader",
                             .topics = {options_.topic},
                             .client_id = "keymeter-dlq",
                             .manual = true});
  if (!made) return made.error();
  KafkaConsumer& consumer = *made.value();
  Result<std::vector<PartitionBounds>> bounds = consumer.QueryBounds(options_.topic, options_.timeout);
  DeadLetterPage page;
  if (!bounds && bounds.error().code() == Code::kKafkaNoTopic) return page;  // nothing yet
  if (!bounds) return bounds.error();
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  size_t scanned = 0;
  std::vector<KafkaMessage> batch;
  for (const PartitionBounds& b : bounds.value()) {
    if (b.partition < from_partition) continue;
    int64_t next = std::max(b.low, b.partition == from_partition ? from_offset : 0);
    if (next >= b.high) continue;
    if (Status s = consumer.Assign(options_.topic, {{b.partition, next}}); !s.ok()) return s;
    while (next < b.high) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Status(Code::kKafkaTimeout, "reading " + options_.topic + " took too long");
      }
      batch.clear();
      Result<size_t> n = consumer.Poll(batch, 1000, std::chrono::milliseconds(200));
      if (!n && n.error().code() != Code::kKafkaError) return n.error();
      for (const KafkaMessage& m : batch) {
        if (m.partition() != b.partition || m.offset() < next) continue;
        if (page.items.size() == query.limit || scanned == options_.max_scanned) {
          page.next_cursor = std::to_string(b.partition) + ":" + std::to_string(m.offset());
          return page;
        }
        next = m.offset() + 1;
        ++scanned;
        Result<DeadLetter> d = DecodeDeadLetter(m.payload());
        if (!d) continue;
        DeadLetterView v = ViewOf(std::move(d).value());
        if (Matches(query, v)) page.items.push_back(std::move(v));
      }
    }
    if (Status s = consumer.Unassign(options_.topic, {b.partition}); !s.ok()) return s;
  }
  return page;
}

Status TrimDeadLetters(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, TimeUs before_us) {
  if (before_us <= 0) return Status::Ok();
  rocksdb::Status s = db->DeleteRange(rocksdb::WriteOptions(), cf, DeadLetterKey(0, 0, 0),
                                      DeadLetterKey(before_us, 0, 0));
  return s.ok() ? Status::Ok() : Status(Code::kIoError, "dlq trim: " + s.ToString());
}

}  // namespace keymeter
