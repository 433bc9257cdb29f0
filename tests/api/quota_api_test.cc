// Seed 002's shared quota and member rights, and exact quotas with reserve, through real HTTP
// against a running `keymeter serve` (embedded log, or a real broker in quota_api_test_kafka):
//   - a parent with a daily quota of N and three members: once the family made N requests
//     (authorized, then published as events like a gateway does), request N+1 gets 429
//     DAILY_QUOTA_EXCEEDED whichever member sends it;
//   - the owner sees every member's requests in its request log, a member only its own;
//   - a suspended member gets 403 SUSPENDED; a deleted member's key never authorizes again, even
//     once the pool has room and the owner tries to reactivate it;
//   - a burst of concurrent `reserve` calls against a quota of N admits exactly N.
#define BOOST_TEST_MODULE quota_api
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <thread>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// GET /v1/authorize with the key as a bearer token: the decision's HTTP status and reason code
// (the X-Keymeter-Reason header is not kept by HttpCall; the POST form carries the reason).
struct Decision {
  bool allowed = false;
  std::string reason;
};

Decision Authorize(const ApiServer& s, const std::string& key) {
  Reply r = s.Call("POST", "/v1/authorize", R"({"key":")" + key + R"("})");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  Json j = r.json();
  return {j.Bool("/allowed"), j.Str("/reason")};
}

// Waits until `key`'s pool shows `remaining` daily requests (the events were applied).
void WaitRemaining(const ApiServer& s, const std::string& key, int64_t remaining) {
  int64_t last = -2;
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    Reply r = s.Call("POST", "/v1/authorize", R"({"key":")" + key + R"("})");
    last = r.json().Int("/remaining/daily_requests");
    if (last == remaining) return;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_FAIL("remaining stayed " << last << ", expected " << remaining);
}

struct Family {
  const ApiServer& server;
  std::string token;
  std::string parent_key;
  std::vector<std::string> member_keys;

  Family(const ApiServer& s, int daily_quota, int members) : server(s) {
    token = s.CreateAccount("Family").second;
    parent_key = s.IssueKey(token, "owner", "", "active");
    for (int i = 0; i < members; ++i) {
      member_keys.push_back(
          s.IssueKey(token, "member" + std::to_string(i) + "@example.com", Id(parent_key), "active"));
    }
    Reply quota = s.Call("PUT", "/v1/keys/" + Id(parent_key) + "/quota",
                         R"({"daily_requests":)" + std::to_string(daily_quota) + "}", token);
    BOOST_REQUIRE_MESSAGE(quota.status == 200, quota.status << " " << quota.body);
  }
  static std::string Id(const std::string& key) { return key.substr(0, 8); }
  Reply AsOwner(const std::string& method, const std::string& target,
                const std::string& body = {}) const {
    return server.Call(method, target, body, token);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(members_share_the_parents_daily_quota_and_the_owner_sees_all) {
  constexpr int kQuota = 7;
  ApiServer s;
  Family f(s, kQuota, 3);

  // The gateway's loop: authorize, then publish the request event. Members take turns.
  std::string events;
  std::map<std::string, int> sent_by;
  for (int i = 0; i < kQuota; ++i) {
    const std::string& key = f.member_keys[size_t(i) % 3];
    const Decision d = Authorize(s, key);
    BOOST_REQUIRE_MESSAGE(d.allowed, "request " << i << ": " << d.reason);
    events += EventLine(Family::Id(key), i, 30 - i, "search", 200);
    ++sent_by[Family::Id(key)];
  }
  s.PostEvents(events);
  WaitRemaining(s, f.parent_key, 0);  // counted in memory at apply...
  for (const auto& [id, n] : sent_by) s.WaitForRequests(f.token, id, size_t(n));  // ...and committed

  // Request N+1 of the family, whoever sends it.
  for (const std::string& key : f.member_keys) {
    const Decision d = Authorize(s, key);
    BOOST_TEST(!d.allowed);
    BOOST_TEST(d.reason == "DAILY_QUOTA_EXCEEDED");
  }
  BOOST_TEST(Authorize(s, f.parent_key).reason == "DAILY_QUOTA_EXCEEDED");
  // GET /v1/authorize answers it as 429 for nginx's auth_request.
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, f.member_keys[1]).status == 429);

  // The owner's request log holds every member's requests; a member sees only its own.
  const Reply log = f.AsOwner("GET", "/v1/requests?limit=100");
  Json all = log.json();
  BOOST_REQUIRE_MESSAGE(all.Size("/requests") == size_t(kQuota), log.status << " " << log.body);
  std::set<std::string> seen;
  for (size_t i = 0; i < size_t(kQuota); ++i) {
    seen.insert(all.Str("/requests/" + std::to_string(i) + "/key_id"));
  }
  BOOST_TEST(seen.size() == 3u);
  for (const std::string& key : f.member_keys) {
    Json own = s.Call("GET", "/v1/me/requests?limit=100", {}, key).json();
    BOOST_TEST(own.Size("/requests") == size_t(sent_by[Family::Id(key)]));
    for (size_t i = 0; i < own.Size("/requests"); ++i) {
      BOOST_TEST(own.Str("/requests/" + std::to_string(i) + "/key_id") == Family::Id(key));
    }
  }

  // Room again in the pool: a suspended member is refused for its status, a deleted member for
  // good — reactivating it is refused too.
  BOOST_REQUIRE_EQUAL(f.AsOwner("PUT", "/v1/keys/" + Family::Id(f.parent_key) + "/quota",
                                R"({"daily_requests":1000})")
                          .status,
                      200);
  const std::string suspended = f.member_keys[1], deleted = f.member_keys[2];
  BOOST_REQUIRE_EQUAL(f.AsOwner("POST", "/v1/keys/" + Family::Id(suspended) + "/suspend").status,
                      200);
  BOOST_REQUIRE_EQUAL(f.AsOwner("DELETE", "/v1/keys/" + Family::Id(deleted)).status, 200);
  BOOST_TEST(Authorize(s, f.member_keys[0]).allowed);
  BOOST_TEST(Authorize(s, suspended).reason == "SUSPENDED");
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, suspended).status == 403);
  BOOST_TEST(Authorize(s, deleted).reason == "DELETED");
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, deleted).status == 403);
  BOOST_TEST(f.AsOwner("POST", "/v1/keys/" + Family::Id(deleted) + "/activate").status == 409);
  BOOST_TEST(Authorize(s, deleted).reason == "DELETED");
  // The suspended member comes back; the deleted one does not.
  BOOST_REQUIRE_EQUAL(f.AsOwner("POST", "/v1/keys/" + Family::Id(suspended) + "/activate").status,
                      200);
  BOOST_TEST(Authorize(s, suspended).allowed);
  BOOST_TEST(!Authorize(s, deleted).allowed);
}

BOOST_AUTO_TEST_CASE(a_burst_of_concurrent_reserves_admits_exactly_the_quota) {
  constexpr int kQuota = 20, kThreads = 8, kPerThread = 10;
  ApiServer s;
  Family f(s, kQuota, 4);
  std::atomic<int> admitted{0}, denied{0}, failed{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        char id[33];
        std::snprintf(id, sizeof id, "%016x%016x", 0xb0 + t, i);
        const Reply r = s.Call("POST", "/v1/authorize",
                               R"({"key":")" + f.member_keys[size_t(t + i) % 4] +
                                   R"(","reserve":true,"request_id":")" + id + "\"}");
        const Json j = r.json();
        if (r.status != 200) {
          ++failed;
        } else if (j.Bool("/allowed")) {
          ++admitted;
        } else if (j.Str("/reason") == "DAILY_QUOTA_EXCEEDED") {
          ++denied;
        } else {
          ++failed;
        }
      }
    });
  }
  threads.clear();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(admitted.load() == kQuota);
  BOOST_TEST(denied.load() == kThreads * kPerThread - kQuota);
  BOOST_TEST(Authorize(s, f.parent_key).reason == "DAILY_QUOTA_EXCEEDED");
}
