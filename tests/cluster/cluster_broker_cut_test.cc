// A cluster cut from its broker (a private one, scripts/kafka halt on KEYMETER_KAFKA_PORT + 300):
// once their group session has run out, the members stop claiming ownership — none names itself
// the owner of any partition and `reserve` gets 503 OWNER-UNAVAILABLE everywhere, while plain
// authorize is still answered from the copies the members hold — and when the broker is back
// they split the partitions again and answer as owners, having dropped nothing meanwhile.
#define BOOST_TEST_MODULE cluster_broker_cut
#include <simdjson.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "tests/cluster/cluster_fixture.h"
#include "tests/common/serve_metrics.h"

namespace keymeter::testing {
namespace {

Result<http::ClientReply> Reserve(Member& m, const std::string& key, int n) {
  char id[33];
  std::snprintf(id, sizeof id, "%016x%016x", 0xc07, n);
  return m.client->Send("GET", "/v1/authorize", "", "", "application/json",
                        {{"X-Api-Key", key}, {"X-Reserve", "true"}, {"X-Request-Id", id}});
}

// The partitions member `m` names itself the owner of in its GET /v1/cluster.
size_t SelfOwned(Member& m) {
  auto r = m.client->Send("GET", "/v1/cluster", kOperatorToken);
  if (!r || r.value().status != 200) return size_t(-1);
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(r.value().body);
  const std::string_view self = root["member_id"];
  size_t owned = 0;
  for (simdjson::dom::element o : root["owners"].get_array()) {
    std::string_view owner;
    if (o["owner"].get_string().get(owner) == simdjson::SUCCESS && owner == self) ++owned;
  }
  return owned;
}

}  // namespace

BOOST_AUTO_TEST_CASE(members_cut_from_the_broker_stop_claiming_ownership) {
  PrivateBroker broker(/*port_offset=*/300, kPartitions);
  BOOST_REQUIRE_MESSAGE(broker.Run("start"), "scripts/kafka start failed");
  TempDir tmp;
  // Partitions not followed for 3 s are dropped, but only while another member holds them:
  // an outage takes every partition from every member, and none may be dropped for it.
  TestCluster c(tmp, broker.brokers(), 3, {"--drop-partition-after", "3"});
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not split the partitions");
  BOOST_REQUIRE_MESSAGE(c.StandbysCovered(0, 20s), "partitions without a standby");
  std::vector<AccountKeys> accounts;
  for (size_t i = 0; i < 3; ++i) accounts.push_back(MakeAccount(c, i, (i + 1) % 3, "cut"));
  int n = 0;
  for (size_t m = 0; m < 3; ++m) {
    BOOST_TEST(SelfOwned(c[m]) >= 1u);
    for (const AccountKeys& a : accounts) {
      auto r = Reserve(c[m], a.key, n++);
      BOOST_REQUIRE(r);
      BOOST_TEST(r.value().status == 204);
    }
  }

  std::vector<double> dropped_before;
  for (size_t m = 0; m < 3; ++m) {
    dropped_before.push_back(
        MetricValue(c[m].port, "keymeter_partitions_dropped_total").value_or(-1));
  }
  BOOST_REQUIRE(broker.Run("halt"));
  const auto halted = Clock::now();
  // A 3 s session: each member revokes its partitions as lost when it has not heard from the
  // coordinator for that long, and its peers' records of it stop being live after 4 s.
  bool released = false;
  while (!released && Clock::now() - halted < 30s) {
    released = true;
    for (size_t m = 0; m < 3; ++m) released = released && SelfOwned(c[m]) == 0;
    if (!released) std::this_thread::sleep_for(250ms);
  }
  BOOST_TEST_MESSAGE("no member claims a partition "
                     << std::chrono::duration<double>(Clock::now() - halted).count()
                     << " s after the broker was halted");
  BOOST_REQUIRE(released);
  std::this_thread::sleep_for(5s);  // every peer record expired too
  size_t copies = 0;
  for (size_t m = 0; m < 3; ++m) {
    for (const AccountKeys& a : accounts) {
      auto r = Reserve(c[m], a.key, n++);
      BOOST_REQUIRE(r);
      BOOST_TEST(r.value().status == 503);
      BOOST_TEST(http::JsonString(r.value().body, "/error/code").value_or("") ==
                 "OWNER-UNAVAILABLE");
      auto plain = Authorize(c[m], a.key);
      BOOST_REQUIRE(plain);
      // Plain authorize: from this member's copy when it holds the key, else "try again".
      BOOST_TEST((plain.value().status == 204 || plain.value().status == 503));
      if (plain.value().status == 204) {
        BOOST_TEST(Header(plain.value(), "X-Keymeter-Standby") == "true");
        ++copies;
      }
    }
    auto ready = c[m].client->Send("GET", "/readyz");
    BOOST_REQUIRE(ready);
    BOOST_TEST(ready.value().status == 503);
  }
  BOOST_TEST(copies >= accounts.size());  // each key's owner and standby hold a copy
  // Well past --drop-partition-after with nothing followed: nothing was dropped for it.
  for (size_t m = 0; m < 3; ++m) {
    BOOST_TEST(MetricValue(c[m].port, "keymeter_partitions_dropped_total").value_or(-2) ==
               dropped_before[m]);
  }

  BOOST_REQUIRE(broker.Run("resume"));
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not take the partitions back");
  for (size_t m = 0; m < 3; ++m) {
    for (const AccountKeys& a : accounts) {
      bool answered = false;
      for (auto deadline = Clock::now() + 20s; !answered && Clock::now() < deadline;) {
        auto r = Reserve(c[m], a.key, n++);
        answered = r && r.value().status == 204;
        if (!answered) std::this_thread::sleep_for(250ms);
      }
      BOOST_TEST(answered);
    }
  }
}

// A broker with Kafka's own group.min.session.timeout.ms (6 s) refuses keymeter's 3 s session:
// the member asks for a longer one, joins, and its log says why handovers are slower.
BOOST_AUTO_TEST_CASE(a_broker_that_refuses_short_sessions_gets_a_longer_one) {
  PrivateBroker broker(/*port_offset=*/400, kPartitions);
  BOOST_REQUIRE_MESSAGE(broker.Run("start"), "scripts/kafka start failed");
  BOOST_REQUIRE(broker.Run("halt"));
  const std::string config = broker.state_dir() + "/server.properties";
  std::string kept;
  {
    std::ifstream in(config);
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("group.min.session.timeout.ms=")) kept += line + "\n";
    }
  }
  BOOST_REQUIRE(kept.find("log.dirs=") != std::string::npos);
  std::ofstream(config) << kept;  // Kafka's default minimum from here on
  BOOST_REQUIRE(broker.Run("resume"));
  TempDir tmp;
  TestCluster c(tmp, broker.brokers(), /*started=*/1);
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 1, 90s), "the member did not join the group");
  const std::string log = ReadFile(tmp.sub("err0"));
  BOOST_TEST(log.find("the broker refuses a 3000 ms group session") != std::string::npos);
  BOOST_TEST(log.find("trying 6000 ms") != std::string::npos);
  // Ready once its first empty poll after catching up says so (settled only needs it within
  // 1,000 messages of the end): within a few polls.
  int status = 0;
  for (const auto deadline = Clock::now() + 15s; status != 200 && Clock::now() < deadline;) {
    auto ready = c[0].client->Send("GET", "/readyz");
    status = ready ? ready.value().status : 0;
    if (status != 200) std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(status == 200);
}

}  // namespace keymeter::testing
