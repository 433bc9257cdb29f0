#include "consumers/kafka_consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <limits>
#include <string>

#include "consumers/kafka_internal.h"

namespace keymeter {
namespace {

using kafka_internal::KafkaStatus;
using kafka_internal::SetAll;
using kafka_internal::ToTimeoutMs;

}  // namespace

// ---------------------------------------------------------------------------- KafkaMessage

KafkaMessage::KafkaMessage(std::unique_ptr<RdKafka::Message> message)
    : message_(std::move(message)) {}
KafkaMessage::KafkaMessage(KafkaMessage&&) noexcept = default;
KafkaMessage& KafkaMessage::operator=(KafkaMessage&&) noexcept = default;
KafkaMessage::~KafkaMessage() = default;

std::string KafkaMessage::topic() const { return message_->topic_name(); }
int32_t KafkaMessage::partition() const { return message_->partition(); }
int64_t KafkaMessage::offset() const { return message_->offset(); }

std::string_view KafkaMessage::key() const {
  const void* key = message_->key_pointer();
  if (key == nullptr) return {};
  return {static_cast<const char*>(key), message_->key_len()};
}

std::span<const uint8_t> KafkaMessage::payload() const {
  const void* bytes = message_->payload();
  if (bytes == nullptr) return {};
  return {static_cast<const uint8_t*>(bytes), message_->len()};
}

int64_t KafkaMessage::timestamp_us() const {
  const RdKafka::MessageTimestamp ts = message_->timestamp();
  if (ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE || ts.timestamp < 0) {
    return 0;
  }
  return ts.timestamp * 1000;
}

// ------------------------------------------------------------------------ RebalanceHandler

class KafkaConsumer::RebalanceHandler : public RdKafka::RebalanceCb {
 public:
  RebalanceHandler(KafkaConsumer& owner, const KafkaConsumerOptions& options)
      : owner_(owner),
        start_offset_(options.start_offset),
        on_assigned_(options.on_assigned),
        on_revoked_(options.on_revoked) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      // Offsets left at OFFSET_INVALID make librdkafka use the committed offset.
      if (start_offset_) {
        for (RdKafka::TopicPartition* tp : partitions) {
          std::optional<int64_t> next = start_offset_(tp->topic(), tp->partition());
          if (next.has_value()) tp->set_offset(*next);
        }
      }
      if (cooperative) {
        Record("incremental assign", consumer->incremental_assign(partitions));
      } else {
        Record("assign", consumer->assign(partitions));
      }
      if (on_assigned_) {
        for (RdKafka::TopicPartition* tp : partitions) on_assigned_(tp->topic(), tp->partition());
      }
      return;
    }
    if (err != RdKafka::ERR__REVOKE_PARTITIONS) Record("rebalance", err);
    if (on_revoked_) {
      for (RdKafka::TopicPartition* tp : partitions) on_revoked_(tp->topic(), tp->partition());
    }
    if (cooperative) {
      Record("incremental unassign", consumer->incremental_unassign(partitions));
    } else {
      Record("unassign", consumer->unassign());
    }
  }

 private:
  void Record(std::string_view what, RdKafka::ErrorCode err) {
    if (err != RdKafka::ERR_NO_ERROR && owner_.pending_error_.ok()) {
      owner_.pending_error_ = KafkaStatus(Code::kKafkaError, what, err);
    }
  }
  void Record(std::string_view what, RdKafka::Error* error) {
    std::unique_ptr<RdKafka::Error> owned(error);  // the callee hands over ownership
    if (owned != nullptr && owner_.pending_error_.ok()) {
      owner_.pending_error_ = KafkaStatus(Code::kKafkaError, what, owned->code(), owned->str());
    }
  }

  KafkaConsumer& owner_;
  StartOffsetFn start_offset_;
  PartitionFn on_assigned_;
  PartitionFn on_revoked_;
};

// --------------------------------------------------------------------------- KafkaConsumer

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const KafkaConsumerOptions& options) {
  if (options.brokers.empty()) return Status(Code::kKafkaConfig, "no brokers given");
  if (options.group_id.empty()) return Status(Code::kKafkaConfig, "no consumer group given");
  if (options.topics.empty()) return Status(Code::kKafkaConfig, "no topics given");
  auto consumer = std::make_unique<KafkaConsumer>(PrivateTag(), options);
  Status status = consumer->Init(options);
  if (!status.ok()) return status;
  return consumer;
}

KafkaConsumer::KafkaConsumer(PrivateTag, const KafkaConsumerOptions& options)
    : rebalance_(std::make_unique<RebalanceHandler>(*this, options)) {}

KafkaConsumer::~KafkaConsumer() {
  if (consumer_ != nullptr) (void)Close();
}

Status KafkaConsumer::Init(const KafkaConsumerOptions& options) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Status status = SetAll(*conf, {
                                    {"bootstrap.servers", options.brokers},
                                    {"group.id", options.group_id},
                                    {"client.id", options.client_id},
                                    {"auto.offset.reset", options.auto_offset_reset},
                                    {"enable.auto.commit", "false"},
                                    {"enable.auto.offset.store", "false"},
                                    {"enable.partition.eof", "false"},
                                });
  if (!status.ok()) return status;
  status = SetAll(*conf, options.extra);
  if (!status.ok()) return status;
  std::string errstr;
  if (conf->set("rebalance_cb", rebalance_.get(), errstr) != RdKafka::Conf::CONF_OK) {
    return Status(Code::kKafkaConfig, "rebalance_cb: " + errstr);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (consumer_ == nullptr) return Status(Code::kKafkaError, "creating the consumer: " + errstr);
  if (options.assign_all) return AssignAll(options.topics);
  if (options.manual) return Status::Ok();
  RdKafka::ErrorCode err = consumer_->subscribe(options.topics);
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "subscribe", err);
  return Status::Ok();
}

Status KafkaConsumer::AssignAll(const std::vector<std::string>& topics) {
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> raw;
  for (const std::string& topic : topics) {
    Result<std::vector<int32_t>> partitions = QueryPartitions(topic, std::chrono::seconds(10));
    if (!partitions) return partitions.error();
    for (int32_t p : partitions.value()) {
      owned.emplace_back(RdKafka::TopicPartition::create(topic, p, kKafkaOffsetBeginning));
      raw.push_back(owned.back().get());
    }
  }
  RdKafka::ErrorCode err = consumer_->assign(raw);
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "assign", err);
  return Status::Ok();
}

Result<size_t> KafkaConsumer::Poll(std::vector<KafkaMessage>& out, size_t max,
                                   std::chrono::milliseconds timeout) {
  if (closed_) return Status(Code::kKafkaClosed, "poll after close");
  if (!pending_error_.ok()) return std::exchange(pending_error_, Status::Ok());
  size_t appended = 0;
  int wait_ms = ToTimeoutMs(timeout);
  while (appended < max) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
    const RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      out.emplace_back(std::move(message));
      ++appended;
      wait_ms = 0;  // only the first message is waited for
      continue;
    }
    if (err == RdKafka::ERR__TIMED_OUT) break;
    if (err == RdKafka::ERR__PARTITION_EOF) continue;
    // The group's coordinator refuses the session (its group.min.session.timeout.ms is above
    // it): KAFKA-SESSION-REFUSED, so the caller can ask for a longer one.
    const Code code = err == RdKafka::ERR__FATAL                  ? Code::kKafkaFatal
                      : err == RdKafka::ERR_INVALID_SESSION_TIMEOUT ? Code::kKafkaSessionRefused
                                                                    : Code::kKafkaError;
    Status error = KafkaStatus(code, "consume", err, message->errstr());
    if (appended == 0) return error;
    pending_error_ = std::move(error);
    break;
  }
  // A rebalance inside consume() may have failed after messages were appended.
  if (appended == 0 && !pending_error_.ok()) return std::exchange(pending_error_, Status::Ok());
  return appended;
}

namespace {

// TopicPartition objects for librdkafka's list APIs, deleted with the list.
class PartitionList {
 public:
  PartitionList(std::string_view topic, const std::vector<int32_t>& partitions) {
    for (int32_t p : partitions) {
      owned_.emplace_back(RdKafka::TopicPartition::create(std::string(topic), p));
      raw_.push_back(owned_.back().get());
    }
  }
  // Each partition at its offset.
  PartitionList(std::string_view topic, const std::vector<TopicPartitionOffset>& offsets) {
    for (const TopicPartitionOffset& o : offsets) {
      owned_.emplace_back(RdKafka::TopicPartition::create(std::string(topic), o.partition));
      owned_.back()->set_offset(o.offset);
      raw_.push_back(owned_.back().get());
    }
  }
  std::vector<RdKafka::TopicPartition*>& raw() { return raw_; }

 private:
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned_;
  std::vector<RdKafka::TopicPartition*> raw_;
};

}  // namespace

Status KafkaConsumer::Assign(std::string_view topic,
                             const std::vector<TopicPartitionOffset>& offsets) {
  if (closed_) return Status(Code::kKafkaClosed, "assign after close");
  if (offsets.empty()) return Status::Ok();
  PartitionList list(topic, offsets);
  std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(list.raw()));
  if (error != nullptr) {
    return KafkaStatus(Code::kKafkaError, "assign", error->code(), error->str());
  }
  return Status::Ok();
}

Status KafkaConsumer::Unassign(std::string_view topic, const std::vector<int32_t>& partitions) {
  if (closed_) return Status(Code::kKafkaClosed, "unassign after close");
  if (partitions.empty()) return Status::Ok();
  PartitionList list(topic, partitions);
  std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign(list.raw()));
  if (error != nullptr) {
    return KafkaStatus(Code::kKafkaError, "unassign", error->code(), error->str());
  }
  return Status::Ok();
}

Status KafkaConsumer::CommitAsync(std::string_view topic,
                                  const std::vector<TopicPartitionOffset>& offsets) {
  if (closed_) return Status(Code::kKafkaClosed, "commit after close");
  if (offsets.empty()) return Status::Ok();
  PartitionList list(topic, offsets);
  RdKafka::ErrorCode err = consumer_->commitAsync(list.raw());
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "commit", err);
  return Status::Ok();
}

Result<std::vector<TopicPartitionOffset>> KafkaConsumer::Committed(
    std::string_view topic, const std::vector<int32_t>& partitions,
    std::chrono::milliseconds timeout) {
  if (closed_) return Status(Code::kKafkaClosed, "committed after close");
  PartitionList list(topic, partitions);
  RdKafka::ErrorCode err = consumer_->committed(list.raw(), ToTimeoutMs(timeout));
  if (err == RdKafka::ERR__TIMED_OUT) return KafkaStatus(Code::kKafkaTimeout, "committed", err);
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "committed", err);
  std::vector<TopicPartitionOffset> out;
  for (RdKafka::TopicPartition* tp : list.raw()) out.push_back({tp->partition(), tp->offset()});
  return out;
}

Result<std::vector<int32_t>> KafkaConsumer::QueryPartitions(std::string_view topic,
                                                            std::chrono::milliseconds timeout) {
  if (closed_) return Status(Code::kKafkaClosed, "query after close");
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer_.get(), std::string(topic), nullptr, errstr));
  if (handle == nullptr) return Status(Code::kKafkaError, "topic handle: " + errstr);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = consumer_->metadata(false, handle.get(), &raw, ToTimeoutMs(timeout));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err == RdKafka::ERR__TIMED_OUT) return KafkaStatus(Code::kKafkaTimeout, "metadata", err);
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "metadata", err);
  std::vector<int32_t> partitions;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || t->partitions()->empty()) {
      return Status(Code::kKafkaNoTopic, "topic " + std::string(topic) + " does not exist");
    }
    if (t->err() != RdKafka::ERR_NO_ERROR)
      return KafkaStatus(Code::kKafkaError, "metadata", t->err());
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) partitions.push_back(p->id());
  }
  if (partitions.empty()) {
    return Status(Code::kKafkaNoTopic, "topic " + std::string(topic) + " does not exist");
  }
  std::sort(partitions.begin(), partitions.end());
  return partitions;
}

Result<std::vector<PartitionBounds>> KafkaConsumer::QueryBounds(std::string_view topic,
                                                                std::chrono::milliseconds timeout) {
  Result<std::vector<int32_t>> partitions = QueryPartitions(topic, timeout);
  if (!partitions) return partitions.error();
  std::vector<PartitionBounds> out;
  for (int32_t p : partitions.value()) {
    PartitionBounds bounds{.partition = p};
    const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
        std::string(topic), p, &bounds.low, &bounds.high, ToTimeoutMs(timeout));
    if (err == RdKafka::ERR__TIMED_OUT) return KafkaStatus(Code::kKafkaTimeout, "watermarks", err);
    if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "watermarks", err);
    out.push_back(bounds);
  }
  return out;
}

std::optional<int64_t> KafkaConsumer::CachedHighWatermark(std::string_view topic,
                                                          int32_t partition) const {
  if (closed_) return std::nullopt;
  int64_t low = RdKafka::Topic::OFFSET_INVALID;
  int64_t high = RdKafka::Topic::OFFSET_INVALID;
  // rd_kafka_get_watermark_offsets: the values cached from fetch responses, no request.
  if (consumer_->get_watermark_offsets(std::string(topic), partition, &low, &high) !=
          RdKafka::ERR_NO_ERROR ||
      high < 0) {
    return std::nullopt;
  }
  return high;
}

Result<std::vector<TopicPartitionOffset>> KafkaConsumer::OffsetsForTime(
    std::string_view topic, const std::vector<int32_t>& partitions, int64_t time_ms,
    std::chrono::milliseconds timeout) {
  if (closed_) return Status(Code::kKafkaClosed, "query after close");
  PartitionList list(topic, partitions);
  for (RdKafka::TopicPartition* tp : list.raw()) tp->set_offset(time_ms);
  RdKafka::ErrorCode err = consumer_->offsetsForTimes(list.raw(), ToTimeoutMs(timeout));
  if (err == RdKafka::ERR__TIMED_OUT)
    return KafkaStatus(Code::kKafkaTimeout, "offsets for time", err);
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "offsets for time", err);
  std::vector<TopicPartitionOffset> out;
  for (RdKafka::TopicPartition* tp : list.raw()) {
    if (tp->err() != RdKafka::ERR_NO_ERROR) {
      return KafkaStatus(Code::kKafkaError, "offsets for time", tp->err());
    }
    out.push_back({tp->partition(), tp->offset()});
  }
  return out;
}

Status KafkaConsumer::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  RdKafka::ErrorCode err = consumer_->close();
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(Code::kKafkaError, "close", err);
  return Status::Ok();
}

}  // namespace keymeter
