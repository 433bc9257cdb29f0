// The dead-letter queue: messages the projector could not apply, kept with a reason instead of
// being dropped silently (DESIGN §2 "Late and odd events").
//
// A DeadLetter is encoded as the fb::DeadLetter table of schemas/records.fbs. Two sinks:
//   - KafkaDeadLetterSink produces it to topic keymeter.dlq (message key = source "/" partition,
//     so one partition's dead letters stay in order). Flush() waits for delivery: the projector
//     calls it before committing the offsets of the batch, so a committed offset never covers a
//     dead letter that was lost.
//   - EmbeddedDeadLetterSink buffers them for column family "dlq"; the projector moves them
//     into the WriteBatch that commits the batch's state and offsets (MoveInto), so they are
//     exactly as durable as the offsets that skip them.
// Both count dead letters per reason (CountsByReason) for metrics.
//
// Payload copies are cut to kDeadLetterPayloadLimit bytes; the original size goes into detail.
//
// Thread safety: DeadLetter is a value. A sink's Add/Flush/MoveInto are meant for the
// projector's thread but are safe from any thread; CountsByReason may be read concurrently.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

class KafkaProducer;

constexpr size_t kDeadLetterPayloadLimit = size_t{64} << 10;

struct DeadLetter {
  std::string reason;  // a Code's log spelling (LogName), e.g. "UNDECODABLE"
  std::string detail;
  std::string source;  // Source::name()
  int32_t partition = 0;
  int64_t offset = 0;
  TimeUs time_us = 0;  // log time of the message; 0 when unknown
  std::vector<uint8_t> payload;

  // A dead letter holding a copy of at most kDeadLetterPayloadLimit bytes of `payload`; when
  // cut, " (payload N bytes, first 65536 kept)" is appended to `detail`.
  static DeadLetter Make(std::string reason, std::string detail, std::string source,
                         int32_t partition, int64_t offset, TimeUs time_us,
                         std::span<const uint8_t> payload);
};

// The fb::DeadLetter bytes of `d` (payload cut to the limit if longer).
std::string EncodeDeadLetter(const DeadLetter& d);
// The dead letter in `bytes`, verified. Errors: UNDECODABLE.
Result<DeadLetter> DecodeDeadLetter(std::span<const uint8_t> bytes);

// Embedded DLQ key:  key := be64(time_us) be32(partition) be64(offset)   (time_us < 0 as 0)
// so a scan of column family "dlq" lists dead letters in log-time order.
std::string DeadLetterKey(TimeUs time_us, int32_t partition, int64_t offset);
// Adds `d` to `batch` under DeadLetterKey in column family `cf` ("dlq").
Status PutDeadLetter(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                     const DeadLetter& d);

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Queues `d` (copied). Never fails here; failures surface in Flush().
  virtual void Add(const DeadLetter& d) = 0;
  // Makes everything added so far durable, or says why not. After an error the projector must
  // not commit the offsets the failed dead letters cover.
  virtual Status Flush() = 0;
  // How long the Flush() in progress has been waiting; zero when none is. Thread-safe: readiness
  // asks it while the projector's commit waits (for a broker that went away).
  virtual std::chrono::milliseconds FlushWaiting() const { return {}; }

  // Puts the dead letters that become durable with the projector's batch into `batch` (column
  // family `cf`, "dlq") and forgets them. Sinks that make them durable themselves (Kafka's, in
  // Flush()) have nothing to put.
  virtual void MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) {}
  // Forgets what was added and is not durable yet: the projector reopens, and applies again
  // what they came from (else a Kafka sink would produce them twice).
  virtual void Discard() = 0;
  // Times the sink's producer replaced its librdkafka handle after a fatal error (0 for sinks
  // without a producer).
  virtual uint64_t producer_renewals() const { return 0; }
  // Bytes added and not yet durable (the projector ends a batch early past its bound, so what
  // a sink holds stays bounded).
  virtual size_t buffered_bytes() const = 0;

  // Dead letters added since creation, per reason.
  std::map<std::string, uint64_t> CountsByReason() const;

 protected:
  void Count(const std::string& reason);

 private:
  mutable std::mutex counts_mu_;
  std::map<std::string, uint64_t> counts_;  // GUARDED_BY(counts_mu_)
};

// Produces to a Kafka topic through its own producer (so that the producer's delivery
// counters are the DLQ's). Add() only encodes and buffers: it never calls Kafka nor waits for a
// Flush() in progress, so the projector may call it under the state lock that `authorize` takes
// (a slow broker must not stall authorize). Flush() produces what was buffered, then flushes.
// Flush errors: the producer's (KAFKA-TIMEOUT, KAFKA-QUEUE-FULL, KAFKA-FATAL...), or
// DLQ-DELIVERY-FAILED when the broker refused some. A producer that failed for good replaces
// its librdkafka handle itself (KafkaProducer); the commit that saw KAFKA-FATAL fails, so its
// dead letters are produced again with the batch.
class KafkaDeadLetterSink : public DeadLetterSink {
 public:
  KafkaDeadLetterSink(std::unique_ptr<KafkaProducer> producer, std::string topic = "keymeter.dlq",
                      std::chrono::milliseconds flush_timeout = std::chrono::seconds(30));
  ~KafkaDeadLetterSink() override;

  void Add(const DeadLetter& d) override;
  Status Flush() override;
  void Discard() override;
  std::chrono::milliseconds FlushWaiting() const override;
  uint64_t producer_renewals() const override;
  size_t buffered_bytes() const override;

 private:
  struct Pending {
    std::string key;
    std::string value;
  };
  mutable std::mutex buffer_mu_;   // held only to append or take the buffer
  std::vector<Pending> buffer_;    // GUARDED_BY(buffer_mu_)
  size_t buffer_bytes_ = 0;        // GUARDED_BY(buffer_mu_)
  std::mutex mu_;                  // one Flush() at a time
  // steady_clock nanoseconds at which the Flush() in progress began; 0 when none is.
  std::atomic<int64_t> flush_started_ns_{0};
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
  std::chrono::milliseconds flush_timeout_;
  uint64_t failures_seen_ = 0;  // GUARDED_BY(mu_): producer failures already reported
};

// Buffers dead letters until the projector moves them into its batch. Flush() is OK: the
// entries become durable with the WriteBatch they are moved into.
class EmbeddedDeadLetterSink : public DeadLetterSink {
 public:
  void Add(const DeadLetter& d) override;
  Status Flush() override { return Status::Ok(); }

  void MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) override;
  void Discard() override;
  size_t buffered() const;
  size_t buffered_bytes() const override;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> pending_;  // GUARDED_BY(mu_): key, value
  size_t pending_bytes_ = 0;                                  // GUARDED_BY(mu_)
};

}  // namespace keymeter
