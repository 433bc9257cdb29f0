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
inline Status CreateTopic(const std::string& topic, int partitions,
                          const std::string& brokers = Brokers()) {
  return EnsureTopic(brokers, {.name = topic, .partitions = partitions, .replication_factor = 1},
                     std::chrono::seconds(30));
}

#ifdef KEYMETER_SOURCE_DIR
// A broker of a test's own, for tests that halt and resume it: scripts/kafka on the shared
// broker's port (KEYMETER_KAFKA_PORT, 19092) + `port_offset`, with `partitions` partitions on
// keymeter.events; stopped on exit.
class PrivateBroker {
 public:
  PrivateBroker(int port_offset, int partitions)
      : port_(SharedPort() + port_offset), partitions_(partitions) {}
  ~PrivateBroker() { (void)Run("stop"); }
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  // scripts/kafka `command` (start, halt, resume, stop); true when it succeeded.
  bool Run(const std::string& command) const {
    const std::string line = "KEYMETER_KAFKA_PORT=" + std::to_string(port_) +
                             " KEYMETER_KAFKA_PARTITIONS=" + std::to_string(partitions_) + " " +
                             KEYMETER_SOURCE_DIR "/scripts/kafka " + command + " >&2";
    return std::system(line.c_str()) == 0;
  }
  std::string brokers() const { return "127.0.0.1:" + std::to_string(port_); }
  // Where scripts/kafka keeps this broker's config and data.
  std::string state_dir() const {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/keymeter-kafka-" +
           std::to_string(port_);
  }

 private:
  static int SharedPort() {
    const char* port = std::getenv("KEYMETER_KAFKA_PORT");
    return port != nullptr && *port != '\0' ? std::atoi(port) : 19092;
  }

  int port_;
  int partitions_;
};
#endif

}  // namespace keymeter::testing
