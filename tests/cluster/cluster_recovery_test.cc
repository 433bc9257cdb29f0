// A member of a three-member cluster killed with SIGKILL mid-stream, then started again on its
// data dir: once the cluster has applied the whole topic, each partition's digest in the store
// of the member that owns it equals the digest of a clean single-process replay of the topic
// (DESIGN §6: nothing lost, nothing counted twice, one decision per partition).
#define BOOST_TEST_MODULE cluster_recovery
#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <set>
#include <thread>

#include "consumers/embedded_log.h"
#include "engine/partition_checksum.h"
#include "engine/store.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/common/serve_metrics.h"
#include "tests/engine/recovery_fixture.h"

namespace keymeter::testing {
namespace {

// Per partition: the id of the member that owns it, as member `i` of `c` sees the cluster.
std::map<int, std::string> OwnerIds(TestCluster& c, size_t i) { return c.View(i).second; }

// The member id of member `i` (every answer names it).
std::string IdOf(TestCluster& c, size_t i) {
  auto r = c[i].client->Send("GET", "/healthz");
  return r ? Header(r.value(), "X-Keymeter-Served-By") : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_member_killed_mid_stream_loses_and_doubles_nothing) {
  TempDir tmp;
  // No webhook senders: the members would append delivery attempts and published alerts of
  // their own (the workload's webhooks and thresholds) once ready, so the topic would not end
  // where the workload does.
  TestCluster c(tmp, Brokers(), /*started=*/3, {"--webhook-senders", "0"});
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not split the partitions");
  // Requests, lifecycle ops, retries and poison over ~20 s, produced straight to the topic as a
  // gateway fleet and admin tools would.
  Workload w = MakeWorkload(31, 40, 1500,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  std::atomic<bool> delivered{false};
  std::thread producer([&] { delivered = ProduceWorkload(Brokers(), c.topic(), w, 20s); });
  std::this_thread::sleep_for(6s);
  BOOST_TEST_MESSAGE("SIGKILL to member 2");
  ::kill(c[2].process->pid, SIGKILL);
  c[2].process->Wait(10s);
  std::this_thread::sleep_for(8s);  // the group gives its partitions to the others meanwhile
  c.Start(2);                       // back on its data dir: static membership
  producer.join();
  BOOST_REQUIRE_MESSAGE(delivered, "the producer lost messages");
  const std::map<int32_t, int64_t> end = EndOffsets(Brokers(), c.topic());
  BOOST_REQUIRE_EQUAL(end.size(), size_t{kPartitions});

  // Wait until the cluster is settled and each partition's owner applied it to the end.
  std::map<int, std::string> owners;
  std::map<std::string, size_t> member_of_id;
  bool caught_up = false;
  for (auto deadline = Clock::now() + 120s; !caught_up && Clock::now() < deadline;) {
    std::this_thread::sleep_for(500ms);
    if (!c.Settled(0, 3, 5s)) continue;
    owners = OwnerIds(c, 0);
    for (size_t i = 0; i < c.size(); ++i) member_of_id[IdOf(c, i)] = i;
    caught_up = owners.size() == size_t(kPartitions);
    for (const auto& [p, owner] : owners) {
      if (!member_of_id.contains(owner)) {
        caught_up = false;
        break;
      }
      const std::map<int32_t, int64_t> applied = MetricOffsets(c[member_of_id[owner]].port);
      caught_up = caught_up && applied.contains(p) && applied.at(p) == end.at(p);
    }
  }
  if (!caught_up) {
    for (const auto& [p, owner] : owners) {
      const auto applied = member_of_id.contains(owner)
                               ? MetricOffsets(c[member_of_id[owner]].port)
                               : std::map<int32_t, int64_t>();
      BOOST_TEST_MESSAGE("partition " << p << ": end " << end.at(p) << ", owner " << owner
                                      << " applied " << (applied.contains(p) ? applied.at(p) : -1));
    }
  }
  BOOST_REQUIRE_MESSAGE(caught_up, "the cluster did not apply the whole topic");
  for (size_t i = 0; i < c.size(); ++i) {
    ::kill(c[i].process->pid, SIGTERM);
    BOOST_TEST(c[i].process->Wait(30s) == 0);
  }

  auto replay = ReplayTopic(tmp.sub("replay"), c.topic(), end, 120s);
  BOOST_REQUIRE(replay != nullptr);
  BOOST_TEST(replay->projector().stats().requests_applied == w.expected.accepted);
  const std::map<int32_t, std::string> reference = PartitionChecksums(replay->store()).value();
  for (const auto& [p, owner] : owners) {
    const size_t i = member_of_id.at(owner);
    auto store = std::move(Store::Open({.path = c.data_dir(int(i)), .read_only = true}).value());
    const std::map<int32_t, std::string> digests = PartitionChecksums(*store).value();
    BOOST_TEST_MESSAGE("partition " << p << ": owner member " << i);
    BOOST_TEST(digests.contains(p));
    if (digests.contains(p)) BOOST_TEST(digests.at(p) == reference.at(p));
  }
}

// A member that follows a partition no more (its owner now another, no standby of it here)
// gives it back after --drop-partition-after: its rows leave the store and memory; what it keeps
// still equals a single-process replay, and every account is still answered through it.
BOOST_AUTO_TEST_CASE(a_member_gives_back_the_partitions_it_no_longer_follows) {
  TempDir tmp;
  TestCluster c(tmp, Brokers(), /*started=*/1,
                {"--standby-replicas", "0", "--drop-partition-after", "2"});
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 1, 60s), "member 0 did not take every partition");
  // Accounts until every partition has one (their ids are random), all applied by member 0;
  // a committed batch is on /metrics before the command that wrote it is answered.
  std::vector<AccountKeys> accounts;
  while (accounts.size() < 64 && MetricOffsets(c[0].port).size() < size_t{kPartitions}) {
    accounts.push_back(MakeAccount(c, 0, 0, "a" + std::to_string(accounts.size())));
  }
  BOOST_REQUIRE_EQUAL(MetricOffsets(c[0].port).size(), size_t{kPartitions});
  c.Start(1);
  c.Start(2);
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not split the partitions");
  const std::string self = IdOf(c, 0);
  std::set<int32_t> kept;
  for (const auto& [p, owner] : OwnerIds(c, 0)) {
    if (owner == self) kept.insert(p);
  }
  BOOST_REQUIRE(!kept.empty());
  BOOST_REQUIRE_LT(kept.size(), size_t{kPartitions});
  // The partitions it gave away leave its /metrics once dropped (2 s after the rebalance).
  std::set<int32_t> reported;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
    reported.clear();
    for (const auto& [p, offset] : MetricOffsets(c[0].port)) reported.insert(p);
    if (reported == kept) break;
    std::this_thread::sleep_for(250ms);
  }
  BOOST_TEST(reported == kept, boost::test_tools::per_element());
  for (const AccountKeys& a : accounts) {
    auto r = Authorize(c[0], a.key);
    BOOST_REQUIRE(r);
    BOOST_TEST(r.value().status == 204);
  }
  const std::map<int32_t, int64_t> end = EndOffsets(Brokers(), c.topic());
  for (size_t i = 0; i < c.size(); ++i) BOOST_TEST(c.Stop(int(i)) == 0);

  auto replay = ReplayTopic(tmp.sub("replay"), c.topic(), end, 120s);
  BOOST_REQUIRE(replay != nullptr);
  const std::map<int32_t, std::string> reference = PartitionChecksums(replay->store()).value();
  auto store = std::move(Store::Open({.path = c.data_dir(0), .read_only = true}).value());
  const std::map<int32_t, std::string> digests = PartitionChecksums(*store).value();
  std::set<int32_t> held;
  for (const auto& [p, digest] : digests) {
    held.insert(p);
    if (reference.contains(p)) BOOST_TEST(digest == reference.at(p));
  }
  BOOST_TEST(held == kept, boost::test_tools::per_element());  // nothing of the others, not -1
}

}  // namespace keymeter::testing
