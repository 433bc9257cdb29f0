// KafkaSource: the projector's Source over one Kafka topic (keymeter.events), read as a member
// of a consumer group through KafkaConsumer.
//
// Offsets: every assigned partition starts at the stored offset (StoredOffsetFn; nullopt = the
// earliest offset still in Kafka). The stored offsets live in RocksDB with the state they
// produced, so a revocation loses nothing: messages fetched but not yet returned are dropped and
// read again, from the stored offset, when the partition comes back. StoredOffsetFn must hence
// return the offset after the last message the projector *applied* (committed or still in its
// open batch), not only the last one committed. A stored offset that Kafka's retention already
// deleted falls back to the earliest offset left (auto.offset.reset=earliest).
// Committed() commits the offsets to the group asynchronously, only so that lag shows in
// kafka-consumer-groups; keymeter never reads them back.
//
// Flow control and memory bound: messages are fetched ahead into a buffer, per partition, and
// returned round robin across partitions (offset order within each). When the buffer holds
// `max_buffered_messages` messages or `max_buffered_bytes` bytes (payload + key + an estimated
// kMessageOverheadBytes of librdkafka's per message), every assigned partition is paused, so
// that Poll() keeps serving rebalances without taking more; they resume when the buffer has
// drained to half of both. Pausing drops what librdkafka had prefetched for the partition; it
// is fetched again on resume, from after the last message taken. librdkafka's own prefetch
// queue is bounded by queued.max.messages.kbytes = 32 MiB, plus one fetch of
// fetch.max.bytes = 8 MiB in flight. So fetched messages take at most about
// 32 + 8 + max_buffered_bytes (1024) MiB, plus the batch last returned: ~1.1 GiB of a 24 GiB
// machine, reached only while the projector is slower than Kafka.
//
// Why so large a buffer: librdkafka 2.0.2 restarts fetching a resumed (or queue-throttled)
// partition only when its broker thread next wakes, up to ~1 s later. Half the buffer must
// cover that second of projector work, or the projector idles. Measured on the 2-core build
// machine, 2M messages of ~190 B, a projector spending 1 us per message: 140k msg/s with a
// 100,000-message buffer, 450k-650k/s with 1,000,000 (librdkafka's queue alone: ~200k/s). A
// buffered message costs ~650 B of memory in all.
//
// Payloads are copied, 8-byte aligned, into an arena (Kafka's record framing leaves them at
// any address, and FlatBuffers reads in place); librdkafka's buffers are released at once.
// log_time_us of a message is its Kafka timestamp. name() is "kafka/<topic>".
//
// Standbys (KafkaSourceOptions::standby_partitions): a second, manual consumer tails partitions
// the group gave to other members, from the stored offsets, into the same buffer and projector:
// the projection is a function of the log, so a standby's state is the owner's, a little behind.
// When the group assigns this member a partition it tailed, the standby's buffered messages of it
// are dropped and the group's consumer goes on from the stored offset.
//
// Thread safety: not thread-safe (one projector thread), like every Source.

#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consumers/decode.h"
#include "consumers/kafka_consumer.h"
#include "consumers/source.h"

namespace keymeter {

// What one buffered message costs beyond its payload and key (librdkafka's op and message
// structs, our deque slot), counted against max_buffered_bytes.
constexpr size_t kMessageOverheadBytes = 512;

struct KafkaSourceOptions {
  std::string brokers;  // required
  std::string group_id = "keymeter";
  std::string topic = "keymeter.events";
  std::string client_id = "keymeter";
  StoredOffsetFn stored_offset;  // nullopt (or no function) = from the earliest offset
  size_t max_buffered_messages = 1'000'000;
  size_t max_buffered_bytes = size_t{1} << 30;
  // Raw librdkafka properties applied last (they override the bounds above).
  std::vector<std::pair<std::string, std::string>> extra;
  // Told of each partition assigned (true) or revoked (false), on the thread inside Poll() or
  // Close() (the cluster's ownership: engine/pipeline.h).
  std::function<void(int32_t partition, bool assigned)> on_ownership;
  // The partitions to tail as a standby (a cluster: partitions other members own, kept warm in
  // this store so that this member can answer for them and take them over without a replay).
  // Asked at every Poll(); partitions the group assigns to this member are left out. Unset: none.
  std::function<std::vector<int32_t>()> standby_partitions;
};

class KafkaSource : public Source {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Subscribes to `options.topic`; the group is joined on the first Poll(). Errors: those of
  // KafkaConsumer::Create (KAFKA-CONFIG, KAFKA-ERROR).
  static Result<std::unique_ptr<KafkaSource>> Create(KafkaSourceOptions options);
  KafkaSource(PrivateTag, KafkaSourceOptions options);  // use Create()
  ~KafkaSource() override;                              // leaves the group

  // Errors: KafkaConsumer::Poll's (KAFKA-ERROR transient, KAFKA-FATAL, KAFKA-CLOSED). An error
  // met while messages are buffered is returned by the next Poll, before more are taken.
  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds timeout) override;
  // Commits `next` of the partitions still assigned, asynchronously; failures are ignored.
  void Committed(const std::vector<PartitionOffset>& next) override;
  std::string name() const override { return "kafka/" + options_.topic; }
  // The assigned partitions' high watermarks from the last fetch responses (no round trip).
  std::vector<PartitionOffset> LogEnds() const override;

  // Leaves the group and releases every fetched message (the payloads of the last Poll too).
  // Idempotent. Errors: KAFKA-ERROR.
  Status Close();

  // The topic's partitions and their offsets now, and the first offset at or after a time:
  // A metadata request for the topic (KafkaConsumer::QueryPartitions): the broker answered,
  // or why not. Keeps `timeout`.
  Status ProbeLog(std::chrono::milliseconds timeout) override;
  // KafkaConsumer::QueryBounds and OffsetsForTime on options.topic (for replays).
  Result<std::vector<PartitionBounds>> QueryBounds(std::chrono::milliseconds timeout);
  Result<std::vector<TopicPartitionOffset>> OffsetsForTime(const std::vector<int32_t>& partitions,
                                                           int64_t time_ms,
                                                           std::chrono::milliseconds timeout);

  // For metrics and tests.
  size_t buffered_messages() const { return buffered_messages_; }
  std::vector<int32_t> assigned() const { return {assigned_.begin(), assigned_.end()}; }
  std::optional<std::vector<int32_t>> Followed() const override;
  std::vector<int32_t> standbys() const { return {standby_.begin(), standby_.end()}; }
  std::vector<int32_t> paused() const { return {paused_.begin(), paused_.end()}; }
  uint64_t pause_count() const { return pause_count_; }

 private:
  Status Fill(std::chrono::milliseconds timeout);
  void TakeRoundRobin(size_t max);
  void Throttle();
  void OnAssigned(int32_t partition);
  void OnRevoked(int32_t partition);
  // Drops what is buffered of `partition` (it is read again from the stored offset).
  void DropBuffered(int32_t partition);
  // Brings the standby consumer's partitions to KafkaSourceOptions::standby_partitions.
  void SyncStandbys();
  Status FillStandbys();

  KafkaSourceOptions options_;
  std::map<int32_t, std::deque<KafkaMessage>> pending_;  // fetched, not yet returned
  std::vector<KafkaMessage> incoming_;                   // being fetched (OnRevoked filters it too)
  std::vector<KafkaMessage> taken_;                      // taken from pending_ by the current Poll
  PayloadArena arena_;  // aligned copies of the payloads of the last Poll (they point here)
  size_t buffered_messages_ = 0;
  size_t buffered_bytes_ = 0;
  std::set<int32_t> assigned_;
  std::set<int32_t> paused_;
  uint64_t pause_count_ = 0;
  size_t rotation_ = 0;  // partition index served first by the next Poll
  Status deferred_error_;
  std::set<int32_t> standby_;  // tailed by standby_consumer_, never in assigned_
  // Reset explicitly by the destructor, after the messages above are released.
  std::unique_ptr<KafkaConsumer> consumer_;
  std::unique_ptr<KafkaConsumer> standby_consumer_;  // with standby_partitions only
};

}  // namespace keymeter
