#include "consumers/kafka_producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <limits>
#include <string>

#include "consumers/kafka_internal.h"

namespace keymeter {
namespace {

using kafka_internal::KafkaStatus;
using kafka_internal::SetAll;
using kafka_internal::ToTimeoutMs;

}  // namespace

class KafkaProducer::DeliveryReporter : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReporter(KafkaProducer& owner) : owner_(owner) {}

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      owner_.delivered_.fetch_add(1, std::memory_order_relaxed);
    } else {
      owner_.delivery_failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  KafkaProducer& owner_;
};

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaProducerOptions& options) {
  if (options.brokers.empty()) return Status(Code::kKafkaConfig, "no brokers given");
  auto producer = std::make_unique<KafkaProducer>(PrivateTag(), options);
  Status status = producer->Init();
  if (!status.ok()) return status;
  return producer;
}

KafkaProducer::KafkaProducer(PrivateTag, const KafkaProducerOptions& options)
    : options_(options), reporter_(std::make_unique<DeliveryReporter>(*this)) {}

KafkaProducer::~KafkaProducer() = default;

Status KafkaProducer::Init() {
  Result<std::unique_ptr<RdKafka::Producer>> handle = MakeHandle();
  if (!handle) return handle.error();
  producer_ = std::move(handle.value());
  return Status::Ok();
}

Result<std::unique_ptr<RdKafka::Producer>> KafkaProducer::MakeHandle() {
  const KafkaProducerOptions& options = options_;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Status status = SetAll(
      *conf, {
                 {"bootstrap.servers", options.brokers},
                 {"client.id", options.client_id},
                 {"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"partitioner", "murmur2_random"},
                 {"compression.codec", options.compression},
                 {"linger.ms", std::to_string(options.linger.count())},
                 {"batch.size", std::to_string(options.batch_bytes)},
                 {"batch.num.messages", std::to_string(options.batch_messages)},
                 {"queue.buffering.max.messages", std::to_string(options.queue_messages)},
                 {"delivery.timeout.ms", std::to_string(options.delivery_timeout.count())},
             });
  if (!status.ok()) return status;
  status = SetAll(*conf, options.extra);
  if (!status.ok()) return status;
  std::string errstr;
  if (conf->set("dr_cb", reporter_.get(), errstr) != RdKafka::Conf::CONF_OK) {
    return Status(Code::kKafkaConfig, "dr_cb: " + errstr);
  }
  std::unique_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(conf.get(), errstr));
  if (handle == nullptr) return Status(Code::kKafkaError, "creating the producer: " + errstr);
  return handle;
}

Status KafkaProducer::FailedForGood(RdKafka::Producer* failed) {
  std::string reason;
  const RdKafka::ErrorCode err = failed->fatal_error(reason);
  Status status(Code::kKafkaFatal,
                "producer failed for good: " + RdKafka::err2str(err) + ": " + reason);
  std::unique_lock lock(handle_mu_);
  if (producer_.get() != failed) return status;  // another caller replaced it already
  // What the failed handle still queued is lost with it; the caller was told by `status`.
  if (Result<std::unique_ptr<RdKafka::Producer>> fresh = MakeHandle(); fresh) {
    producer_ = std::move(fresh.value());
    renewals_.fetch_add(1, std::memory_order_relaxed);
  }
  return status;
}

Status KafkaProducer::Produce(std::string_view topic, std::string_view key,
                              std::span<const uint8_t> payload, int64_t timestamp_ms) {
  const std::string topic_name(topic);
  // RK_MSG_COPY: librdkafka copies the payload before produce() returns, so the const_cast
  // never lets it write to the caller's bytes.
  void* bytes = const_cast<uint8_t*>(payload.data());
  const auto deadline = std::chrono::steady_clock::now() + options_.queue_full_wait;
  std::shared_lock lock(handle_mu_);
  RdKafka::Producer* producer = producer_.get();
  while (true) {
    RdKafka::ErrorCode err = producer->produce(
        topic_name, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, bytes,
        payload.size(), key.data(), key.size(), timestamp_ms, /*msg_opaque=*/nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {
      producer->poll(0);  // serve delivery reports so the queue drains
      return Status::Ok();
    }
    if (err == RdKafka::ERR__FATAL) {
      lock.unlock();
      return FailedForGood(producer);
    }
    if (err != RdKafka::ERR__QUEUE_FULL) return KafkaStatus(Code::kKafkaError, "produce", err);
    if (std::chrono::steady_clock::now() >= deadline) {
      return KafkaStatus(Code::kKafkaQueueFull, "produce", err);
    }
    producer->poll(100);  // wait for deliveries to free room
  }
}

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  std::shared_lock lock(handle_mu_);
  RdKafka::Producer* producer = producer_.get();
  RdKafka::ErrorCode err = producer->flush(ToTimeoutMs(timeout));
  if (err == RdKafka::ERR_NO_ERROR) return Status::Ok();
  if (err == RdKafka::ERR__TIMED_OUT) {
    return Status(Code::kKafkaTimeout, "flush: " + std::to_string(producer->outq_len()) +
                                           " messages or requests still outstanding");
  }
  if (err == RdKafka::ERR__FATAL) {
    lock.unlock();
    return FailedForGood(producer);
  }
  return KafkaStatus(Code::kKafkaError, "flush", err);
}

void KafkaProducer::InjectFatalErrorForTesting() {
  std::shared_lock lock(handle_mu_);
  (void)rd_kafka_test_fatal_error(producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "injected by a test");
}

}  // namespace keymeter
