// Helpers for the integration tests against the broker of scripts/kafka: the broker address
// (KEYMETER_BROKERS, default 127.0.0.1:19092), unique names, and topic creation.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "consumers/kafka_admin.h"
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

// Creates `topic` with `partitions` partitions (replication 1) and waits for the answer (OK
// when it exists already).
inline Status CreateTopic(const std::string& topic, int partitions) {
  return EnsureTopic(Brokers(),
                     {.name = topic, .partitions = partitions, .replication_factor = 1},
                     std::chrono::seconds(30));
}

}  // namespace keymeter::testing
