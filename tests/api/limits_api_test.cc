// The limits (docs/api.md, Limits) through real HTTP against a running `keymeter serve` (embedded
// log, or a real broker in limits_api_test_kafka): each reason code — RATE_LIMITED with its
// RateLimit fields and Retry-After, MEMBER_CAP_EXCEEDED on monthly units, EXPIRED, and
// CREDITS_EXHAUSTED with operator and admin top-ups — the member's own view, and what the
// endpoints refuse.
#define BOOST_TEST_MODULE limits_api
#include <boost/test/unit_test.hpp>

#include "schemas/hex.h"
#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

std::string NewRequestId() {
  static std::mt19937_64 rng(std::random_device{}());
  std::array<uint8_t, 16> id{};
  for (uint8_t& b : id) b = uint8_t(rng());
  return keymeter::ToHex(id);
}

// POST /v1/authorize with reserve (held at once, so each decision sees the ones before).
Reply Reserve(const ApiServer& s, const std::string& key, int units = 1) {
  Reply r = s.Call("POST", "/v1/authorize",
                   R"({"key":")" + key + R"(","reserve":true,"request_id":")" + NewRequestId() +
                       R"(","units":)" + std::to_string(units) + "}");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return r;
}

std::string Reason(const Reply& r) { return r.json().Str("/reason"); }

std::string Id(const std::string& key) { return key.substr(0, 8); }

// One server for the module: each case makes an account of its own.
struct ServerFixture {
  static ApiServer& Shared() {
    static ApiServer s;
    return s;
  }
  ApiServer& server = Shared();
};

struct Account {
  const ApiServer& s;
  std::string token;
  std::string parent;
  std::string child;

  explicit Account(const ApiServer& server) : s(server) {
    token = s.CreateAccount("Limits").second;
    parent = s.IssueKey(token, "owner", "", "active");
    child = s.IssueKey(token, "dev@limits.test", Id(parent), "active");
  }
  Reply Put(const std::string& key, const std::string& what, const std::string& body) const {
    return s.Call("PUT", "/v1/keys/" + Id(key) + "/" + what, body, token);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(limits_api, ServerFixture)

BOOST_AUTO_TEST_CASE(a_pool_rate_limit_admits_exactly_its_limit_and_says_when_to_retry) {
  Account a(server);
  Reply set = a.Put(a.parent, "rate-limits", R"({"per_hour": 3})");
  BOOST_REQUIRE_MESSAGE(set.status == 200, set.body);
  BOOST_TEST(set.json().Int("/rate_limits/per_hour") == 3);
  BOOST_TEST(set.json().Int("/rate_limits/per_second") == 0);
  int admitted = 0;
  for (int i = 0; i < 5; ++i) {
    Reply r = Reserve(server, i % 2 ? a.parent : a.child);
    if (Reason(r) == "OK") {
      ++admitted;
      BOOST_TEST(r.Header("RateLimit-Limit") == "3");
      BOOST_TEST(r.Header("RateLimit-Policy") == "3;w=3600");
      continue;
    }
    BOOST_TEST(Reason(r) == "RATE_LIMITED");
    BOOST_TEST(r.Header("RateLimit-Remaining") == "0");
    BOOST_TEST(r.json().Int("/rate_limit/window_seconds") == 3600);
    const int retry = std::stoi(r.Header("Retry-After"));
    BOOST_TEST((retry >= 1 && retry <= 3600));
    BOOST_TEST(r.Header("RateLimit-Reset") == r.Header("Retry-After"));
  }
  BOOST_TEST(admitted == 3);
  // The admin reads the limit back; a member's own limit sits inside the pool's.
  BOOST_TEST(a.Put(a.child, "rate-limits", R"({"per_minute": 1, "per_hour": 100})").status == 200);
  Reply key = server.Call("GET", "/v1/keys/" + Id(a.child), "", a.token);
  BOOST_TEST(key.json().Int("/rate_limits/per_minute") == 1);
  // Refused input.
  BOOST_TEST(a.Put(a.parent, "rate-limits", R"({"per_second": -1})").code() == "INVALID_FIELD");
  BOOST_TEST(a.Put(a.parent, "rate-limits", R"({"per_day": 1})").code() == "INVALID_FIELD");
}

BOOST_AUTO_TEST_CASE(a_member_monthly_cap_counts_units_inside_the_pool) {
  Account a(server);
  Reply cap = a.Put(a.child, "cap", R"({"monthly_units": 5})");
  BOOST_REQUIRE_MESSAGE(cap.status == 200, cap.body);
  BOOST_TEST(cap.json().Int("/cap/monthly_units") == 5);
  BOOST_TEST(Reason(Reserve(server, a.child, 3)) == "OK");
  Reply over = Reserve(server, a.child, 3);
  BOOST_TEST(Reason(over) == "MEMBER_CAP_EXCEEDED");
  BOOST_TEST(!over.Header("Retry-After").empty());  // the next month
  BOOST_TEST(Reason(Reserve(server, a.parent, 3)) == "OK");  // the pool has room
  // The member sees its own caps and what is left; never the pool's quota.
  Reply me = server.Call("GET", "/v1/me", "", a.child);
  BOOST_REQUIRE(me.status == 200);
  BOOST_TEST(me.json().Int("/limits/monthly_units") == 5);
  BOOST_TEST(!me.json().Has("/quota"));
  BOOST_TEST(a.Put(a.parent, "cap", R"({"monthly_units": 5})").code() == "NOT-A-CHILD-KEY");
}

BOOST_AUTO_TEST_CASE(an_expired_key_and_its_children_are_refused) {
  Account a(server);
  Reply set = a.Put(a.parent, "expiry", R"({"expires_at": "2020-01-01T00:00:00Z"})");
  BOOST_REQUIRE_MESSAGE(set.status == 200, set.body);
  BOOST_TEST(set.json().Str("/expires_at") == "2020-01-01T00:00:00Z");
  for (const std::string& key : {a.parent, a.child}) {
    Reply r = server.Call("GET", "/v1/authorize", "", key);
    BOOST_TEST(r.status == 403);
    BOOST_TEST(r.Header("X-Keymeter-Reason") == "EXPIRED");
  }
  BOOST_TEST(server.Call("GET", "/v1/keys/" + Id(a.child), "", a.token)
                 .json()
                 .Str("/effective_expires_at") == "2020-01-01T00:00:00Z");
  BOOST_TEST(a.Put(a.parent, "expiry", R"({"expires_at": null})").status == 200);
  BOOST_TEST(server.Call("GET", "/v1/authorize", "", a.child).status == 204);
  // Issued with an expiry.
  Reply issued = server.Call(
      "POST", "/v1/keys", R"({"label":"temp","status":"active","expires_at":"2099-01-01T00:00:00Z"})",
      a.token);
  BOOST_REQUIRE_MESSAGE(issued.status == 201, issued.body);
  const std::string temp = issued.json().Str("/key");
  BOOST_TEST(server.Call("GET", "/v1/authorize", "", temp).status == 204);
  BOOST_TEST(server.Call("GET", "/v1/keys/" + Id(temp), "", a.token).json().Str("/expires_at") ==
             "2099-01-01T00:00:00Z");
  BOOST_TEST(a.Put(a.parent, "expiry", R"({"expires_at": "soon"})").code() == "INVALID_FIELD");
}

BOOST_AUTO_TEST_CASE(credits_are_spent_topped_up_and_listed) {
  Account a(server);
  Reply added = server.Call("POST", "/v1/keys/" + Id(a.parent) + "/credits",
                            R"({"units": 5, "reason": "trial"})", a.token);
  BOOST_REQUIRE_MESSAGE(added.status == 200, added.body);
  BOOST_TEST(added.json().Int("/credits/balance") == 5);
  BOOST_TEST(Reason(Reserve(server, a.child, 3)) == "OK");
  Reply empty = Reserve(server, a.child, 3);
  BOOST_TEST(Reason(empty) == "CREDITS_EXHAUSTED");
  BOOST_TEST(empty.json().Int("/remaining/credits") == 2);
  // The operator tops it up too.
  Reply topped = server.Call("POST", "/v1/keys/" + Id(a.parent) + "/credits",
                             R"({"units": 10, "reason": "invoice 7"})", kOperatorToken);
  BOOST_REQUIRE_MESSAGE(topped.status == 200, topped.body);
  BOOST_TEST(Reason(Reserve(server, a.child, 3)) == "OK");
  // Refill settings, the balance and the history.
  Reply refill = server.Call("PUT", "/v1/keys/" + Id(a.parent) + "/credits",
                             R"({"refill_units": 100, "refill_period": "month"})", a.token);
  BOOST_REQUIRE_MESSAGE(refill.status == 200, refill.body);
  BOOST_TEST(refill.json().Str("/credits/refill/period") == "month");
  Reply listed = server.Call("GET", "/v1/keys/" + Id(a.parent) + "/credits", "", a.token);
  BOOST_REQUIRE(listed.status == 200);
  BOOST_TEST(listed.json().Int("/credits/balance") == 15);  // reservations are not spent yet
  BOOST_TEST(listed.json().Size("/entries") == 3u);
  BOOST_TEST(listed.json().Str("/entries/0/op") == "CreditsConfigSet");
  BOOST_TEST(listed.json().Str("/entries/1/actor/kind") == "operator");
  // Refused: on a child, no units, a period without units, a member.
  BOOST_TEST(server.Call("POST", "/v1/keys/" + Id(a.child) + "/credits", R"({"units": 1})", a.token)
                 .code() == "NOT-A-ROOT-KEY");
  BOOST_TEST(server.Call("POST", "/v1/keys/" + Id(a.parent) + "/credits", R"({"units": 0})", a.token)
                 .code() == "MISSING_FIELD");
  BOOST_TEST(server.Call("PUT", "/v1/keys/" + Id(a.parent) + "/credits",
                         R"({"refill_period": "day"})", a.token)
                 .code() == "INVALID_FIELD");
  BOOST_TEST(server.Call("GET", "/v1/keys/" + Id(a.parent) + "/credits", "", a.child).status == 403);
  // Billing shows the pool's balance beside its month (the operator's view of every account).
  const std::string month = listed.json().Str("/entries/0/time").substr(0, 7);
  Reply billing = server.Call("GET", "/v1/billing/usage?month=" + month, "", kOperatorToken);
  BOOST_REQUIRE(billing.status == 200);
  BOOST_TEST(billing.body.find(R"("key_id":")" + Id(a.parent) + R"(","label":"owner")") !=
             std::string::npos);
  BOOST_TEST(billing.body.find(R"("balance":15,"refill":{"units":100,"period":"month")") !=
             std::string::npos);
  // The member sees what its pool's credits leave.
  BOOST_TEST(server.Call("GET", "/v1/me", "", a.child).json().Has("/remaining/credits"));
}

BOOST_AUTO_TEST_SUITE_END()
