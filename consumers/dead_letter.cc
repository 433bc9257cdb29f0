#include "consumers/dead_letter.h"

#include <rocksdb/write_batch.h>

#include <algorithm>

#include "consumers/decode.h"
#include "consumers/kafka_producer.h"
#include "schemas/records_generated.h"

namespace keymeter {
namespace {

void PutBe(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(uint8_t(v >> (8 * i))));
}

std::string TruncationNote(size_t size) {
  return " (payload " + std::to_string(size) + " bytes, first " +
         std::to_string(kDeadLetterPayloadLimit) + " kept)";
}

}  // namespace

DeadLetter DeadLetter::Make(std::string reason, std::string detail, std::string source,
                            int32_t partition, int64_t offset, TimeUs time_us,
                            std::span<const uint8_t> payload) {
  DeadLetter d{
      std::move(reason), std::move(detail), std::move(source), partition, offset, time_us, {}};
  const size_t kept = std::min(payload.size(), kDeadLetterPayloadLimit);
  d.payload.assign(payload.begin(), payload.begin() + static_cast<ptrdiff_t>(kept));
  if (kept < payload.size()) d.detail += TruncationNote(payload.size());
  return d;
}

std::string EncodeDeadLetter(const DeadLetter& d) {
  const size_t kept = std::min(d.payload.size(), kDeadLetterPayloadLimit);
  const std::string detail =
      kept < d.payload.size() ? d.detail + TruncationNote(d.payload.size()) : d.detail;
  flatbuffers::FlatBufferBuilder b(256 + kept);
  auto payload = b.CreateVector(d.payload.data(), kept);
  auto root =
      fb::CreateDeadLetter(b, b.CreateString(d.reason), b.CreateString(detail),
                           b.CreateString(d.source), d.partition, d.offset, d.time_us, payload);
  b.Finish(root);
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

Result<DeadLetter> DecodeDeadLetter(std::span<const uint8_t> bytes) {
  PayloadArena aligned;  // FlatBuffers reads in place: RocksDB and Kafka give any address
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    aligned.Add(bytes);
    bytes = aligned[0];
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/8,
                                 /*max_tables=*/16);
  if (bytes.empty() || !verifier.VerifyBuffer<fb::DeadLetter>(nullptr)) {
    return Status(Code::kUndecodable, "not a DeadLetter record");
  }
  const fb::DeadLetter* r = flatbuffers::GetRoot<fb::DeadLetter>(bytes.data());
  auto str = [](const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); };
  DeadLetter d{str(r->reason()),
               str(r->detail()),
               str(r->source()),
               r->partition(),
               r->offset(),
               r->time_us(),
               {}};
  if (r->payload() != nullptr) d.payload.assign(r->payload()->begin(), r->payload()->end());
  return d;
}

std::string DeadLetterKey(TimeUs time_us, int32_t partition, int64_t offset) {
  std::string key;
  key.reserve(20);
  PutBe(&key, static_cast<uint64_t>(std::max<TimeUs>(time_us, 0)), 8);
  PutBe(&key, static_cast<uint32_t>(partition), 4);
  PutBe(&key, static_cast<uint64_t>(offset), 8);
  return key;
}

Status PutDeadLetter(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                     const DeadLetter& d) {
  rocksdb::Status s =
      batch->Put(cf, DeadLetterKey(d.time_us, d.partition, d.offset), EncodeDeadLetter(d));
  return s.ok() ? Status::Ok() : Status(Code::kIoError, "dlq put: " + s.ToString());
}

// --------------------------------------------------------------------------- DeadLetterSink

std::map<std::string, uint64_t> DeadLetterSink::CountsByReason() const {
  std::lock_guard lock(counts_mu_);
  return counts_;
}

void DeadLetterSink::Count(const std::string& reason) {
  std::lock_guard lock(counts_mu_);
  ++counts_[reason];
}

// ---------------------------------------------------------------------- KafkaDeadLetterSink

KafkaDeadLetterSink::KafkaDeadLetterSink(std::unique_ptr<KafkaProducer> producer, std::string topic,
                                         std::chrono::milliseconds flush_timeout)
    : producer_(std::move(producer)), topic_(std::move(topic)), flush_timeout_(flush_timeout) {
  failures_seen_ = producer_->delivery_failures();
}

KafkaDeadLetterSink::~KafkaDeadLetterSink() = default;

uint64_t KafkaDeadLetterSink::producer_renewals() const { return producer_->renewals(); }

void KafkaDeadLetterSink::Add(const DeadLetter& d) {
  Count(d.reason);
  Pending p{d.source + "/" + std::to_string(d.partition), EncodeDeadLetter(d)};
  std::lock_guard lock(buffer_mu_);
  buffer_bytes_ += p.key.size() + p.value.size();
  buffer_.push_back(std::move(p));
}

void KafkaDeadLetterSink::Discard() {
  std::lock_guard lock(buffer_mu_);
  buffer_.clear();
  buffer_bytes_ = 0;
}

size_t KafkaDeadLetterSink::buffered_bytes() const {
  std::lock_guard lock(buffer_mu_);
  return buffer_bytes_;
}

std::chrono::milliseconds KafkaDeadLetterSink::FlushWaiting() const {
  const int64_t started = flush_started_ns_.load(std::memory_order_relaxed);
  if (started == 0) return {};
  const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  using std::chrono::duration_cast, std::chrono::milliseconds, std::chrono::steady_clock;
  return duration_cast<milliseconds>(steady_clock::duration(now - started));
}

Status KafkaDeadLetterSink::Flush() {
  std::lock_guard lock(mu_);
  std::vector<Pending> pending;
  {
    std::lock_guard take(buffer_mu_);
    pending.swap(buffer_);
    buffer_bytes_ = 0;
  }
  flush_started_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                          std::memory_order_relaxed);
  Status status;
  for (const Pending& p : pending) {
    status = producer_->Produce(
        topic_, p.key, {reinterpret_cast<const uint8_t*>(p.value.data()), p.value.size()});
    if (!status.ok()) break;  // the commit fails; the batch's dead letters come again
  }
  if (status.ok()) status = producer_->Flush(flush_timeout_);
  flush_started_ns_.store(0, std::memory_order_relaxed);
  if (!status.ok()) return status;
  const uint64_t failures = producer_->delivery_failures();
  if (failures != failures_seen_) {
    const uint64_t lost = failures - failures_seen_;
    failures_seen_ = failures;
    return Status(Code::kDlqDeliveryFailed,
                  std::to_string(lost) + " dead letters not delivered to " + topic_);
  }
  return Status::Ok();
}

// ------------------------------------------------------------------- EmbeddedDeadLetterSink

void EmbeddedDeadLetterSink::Add(const DeadLetter& d) {
  Count(d.reason);
  std::string key = DeadLetterKey(d.time_us, d.partition, d.offset);
  std::string value = EncodeDeadLetter(d);
  std::lock_guard lock(mu_);
  pending_bytes_ += key.size() + value.size();
  pending_.emplace_back(std::move(key), std::move(value));
}

void EmbeddedDeadLetterSink::MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) {
  std::vector<std::pair<std::string, std::string>> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
    pending_bytes_ = 0;
  }
  // WriteBatch::Put only fails past its max_bytes, which keymeter never sets.
  for (const auto& [key, value] : pending) batch->Put(cf, key, value).PermitUncheckedError();
}

void EmbeddedDeadLetterSink::Discard() {
  std::lock_guard lock(mu_);
  pending_.clear();
  pending_bytes_ = 0;
}

size_t EmbeddedDeadLetterSink::buffered_bytes() const {
  std::lock_guard lock(mu_);
  return pending_bytes_;
}

size_t EmbeddedDeadLetterSink::buffered() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace keymeter
