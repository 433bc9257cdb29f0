// Helpers for the integration tests against the broker of scripts/kafka: the broker address
// (KEYMETER_BROKERS, default 127.0.0.1:19092), unique names, and topic creation through
// librdkafka's admin API.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "schemas/status.h"

namespace keymeter::testing {

inline std::string Brokers() {
  const char* value = std::getenv("KEYMETER_BROKERS");
  return (value != nullptr && *value != '\0') ? value : "127.0.0.1:19092";
}

inline std::string RandomHex() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

// Creates `topic` with `partitions` partitions (replication 1) and waits for the answer.
inline Status CreateTopic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", Brokers().c_str(), err, sizeof(err)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status(Code::kKafkaConfig, err);
  }
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)), rd_kafka_destroy);
  if (rk == nullptr) return Status(Code::kKafkaError, err);  // conf is freed by rd_kafka_new
  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> new_topic(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof(err)),
      rd_kafka_NewTopic_destroy);
  if (new_topic == nullptr) return Status(Code::kKafkaConfig, err);
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
      rd_kafka_queue_new(rk.get()), rd_kafka_queue_destroy);
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
      rd_kafka_queue_poll(queue.get(), 30000), rd_kafka_event_destroy);
  if (event == nullptr) return Status(Code::kKafkaTimeout, "CreateTopics did not answer");
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  if (result == nullptr) return Status(Code::kKafkaError, rd_kafka_event_error_string(event.get()));
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      return Status(Code::kKafkaError, why != nullptr ? why : "CreateTopics failed");
    }
  }
  return Status::Ok();
}

}  // namespace keymeter::testing
