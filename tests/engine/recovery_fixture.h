// Helpers of the crash and fault tests (recovery_test, recovery_embedded_test,
// broker_fault_test, poison_test): the stored offsets of a data dir, whether they reached the
// end of a log, checksums, the usage column family decoded, and producing a workload to Kafka.
#pragma once

#include <rocksdb/db.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "consumers/kafka_consumer.h"
#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"
#include "engine/store.h"
#include "schemas/envelope.h"
#include "tests/consumers/kafka_fixture.h"
#include "tests/engine/workload.h"

namespace keymeter::testing {

// The next offset per partition stored in `data_dir` (opened read-only, so the owner must be
// stopped or dead); empty when the store can't be opened yet.
inline std::map<int32_t, int64_t> StoredOffsets(const std::string& data_dir) {
  std::map<int32_t, int64_t> out;
  Result<std::unique_ptr<Store>> store = Store::Open({.path = data_dir, .read_only = true});
  if (!store) return out;
  std::unique_ptr<rocksdb::Iterator> it(
      store.value()->db()->NewIterator({}, store.value()->cfs()[Cf::kMeta]));
  for (it->Seek(kPartitionPrefix); it->Valid() && it->key().starts_with(kPartitionPrefix);
       it->Next()) {
    out[*PartitionOfKey(it->key().ToStringView())] =
        DecodePartition(it->value().ToStringView())->next_offset;
  }
  return out;
}

inline std::map<int32_t, int64_t> OffsetsOf(const Projector& projector) {
  std::map<int32_t, int64_t> out;
  for (const auto& [p, r] : projector.Partitions()) out[p] = r.next_offset;
  return out;
}

inline bool CaughtUp(const std::map<int32_t, int64_t>& offsets,
                     const std::map<int32_t, int64_t>& end) {
  for (const auto& [p, n] : end) {
    auto it = offsets.find(p);
    if (n > 0 && (it == offsets.end() || it->second < n)) return false;
  }
  return true;
}

inline int64_t Total(const std::map<int32_t, int64_t>& offsets) {
  int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o;
  return n;
}

inline std::string ChecksumOf(const std::string& data_dir) {
  return Store::Open({.path = data_dir}).value()->Checksum().value();
}

// Every logical cell of the usage column family, by UsageKey (to compare with a reference).
inline std::map<std::string, Counters> AllUsage(Store& store) {
  return AllUsageCells(store.db(), store.cfs()[Cf::kUsage]).value();
}

// The account that keys each partition's messages (junk included) of a workload built with
// KafkaPartitionFor, so that every message lands on the partition the reference assumed.
inline std::map<int32_t, std::string> PartitionKeys(const Workload& w) {
  std::map<int32_t, std::string> key_of;
  for (const LogMessage& m : w.log) {
    const fb::Envelope* env = VerifyEnvelope(
        std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()));
    if (env != nullptr) key_of.emplace(m.partition, env->account_id()->str());
  }
  return key_of;
}

// A clean replay of `topic` into a fresh `data_dir` in this process, up to `end`; returns the
// pipeline, stopped, for its stats and store (nullptr when it did not get there in time).
inline std::unique_ptr<Pipeline> ReplayTopic(const std::string& data_dir, const std::string& topic,
                                             const std::map<int32_t, int64_t>& end,
                                             std::chrono::seconds timeout,
                                             const std::string& brokers = Brokers()) {
  auto pipeline = std::move(Pipeline::Open({.data_dir = data_dir, .brokers = brokers,
                                            .topic = topic, .group = "replay-" + RandomHex(),
                                            .dlq_topic = topic + ".replay-dlq"})
                                .value());
  pipeline->Start();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!CaughtUp(OffsetsOf(pipeline->projector()), end) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  pipeline->Stop();
  if (!CaughtUp(OffsetsOf(pipeline->projector()), end)) return nullptr;
  return pipeline;
}

// The end offset (high watermark) of every partition of `topic`, asked of the broker.
inline std::map<int32_t, int64_t> EndOffsets(const std::string& brokers, const std::string& topic) {
  std::map<int32_t, int64_t> out;
  auto consumer = KafkaConsumer::Create(
      {.brokers = brokers, .group_id = "bounds-" + RandomHex(), .topics = {topic}});
  if (!consumer) return out;
  auto bounds = consumer.value()->QueryBounds(topic, std::chrono::seconds(30));
  if (!bounds) return out;
  for (const PartitionBounds& b : bounds.value()) out[b.partition] = b.high;
  return out;
}

// Produces `w` to `topic` keyed by partition, paced over about `over`; true when every message
// was delivered. The producer rides out a broker outage: its messages wait in its queue.
// With `pause_at`, once that many messages are produced it flushes them and calls `pause()`
// before going on: a broker stopped inside `pause()` has no produce request of ours in flight.
// (An idempotent librdkafka producer may write a batch twice when the broker dies while the
// batch is in flight: confluentinc/librdkafka#4953. That would be the gateway's duplicate, not
// keymeter's, but it would change the reference this test checks against.)
inline bool ProduceWorkload(const std::string& brokers, const std::string& topic, const Workload& w,
                     std::chrono::milliseconds over, size_t pause_at = SIZE_MAX,
                     const std::function<void()>& pause = {}) {
  const std::map<int32_t, std::string> key_of = PartitionKeys(w);
  KafkaProducerOptions options{.brokers = brokers};
  options.delivery_timeout = std::chrono::seconds(180);
  options.queue_messages = 1'000'000;
  auto producer = std::move(KafkaProducer::Create(options).value());
  constexpr int kTicks = 100;
  const size_t per_tick = w.log.size() / kTicks + 1;
  for (size_t i = 0; i < w.log.size(); ++i) {
    if (i == pause_at) {
      if (!producer->Flush(std::chrono::seconds(60)).ok()) return false;
      pause();
    }
    const LogMessage& m = w.log[i];
    if (!producer
             ->Produce(topic, key_of.at(m.partition),
                       std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()),
                       m.log_time_us / 1000)
             .ok()) {
      return false;
    }
    if (i % per_tick == per_tick - 1) std::this_thread::sleep_for(over / kTicks);
  }
  return producer->Flush(std::chrono::seconds(240)).ok() && producer->delivery_failures() == 0;
}

}  // namespace keymeter::testing
