#include "consumers/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include "consumers/kafka_internal.h"

namespace keymeter {
namespace {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};

}  // namespace

Status EnsureTopic(std::string_view brokers, const TopicSpec& spec,
                   std::chrono::milliseconds timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", std::string(brokers).c_str(), errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status(Code::kKafkaConfig, std::string("bootstrap.servers: ") + errstr);
  }
  // rd_kafka_new takes `conf` over when it succeeds.
  std::unique_ptr<rd_kafka_t, HandleDeleter> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status(Code::kKafkaConfig, std::string("admin handle: ") + errstr);
  }
  std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter> topic(rd_kafka_NewTopic_new(
      spec.name.c_str(), spec.partitions, spec.replication_factor, errstr, sizeof(errstr)));
  if (topic == nullptr) return Status(Code::kKafkaConfig, std::string("new topic: ") + errstr);
  for (const auto& [name, value] : spec.configs) {
    if (rd_kafka_NewTopic_set_config(topic.get(), name.c_str(), value.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status(Code::kKafkaConfig, "topic config " + name + "=" + value);
    }
  }
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, nullptr, queue.get());
  // The result event arrives within the request timeout; wait a little longer for it.
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(rd_kafka_queue_poll(
      queue.get(), kafka_internal::ToTimeoutMs(timeout + std::chrono::seconds(1))));
  if (event == nullptr) return Status(Code::kKafkaTimeout, "create topic " + spec.name);
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
    return Status(err == RD_KAFKA_RESP_ERR__TIMED_OUT ? Code::kKafkaTimeout : Code::kKafkaError,
                  "create topic " + spec.name + ": " + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      continue;
    const char* why = rd_kafka_topic_result_error_string(results[i]);
    return Status(Code::kKafkaError, "create topic " + spec.name + ": " +
                                         (why != nullptr ? why : rd_kafka_err2str(err)));
  }
  return Status::Ok();
}

}  // namespace keymeter
