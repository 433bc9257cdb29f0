// Which members stand by a partition: the one the group gives it to when its owner dies first.

#define BOOST_TEST_MODULE standby_order_test
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "cluster/cluster.h"

namespace keymeter {
namespace {

using Ids = std::vector<std::string>;

BOOST_AUTO_TEST_CASE(range_assignee_deals_runs_as_librdkafka_does) {
  // 4 partitions over 3 members: 0,1 | 2 | 3; over 2: 0,1 | 2,3; over 4: one each.
  const std::vector<size_t> three = {0, 0, 1, 2};
  const std::vector<size_t> two = {0, 0, 1, 1};
  for (int32_t p = 0; p < 4; ++p) {
    BOOST_TEST(RangeAssignee(p, 4, 3) == three[p]);
    BOOST_TEST(RangeAssignee(p, 4, 2) == two[p]);
    BOOST_TEST(RangeAssignee(p, 4, 4) == size_t(p));
    BOOST_TEST(RangeAssignee(p, 4, 1) == 0u);
  }
  // More members than partitions: the first ones get one each.
  BOOST_TEST(RangeAssignee(1, 2, 5) == 1u);
  // 10 over 3: 0-3 | 4-6 | 7-9.
  const std::vector<size_t> ten = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
  for (int32_t p = 0; p < 10; ++p) BOOST_TEST(RangeAssignee(p, 10, 3) == ten[p]);
}

BOOST_AUTO_TEST_CASE(members_sort_as_the_brokers_member_names) {
  // The broker names members "<instance id>-<uuid>": "km-1-…" sorts before "km-10-…", and
  // "km-1+x-…" ('+' < '-') before "km-1-…".
  Ids ids = {"km-10", "km-1", "km-1+x", "km-2"};
  SortAsGroupMembers(ids);
  BOOST_TEST(ids == (Ids{"km-1+x", "km-1", "km-10", "km-2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_heir_stands_by_first) {
  const Ids ring = {"a", "b", "c"};
  // 4 partitions: a owns 0,1, b 2, c 3. Without a, b and c split 0,1 | 2,3.
  BOOST_TEST(StandbysOf(0, 4, ring, "a", 1) == Ids{"b"}, boost::test_tools::per_element());
  BOOST_TEST(StandbysOf(1, 4, ring, "a", 1) == Ids{"b"}, boost::test_tools::per_element());
  // Without b: a 0,1 and c 2,3, so partition 2 goes to c.
  BOOST_TEST(StandbysOf(2, 4, ring, "b", 1) == Ids{"c"}, boost::test_tools::per_element());
  // Without c: a 0,1 | b 2,3: partition 3 goes to b, not to a (c's successor in the ring).
  BOOST_TEST(StandbysOf(3, 4, ring, "c", 1) == Ids{"b"}, boost::test_tools::per_element());
  // Two replicas: the heir, then the ring after the owner, never the owner, never twice.
  BOOST_TEST(StandbysOf(3, 4, ring, "c", 2) == (Ids{"b", "a"}), boost::test_tools::per_element());
  BOOST_TEST(StandbysOf(0, 4, ring, "a", 5) == (Ids{"b", "c"}), boost::test_tools::per_element());
  // An owner that is gone: the heir among the live ones.
  BOOST_TEST(StandbysOf(3, 4, Ids{"a", "b"}, "c", 1) == Ids{"b"}, boost::test_tools::per_element());
  BOOST_TEST(StandbysOf(0, 4, Ids{"a"}, "a", 1).empty());
}

}  // namespace
}  // namespace keymeter
