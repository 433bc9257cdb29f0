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
// Room left for later: pause/resume of partitions (RdKafka::KafkaConsumer::pause/resume on the
// assignment) and asynchronous commits (commitAsync) are methods on `consumer_` and need no
// change to the shape of this class.
//
// Thread safety: not thread-safe; Poll() and Close() must be called from one thread at a time.
// `start_offset` is called on the thread inside Poll() or Close(), during a rebalance.

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

 private:
  std::unique_ptr<RdKafka::Message> message_;
};

// Returns the next offset to read for a newly assigned partition, or nullopt to start from
// the group's committed offset.
using StartOffsetFn =
    std::function<std::optional<int64_t>(std::string_view topic, int32_t partition)>;

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
  // Raw librdkafka properties applied last, e.g. {"debug", "cgrp"}.
  std::vector<std::pair<std::string, std::string>> extra;
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

  // Leaves the group (its partitions are revoked and reassigned to the other members) and
  // stops fetching. Idempotent: a second call returns OK. Errors: KAFKA-ERROR.
  Status Close();

 private:
  class RebalanceHandler;  // RdKafka::RebalanceCb; applies start_offset on assignment

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
