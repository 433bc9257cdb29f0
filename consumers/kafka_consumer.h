// KafkaConsumer: reads keymeter topics as a member of a Kafka consumer group (rdkafka++).
//
// The group splits the topics' partitions among its members; each assigned partition is read
// in offset order. Where a partition starts when it is assigned:
//   - `start_offset` set and it returns an offset: that offset (the next one to read, as
//     stored beside the state it produced; DESIGN §2 "Exactly-once state");
//   - otherwise the group's committed offset, or `auto_offset_reset` when there is none.
// This class never commits offsets (enable.auto.commit=false, enable.auto.offset.store=false):
// keymeter keeps its offsets in RocksDB. Messages are returned as librdkafka fetched them, not
// verified or decoded; that is the caller's job.
//
// The caller may also commit offsets asynchronously (only so that Kafka's tools show the
// group's lag) and query them, and hear of assignments and revocations (`on_assigned`,
// `on_revoked`).
//
// Thread safety: Poll(), Assign(), Unassign() and Close() must be called from one thread at a
// time. CommitAsync(), Committed(), QueryPartitions(), QueryBounds(), CachedHighWatermark() and
// OffsetsForTime() may also be called from another thread while it polls (librdkafka's handle
// is thread-safe for them; KafkaSource's projector thread does), but not after Close().
// `start_offset`, `on_assigned` and `on_revoked` are called on the thread inside Poll() or
// Close(), during a rebalance.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace RdKafka {
class KafkaConsumer;
class Message;
}  // namespace RdKafka

namespace keymeter {

// One consumed message. It holds librdkafka's message, so key() and payload() point into
// librdkafka's fetch buffer without a copy; both stay valid as long as this object.
// Every KafkaMessage must be destroyed before the KafkaConsumer that returned it (librdkafka's
// handle waits for its messages when destroyed).
// Thread safety: a value; distinct objects may be used from distinct threads.
class KafkaMessage {
 public:
  explicit KafkaMessage(std::unique_ptr<RdKafka::Message> message);
  KafkaMessage(KafkaMessage&&) noexcept;
  KafkaMessage& operator=(KafkaMessage&&) noexcept;
  ~KafkaMessage();

  std::string topic() const;
  int32_t partition() const;
  int64_t offset() const;
  // Empty for a message produced without a key.
  std::string_view key() const;
  std::span<const uint8_t> payload() const;
  // The message's timestamp (create or log-append time, as the topic says) in microseconds
  // since the epoch; 0 when the message has none.
  int64_t timestamp_us() const;

 private:
  std::unique_ptr<RdKafka::Message> message_;
};

// Returns the next offset to read for a newly assigned partition (or kKafkaOffsetBeginning),
// or nullopt to start from the group's committed offset.
using StartOffsetFn =
    std::function<std::optional<int64_t>(std::string_view topic, int32_t partition)>;
// Told of one partition assigned to (after it is assigned) or revoked from (before it is
// unassigned) this member.
using PartitionFn = std::function<void(std::string_view topic, int32_t partition)>;

// The first offset still in the partition (RdKafka::Topic::OFFSET_BEGINNING).
constexpr int64_t kKafkaOffsetBeginning = -2;

struct TopicPartitionOffset {
  int32_t partition = 0;
  int64_t offset = 0;  // next offset to read; -1001 (OFFSET_INVALID) when none committed
};

// The offsets of one partition as the broker sees them.
struct PartitionBounds {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still in the partition
  int64_t high = 0;  // next offset to be written (the end; == low when empty)
};

struct KafkaConsumerOptions {
  // Bootstrap brokers, "host:port[,host:port...]". Required.
  std::string brokers;
  // Consumer group. Required.
  std::string group_id;
  // Topics to subscribe to. Required, at least one.
  std::vector<std::string> topics;
  std::string client_id = "keymeter";
  // Where a partition with no committed offset starts: "earliest" or "latest".
  std::string auto_offset_reset = "earliest";
  // Optional; see the file comment.
  StartOffsetFn start_offset;
  PartitionFn on_assigned;
  PartitionFn on_revoked;
  // Raw librdkafka properties applied last, e.g. {"debug", "cgrp"}.
  std::vector<std::pair<std::string, std::string>> extra;
  // Read every partition of `topics` from its beginning without joining the group (assign(),
  // not subscribe(): `group_id` is never joined and nothing is committed), e.g. to tail a small
  // compacted topic whole on every member. The partitions are those the broker names at
  // Create(), which then fails when it can't ask (KAFKA-TIMEOUT, KAFKA-NO-TOPIC).
  bool assign_all = false;
  // Join no group and read no partition until Assign() names some (a standby's tail of
  // partitions another member owns). Nothing is committed.
  bool manual = false;
};

class KafkaConsumer {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Returns a consumer subscribed to `options.topics`; it joins the group on the first Poll().
  // Errors: KAFKA-CONFIG for a missing or rejected option; KAFKA-ERROR when the client cannot
  // be created or the subscription is refused.
  static Result<std::unique_ptr<KafkaConsumer>> Create(const KafkaConsumerOptions& options);

  KafkaConsumer(PrivateTag, const KafkaConsumerOptions& options);  // use Create()
  // Closes the consumer if Close() was not called (leaves the group, waits for that).
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Appends to `out` up to `max` messages, in offset order per partition. Waits up to
  // `timeout` for the first one, then takes only what has already been fetched. Returns the
  // number appended (0 when the timeout passed with nothing to read).
  // Errors: KAFKA-ERROR for a broker or rebalance error (transient: librdkafka keeps
  // retrying and Poll() may be called again; when messages were already appended, they are
  // returned and the error comes on the next call); KAFKA-FATAL when the consumer can't go on;
  // KAFKA-CLOSED after Close().
  Result<size_t> Poll(std::vector<KafkaMessage>& out, size_t max,
                      std::chrono::milliseconds timeout);

  // Manual consumers (KafkaConsumerOptions::manual): start reading `offsets` (partition, next
  // offset or kKafkaOffsetBeginning) of `topic` besides what they read already, or stop
  // reading `partitions`. Errors: KAFKA-ERROR.
  Status Assign(std::string_view topic, const std::vector<TopicPartitionOffset>& offsets);
  Status Unassign(std::string_view topic, const std::vector<int32_t>& partitions);

  // Commits `offsets` (next offsets to read) of `topic` to the group without waiting; the
  // outcome is not reported. Errors: KAFKA-ERROR when the request cannot even be queued.
  Status CommitAsync(std::string_view topic, const std::vector<TopicPartitionOffset>& offsets);
  // The group's committed offsets of `partitions` of `topic`, asked of the broker.
  // Errors: KAFKA-ERROR, KAFKA-TIMEOUT.
  Result<std::vector<TopicPartitionOffset>> Committed(std::string_view topic,
                                                      const std::vector<int32_t>& partitions,
                                                      std::chrono::milliseconds timeout);

  // Every partition of `topic`, in order, from a metadata request that keeps `timeout`.
  // Errors: KAFKA-NO-TOPIC when the broker does not know `topic`; KAFKA-TIMEOUT; KAFKA-ERROR.
  Result<std::vector<int32_t>> QueryPartitions(std::string_view topic,
                                               std::chrono::milliseconds timeout);
  // Every partition of `topic` with its low and high watermarks, asked of the broker now (not
  // from the fetch cache), in partition order. Needs no assignment. Errors: KAFKA-NO-TOPIC when
  // the broker does not know `topic`; KAFKA-TIMEOUT; KAFKA-ERROR.
  // librdkafka 2.0.2's query_watermark_offsets() does not keep its timeout (it waits for the
  // ListOffsets answer, which a broker that restarted may never send: librdkafka #4460), so a
  // loop that must go on (the projector's) never calls this; one-shot tools (replay) may.
  Result<std::vector<PartitionBounds>> QueryBounds(std::string_view topic,
                                                   std::chrono::milliseconds timeout);
  // The high watermark (next offset to be written) of `partition` of `topic` as the last fetch
  // response said, without a broker round trip; nullopt before any fetch of that partition.
  std::optional<int64_t> CachedHighWatermark(std::string_view topic, int32_t partition) const;
  // For each of `partitions` of `topic`: the first offset whose message timestamp is at or after
  // `time_ms` (milliseconds since the epoch), or -1 when every message is older (start at the
  // end). Errors: KAFKA-TIMEOUT; KAFKA-ERROR (also for a per-partition error).
  Result<std::vector<TopicPartitionOffset>> OffsetsForTime(std::string_view topic,
                                                           const std::vector<int32_t>& partitions,
                                                           int64_t time_ms,
                                                           std::chrono::milliseconds timeout);

  // Leaves the group (its partitions are revoked and reassigned to the other members) and
  // stops fetching. Idempotent: a second call returns OK. Errors: KAFKA-ERROR.
  Status Close();

 private:
  class RebalanceHandler;  // RdKafka::RebalanceCb; applies start_offset on assignment
  Status AssignAll(const std::vector<std::string>& topics);  // KafkaConsumerOptions::assign_all

  Status Init(const KafkaConsumerOptions& options);

  bool closed_ = false;
  // An error met while Poll() had already appended messages, or inside a rebalance; the next
  // Poll() returns it.
  Status pending_error_;
  // Declared before consumer_: librdkafka calls it until consumer_ is destroyed.
  std::unique_ptr<RebalanceHandler> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace keymeter
