// EnsureTopic: creates a Kafka topic when it does not exist yet (librdkafka's C Admin API;
// rdkafka++ has none), for the topics keymeter owns itself (the cluster's keymeter.members).
//
// Thread safety: a free function; each call uses a short-lived librdkafka handle of its own.

#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace keymeter {

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = -1;  // -1: the broker's default.replication.factor
  // Topic configs, e.g. {"cleanup.policy", "compact"}.
  std::vector<std::pair<std::string, std::string>> configs;
};

// OK when the topic exists afterwards: created now, or already there (whatever its settings).
// Errors: KAFKA-CONFIG (bad brokers), KAFKA-TIMEOUT, KAFKA-ERROR (the broker refused).
Status EnsureTopic(std::string_view brokers, const TopicSpec& spec,
                   std::chrono::milliseconds timeout);

}  // namespace keymeter
