// Reading a running `keymeter serve`'s /metrics in tests (with Get of
// tests/common/process_fixture.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>

#include "tests/common/process_fixture.h"

namespace keymeter::testing {

// keymeter_partition_next_offset{partition="N"} of the serve on `port` (the offsets it has
// committed); empty when it does not answer.
inline std::map<int32_t, int64_t> MetricOffsets(uint16_t port) {
  std::map<int32_t, int64_t> out;
  auto r = Get(port, "/metrics");
  if (!r) return out;
  static const std::regex line(
      R"re(keymeter_partition_next_offset\{[^}]*partition="(\d+)"[^}]*\} (\d+(\.\d+)?(e\+\d+)?))re");
  const std::string& body = r->body();
  for (std::sregex_iterator it(body.begin(), body.end(), line), end; it != end; ++it) {
    out[std::stoi((*it)[1])] = int64_t(std::stod((*it)[2]));
  }
  return out;
}

// The value of the sample `series` (a metric name with its labels, as /metrics writes them:
// `keymeter_cluster_partitions{role="owned"}`) of the serve on `port`; nullopt when absent.
inline std::optional<double> MetricValue(uint16_t port, const std::string& series) {
  auto r = Get(port, "/metrics");
  if (!r) return std::nullopt;
  const std::string& body = r->body();
  for (size_t at = body.find(series + " "); at != std::string::npos;
       at = body.find(series + " ", at + 1)) {
    if (at == 0 || body[at - 1] == '\n') return std::stod(body.substr(at + series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace keymeter::testing
