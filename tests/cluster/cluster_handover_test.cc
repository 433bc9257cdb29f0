// Handovers under load in a three-member cluster (docs/scale.md, "Handover"):
//   - a rolling restart of every member, one by one (SIGTERM, start again on its data dir; one of
//     them stays down past its session), while a gateway-like client calls plain authorize on
//     the members that are up: every answer is 204 or, only inside the stated window after a
//     member stops, 503 "try again"; standbys answer meanwhile;
//   - the owner of a pool SIGKILLed while clients `reserve` against its daily quota through the
//     other members and post each admitted request's event: the pool admits at least its quota
//     and at most the quota plus the holds the dead owner had (one per client in flight), and the
//     usage counted afterwards is exactly the events posted.
#define BOOST_TEST_MODULE cluster_handover
#include <signal.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/cluster/cluster_fixture.h"

namespace keymeter::testing {
namespace {

// Plain authorize answers are 503 only this long after a member is stopped: its partitions'
// standbys answer at once, and when a member is gone for longer than its session (3 s) the
// group rebalances twice (out, back in); an eager rebalance revokes every partition for a
// moment, which peers learn at their next membership beat (1 s).
constexpr double kRestartWindowSeconds = 8;

std::string NowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string RequestId(int client, int i) {
  char id[33];
  std::snprintf(id, sizeof id, "%016x%016x", 0xc0ffee00 + client, i);
  return id;
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_rolling_restart_keeps_authorize_answering) {
  TempDir tmp;
  TestCluster c(tmp);
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not split the partitions");
  BOOST_REQUIRE_MESSAGE(c.StandbysCovered(0, 20s), "partitions without a standby");
  std::vector<std::string> keys;
  for (size_t i = 0; i < 6; ++i) keys.push_back(MakeAccount(c, i % 3, (i + 1) % 3, "a").key);

  // The gateway: plain authorize on the members that are up, round robin, until told to stop.
  std::atomic<uint16_t> ports[3];
  for (size_t i = 0; i < 3; ++i) ports[i] = c[i].port;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::pair<double, int>> answers;  // GUARDED_BY(mu): (time, status)
  std::map<std::string, int> standby_answers;   // GUARDED_BY(mu): by answering member
  const auto start = Clock::now();
  std::jthread gateway([&] {
    std::vector<std::unique_ptr<http::Client>> clients(3);
    std::vector<uint16_t> seen(3, 0);
    for (size_t n = 0; !stop; ++n) {
      const size_t m = n % 3;
      const uint16_t port = ports[m];
      if (port == 0) continue;  // stopped: a gateway's health check takes it out
      if (port != seen[m]) {
        clients[m] = std::make_unique<http::Client>("127.0.0.1", port, 10s);
        seen[m] = port;
      }
      auto r = clients[m]->Send("GET", "/v1/authorize", "", "", "application/json",
                                {{"X-Api-Key", keys[n % keys.size()]}, {"X-Real-IP", "192.0.2.9"}});
      if (ports[m] != port) continue;  // stopped while it asked
      std::lock_guard lock(mu);
      answers.emplace_back(SecondsSince(start), r ? r.value().status : 0);
      if (r && Header(r.value(), "X-Keymeter-Standby") == "true") {
        ++standby_answers[Header(r.value(), "X-Keymeter-Served-By")];
      }
      std::this_thread::sleep_for(2ms);
    }
  });

  std::vector<double> stopped_at;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(1s);
    ports[i] = 0;
    stopped_at.push_back(SecondsSince(start));
    BOOST_TEST(c.Stop(i) == 0);
    // Member 1 stays down past its session (an upgrade that takes a while): the group moves
    // its partitions to their standbys and back. The others are back before the group notices.
    if (i == 1) std::this_thread::sleep_for(5s);
    c.Start(i);
    ports[i] = c[i].port;
    BOOST_TEST_MESSAGE("member " << i << " stopped at " << stopped_at.back() << " s, up again at "
                                 << SecondsSince(start) << " s");
    BOOST_REQUIRE_MESSAGE(c.Settled(i, 3, 60s), "member " << i << " did not rejoin");
    BOOST_REQUIRE_MESSAGE(c.StandbysCovered(i, 30s), "partitions without a standby");
    BOOST_TEST_MESSAGE("settled again at " << SecondsSince(start) << " s");
  }
  std::this_thread::sleep_for(1s);
  stop = true;
  gateway.join();

  std::map<int, int> statuses;
  double last_error_after_stop = 0;
  for (const auto& [at, status] : answers) {
    ++statuses[status];
    if (status == 204) continue;
    double since = -1;
    for (double s : stopped_at) {
      if (s <= at) since = at - s;
    }
    last_error_after_stop = std::max(last_error_after_stop, since);
    BOOST_TEST_MESSAGE("HTTP " << status << " at " << at << " s (" << since
                               << " s after the last stop)");
    // Never a wrong answer: 204, or 503 "try again" inside the window after a stop.
    BOOST_TEST(status == 503);
    BOOST_TEST((since >= 0 && since <= kRestartWindowSeconds));
  }
  for (const auto& [status, n] : statuses) BOOST_TEST_MESSAGE("HTTP " << status << ": " << n);
  for (const auto& [member, n] : standby_answers) {
    BOOST_TEST_MESSAGE(n << " standby answers by " << member);
  }
  BOOST_TEST_MESSAGE("the last 503 came " << last_error_after_stop << " s after a stop");
  BOOST_TEST(statuses[204] > 1000);
  BOOST_TEST(!standby_answers.empty());  // a stopped owner's standby answered for it
}

BOOST_AUTO_TEST_CASE(reserve_admits_the_quota_and_no_more_across_a_kill) {
  constexpr int kQuota = 300, kClients = 4;
  TempDir tmp;
  TestCluster c(tmp);
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 3, 90s), "the members did not split the partitions");
  BOOST_REQUIRE_MESSAGE(c.StandbysCovered(0, 20s), "partitions without a standby");
  // The account is made through member 2, so member 2 owns it: the one to kill.
  const AccountKeys pool = MakeAccount(c, 2, 1, "pool");
  const std::string key_id = pool.key.substr(0, 8);
  auto quota = c[0].client->Send("PUT", "/v1/keys/" + key_id + "/quota", pool.admin_token,
                                 R"({"daily_requests":)" + std::to_string(kQuota) + "}");
  BOOST_REQUIRE(quota);
  BOOST_REQUIRE_MESSAGE(quota.value().status == 200, quota.value().body);
  auto gateway = c[0].client->Send("POST", "/v1/gateways", kOperatorToken, R"({"name":"gw"})");
  BOOST_REQUIRE(gateway);
  BOOST_REQUIRE_MESSAGE(gateway.value().status == 201, gateway.value().body);
  const std::string gateway_token = Field(gateway.value().body, "token");

  std::atomic<bool> stop{false};
  std::atomic<int> admitted{0}, denied_after_kill{0}, unavailable{0}, failed{0};
  std::atomic<bool> killed{false};
  std::vector<std::jthread> clients;
  const uint16_t ports[2] = {c[0].port, c[1].port};
  for (int k = 0; k < kClients; ++k) {
    clients.emplace_back([&, k] {
      http::Client members[2] = {http::Client("127.0.0.1", ports[0], 10s),
                                 http::Client("127.0.0.1", ports[1], 10s)};
      for (int i = 0; !stop; ++i) {
        const std::string id = RequestId(k, i);
        auto r = members[i % 2].Send(
            "POST", "/v1/authorize", "",
            R"({"key":")" + pool.key + R"(","reserve":true,"request_id":")" + id + "\"}");
        if (r && r.value().status == 503) {
          ++unavailable;
          std::this_thread::sleep_for(50ms);
          continue;
        }
        if (!r || r.value().status != 200) {
          BOOST_TEST_MESSAGE("authorize: " << (r ? r.value().body : r.error().ToString()));
          ++failed;
          continue;
        }
        const std::string reason = http::JsonString(r.value().body, "/reason").value_or("");
        if (reason == "DAILY_QUOTA_EXCEEDED") {
          if (killed) ++denied_after_kill;
          std::this_thread::sleep_for(20ms);
          continue;
        }
        if (reason != "OK") {
          BOOST_TEST_MESSAGE("authorize: " << r.value().body);
          ++failed;
          continue;
        }
        ++admitted;
        // The gateway served it: its event, through whichever member answers, until accepted.
        const std::string line = R"({"request_id":")" + id + R"(","key_id":")" + key_id +
                                 R"(","time":")" + NowRfc3339() + "\"}\n";
        bool posted = false;
        for (int attempt = 0; attempt < 200 && !posted; ++attempt) {
          auto e = members[(i + attempt) % 2].Send("POST", "/v1/events", gateway_token, line,
                                                   "application/x-ndjson");
          posted = e && e.value().status == 200 &&
                   e.value().body.find(R"("accepted":1)") != std::string::npos;
          if (!posted) std::this_thread::sleep_for(50ms);
        }
        if (!posted) ++failed;
      }
    });
  }
  const auto begin = Clock::now();
  while (admitted < kQuota / 3 && Clock::now() - begin < 30s) std::this_thread::sleep_for(5ms);
  BOOST_REQUIRE_MESSAGE(admitted >= kQuota / 3, "only " << admitted << " admitted in 30 s");
  ::kill(c[2].process->pid, SIGKILL);
  killed = true;
  const auto kill_time = Clock::now();
  BOOST_TEST_MESSAGE("SIGKILL of the owner after " << admitted << " admitted");
  while (denied_after_kill < 20 * kClients && Clock::now() - kill_time < 60s) {
    std::this_thread::sleep_for(10ms);
  }
  stop = true;
  clients.clear();
  BOOST_TEST_MESSAGE(admitted << " admitted of a quota of " << kQuota << ", " << unavailable
                              << " answers 503 meanwhile, " << denied_after_kill
                              << " denied after the kill");
  BOOST_TEST(failed == 0);
  BOOST_TEST(denied_after_kill >= 20 * kClients);  // the new owner enforces the quota
  // At least the quota (every hold became an event), and beyond it at most the holds the dead
  // owner had: one per client between its admission and its event.
  BOOST_TEST(admitted >= kQuota);
  BOOST_TEST(admitted <= kQuota + kClients);

  // Every admitted request's event counted once: the pool's usage equals the admissions.
  int64_t counted = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
    auto usage = c[0].client->Send("GET", "/v1/usage?key=" + key_id, pool.admin_token);
    if (usage && usage.value().status == 200) {
      counted = http::JsonInt(usage.value().body, "/totals/requests").value_or(-1);
      if (counted == admitted) break;
    }
    std::this_thread::sleep_for(250ms);
  }
  BOOST_TEST(counted == admitted.load());
}

}  // namespace keymeter::testing
