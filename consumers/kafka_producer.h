// KafkaProducer: appends keymeter messages to Kafka topics through librdkafka (rdkafka++).
//
// Every message is keyed (for keymeter.events the key is the account id) and librdkafka's
// `murmur2_random` partitioner picks its partition, the same choice the Java clients make, so
// all the messages of one key land on one partition in the order they were produced.
// The producer is idempotent (enable.idempotence=true, acks=all): retries inside librdkafka
// never duplicate or reorder messages of a partition. Batches are compressed with
// `compression` (lz4 by default).
//
// Produce() is asynchronous: it queues the message and returns; delivery is confirmed later by
// the broker. Failed deliveries (after librdkafka's own retries, within `delivery_timeout`)
// are counted in delivery_failures(). Flush() waits until every queued message is delivered
// or failed. The destructor does not flush: messages still queued when it runs are dropped,
// so call Flush() first.
//
// Thread safety: Produce(), Flush() and the counters may be called concurrently from any
// number of threads. Delivery reports are served by whichever thread is inside Produce() or
// Flush() at the time.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace RdKafka {
class Producer;
}  // namespace RdKafka

namespace keymeter {

struct KafkaProducerOptions {
  // Bootstrap brokers, "host:port[,host:port...]". Required.
  std::string brokers;
  std::string client_id = "keymeter";
  // compression.codec: none, gzip, snappy, lz4 or zstd.
  std::string compression = "lz4";
  // How long librdkafka waits to fill a batch (linger.ms).
  std::chrono::milliseconds linger{5};
  // Upper bound of one batch in bytes (batch.size) and in messages (batch.num.messages).
  int batch_bytes = 1 << 20;
  int batch_messages = 10000;
  // Bound of the local queue in messages (queue.buffering.max.messages).
  int queue_messages = 100000;
  // A message not acknowledged within this time fails (delivery.timeout.ms).
  std::chrono::milliseconds delivery_timeout{30000};
  // How long Produce() keeps retrying while the local queue is full.
  std::chrono::milliseconds queue_full_wait{10000};
  // Raw librdkafka properties applied last, e.g. {"debug", "feature,protocol"}.
  std::vector<std::pair<std::string, std::string>> extra;
};

class KafkaProducer {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Returns a producer connected lazily to `options.brokers`. Errors: KAFKA-CONFIG when an
  // option is rejected by librdkafka (unknown codec, bad value) or `brokers` is empty;
  // KAFKA-ERROR when the client cannot be created.
  static Result<std::unique_ptr<KafkaProducer>> Create(const KafkaProducerOptions& options);

  KafkaProducer(PrivateTag, const KafkaProducerOptions& options);  // use Create()
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues `payload` (copied) for `topic` with message key `key` (copied). OK means queued,
  // not delivered. Errors: KAFKA-QUEUE-FULL when the local queue stayed full for
  // `queue_full_wait`; KAFKA-FATAL when the idempotent producer hit a fatal error: it could
  // produce no more, so a new librdkafka producer replaces it for the calls that follow
  // (whatever the old one still queued is lost; renewals() counts the replacements);
  // KAFKA-ERROR for any other refusal (message too large, unknown partition...).
  // `timestamp_ms` is the message's CreateTime (0: now); replays and tests set it.
  Status Produce(std::string_view topic, std::string_view key, std::span<const uint8_t> payload,
                 int64_t timestamp_ms = 0);

  // Makes the producer fail for good as a fatal idempotence error would (librdkafka's
  // rd_kafka_test_fatal_error): what recovers from KAFKA-FATAL is tested with it.
  void InjectFatalErrorForTesting();

  // Waits up to `timeout` until every queued message is delivered or failed. OK when the queue
  // is empty; KAFKA-TIMEOUT (with the count still outstanding) otherwise; KAFKA-FATAL as for
  // Produce(). Check delivery_failures() for the outcome of the delivered messages.
  Status Flush(std::chrono::milliseconds timeout);

  // librdkafka producers made after a fatal error, since Create().
  uint64_t renewals() const { return renewals_.load(std::memory_order_relaxed); }

  // Messages acknowledged by the broker, and messages that failed for good, since Create().
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t delivery_failures() const { return delivery_failures_.load(std::memory_order_relaxed); }

 private:
  class DeliveryReporter;  // RdKafka::DeliveryReportCb, counts into the atomics below

  Status Init();
  Result<std::unique_ptr<RdKafka::Producer>> MakeHandle();
  // The KAFKA-FATAL status of `failed`, after replacing it (if it is still the current one).
  Status FailedForGood(RdKafka::Producer* failed);

  const KafkaProducerOptions options_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> delivery_failures_{0};
  std::atomic<uint64_t> renewals_{0};
  // Declared before producer_: librdkafka calls it until producer_ is destroyed.
  std::unique_ptr<DeliveryReporter> reporter_;
  // Shared while a call uses the librdkafka producer, exclusive to replace it.
  mutable std::shared_mutex handle_mu_;
  std::unique_ptr<RdKafka::Producer> producer_;  // GUARDED_BY(handle_mu_)
};

}  // namespace keymeter
