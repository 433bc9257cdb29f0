// Helpers shared by the librdkafka wrappers (kafka_producer.cc, kafka_consumer.cc): timeout
// conversion, librdkafka error → Status, and bulk configuration. Internal to consumers/.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace keymeter::kafka_internal {

// librdkafka's timeouts are int milliseconds; longer ones are clamped.
inline int ToTimeoutMs(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return 0;
  if (timeout.count() > std::numeric_limits<int>::max()) return std::numeric_limits<int>::max();
  return static_cast<int>(timeout.count());
}

// "what: <librdkafka's text> (<code>)[: detail]" under the stable `code`.
inline Status KafkaStatus(Code code, std::string_view what, RdKafka::ErrorCode err,
                          const std::string& detail = "") {
  std::string message =
      std::string(what) + ": " + RdKafka::err2str(err) + " (" + std::to_string(err) + ")";
  if (!detail.empty() && detail != RdKafka::err2str(err)) message += ": " + detail;
  return Status(code, std::move(message));
}

// Sets every property; KAFKA-CONFIG naming the first one librdkafka refuses.
inline Status SetAll(RdKafka::Conf& conf,
                     const std::vector<std::pair<std::string, std::string>>& props) {
  std::string errstr;
  for (const auto& [name, value] : props) {
    if (conf.set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      return Status(Code::kKafkaConfig, name + "=" + value + ": " + errstr);
    }
  }
  return Status::Ok();
}

}  // namespace keymeter::kafka_internal
