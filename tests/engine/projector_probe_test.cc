// The lag gauges of ProjectorProbe: log end minus the committed next offset per partition,
// never negative, and a partition the source stops reporting (revoked) loses its series.
#define BOOST_TEST_MODULE projector_probe
#include "engine/projector_probe.h"

#include <boost/test/unit_test.hpp>

using namespace keymeter;

namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(lag_is_the_log_end_minus_the_committed_next_offset) {
  Metrics metrics;
  ProjectorProbe probe(metrics);
  std::map<int32_t, PartitionRecord> parts;
  parts[0].next_offset = 4;
  parts[1].next_offset = 9;  // ahead of a stale cached end: lag 0, not negative
  probe.LogEnds({{0, 10}, {1, 7}, {2, 5}}, parts);
  std::string text = metrics.Serialize();
  BOOST_TEST(Has(text, R"(keymeter_partition_lag_messages{partition="0"} 6)"), text);
  BOOST_TEST(Has(text, R"(keymeter_partition_lag_messages{partition="1"} 0)"), text);
  BOOST_TEST(Has(text, R"(keymeter_partition_lag_messages{partition="2"} 5)"), text);
  BOOST_TEST(Has(text, R"(keymeter_partition_log_end_offset{partition="0"} 10)"), text);

  // Partition 2 revoked, 0 caught up.
  parts[0].next_offset = 12;
  probe.LogEnds({{0, 12}, {1, 9}}, parts);
  text = metrics.Serialize();
  BOOST_TEST(Has(text, R"(keymeter_partition_lag_messages{partition="0"} 0)"), text);
  BOOST_TEST(text.find(R"(partition="2")") == std::string::npos, text);
  probe.LogEnds({}, parts);  // a source that can't tell: no lag series at all
  BOOST_TEST(metrics.Serialize().find("keymeter_partition_lag_messages{") == std::string::npos);
}
