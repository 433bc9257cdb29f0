// Idempotency-Key (docs/api.md) against a real `keymeter serve`: on the embedded log, on a real
// broker (idempotency_api_test_kafka) and on a cluster of three, where each retry goes to the
// next member (idempotency_api_test_cluster). A retried write gets the first attempt's outcome
// and the same ids and plain secrets, and changes nothing twice — also after a restart; the same
// key with another request is refused; keys are per credential; a malformed key is a 400.
#define BOOST_TEST_MODULE idempotency_api_test
#include <boost/test/unit_test.hpp>

#include "tests/api/api_fixture.h"
#include "tests/common/serve_metrics.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// The number of the account's keys labelled `label` (GET /v1/keys).
size_t KeysLabelled(const ApiServer& s, const std::string& token, const std::string& label) {
  Reply r = s.Call("GET", "/v1/keys", {}, token);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  const Json j = r.json();
  size_t n = 0;
  for (size_t i = 0; i < j.Size(); ++i) {
    std::string at = "/";
    at += std::to_string(i);
    n += j.Str(at + "/label") == label ? 1 : 0;
  }
  return n;
}

// The audit entries of `key_id` for `op`.
size_t Audited(const ApiServer& s, const std::string& token, const std::string& key_id,
               const std::string& op) {
  Reply r = s.Call("GET", "/v1/audit?limit=1000&key=" + key_id, {}, token);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  const Json j = r.json();
  size_t n = 0;
  for (size_t i = 0; i < j.Size("/entries"); ++i) {
    n += j.Str("/entries/" + std::to_string(i) + "/op") == op ? 1 : 0;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_retried_issue_hands_out_the_same_key_once) {
  ApiServer s;
  const auto [account, admin] = s.CreateAccount("retry");
  const std::string body = R"({"label":"ci","status":"active"})";
  Reply first = s.CallKeyed("issue-ci-1", "POST", "/v1/keys", body, admin);
  BOOST_REQUIRE_MESSAGE(first.status == 201, first.status << " " << first.body);
  const std::string key = first.json().Str("/key");
  for (int retry = 0; retry < 3; ++retry) {
    Reply again = s.CallKeyed("issue-ci-1", "POST", "/v1/keys", body, admin);
    BOOST_REQUIRE_MESSAGE(again.status == 201, again.status << " " << again.body);
    BOOST_TEST(again.body == first.body);
  }
  BOOST_TEST(KeysLabelled(s, admin, "ci") == 1u);
  BOOST_TEST(Audited(s, admin, key.substr(0, 8), "KeyIssued") == 1u);
  // The plain key handed out twice is the key's: it signs in as the member.
  Reply me = s.Call("GET", "/v1/me", {}, key);
  BOOST_TEST(me.status == 200, me.body);
  // The same key for another request is refused, and changes nothing.
  Reply reused = s.CallKeyed("issue-ci-1", "POST", "/v1/keys", R"({"label":"other"})", admin);
  BOOST_TEST(reused.status == 422, reused.body);
  BOOST_TEST(reused.code() == "IDEMPOTENCY-KEY-REUSED");
  BOOST_TEST(KeysLabelled(s, admin, "other") == 0u);
  // Keys are per credential: another account's admin with the same key makes its own.
  const auto [other_account, other_admin] = s.CreateAccount("retry-other");
  Reply theirs = s.CallKeyed("issue-ci-1", "POST", "/v1/keys", body, other_admin);
  BOOST_REQUIRE_EQUAL(theirs.status, 201);
  BOOST_TEST(theirs.json().Str("/key") != key);
  // Without a key, the same request twice is two keys (what the header prevents).
  BOOST_REQUIRE_EQUAL(s.Call("POST", "/v1/keys", R"({"label":"twice"})", admin).status, 201);
  BOOST_REQUIRE_EQUAL(s.Call("POST", "/v1/keys", R"({"label":"twice"})", admin).status, 201);
  BOOST_TEST(KeysLabelled(s, admin, "twice") == 2u);
  if (!ClusterMode()) {
    const std::optional<double> retried = MetricValue(s.port(), "keymeter_commands_retried_total");
    BOOST_TEST(retried.value_or(0) >= 4.0);
  }
}

BOOST_AUTO_TEST_CASE(a_retry_gets_the_first_outcome_not_a_second_change) {
  ApiServer s;
  const auto [account, admin] = s.CreateAccount("outcomes");
  const std::string key = s.IssueKey(admin, "member", "", "active");
  const std::string id = key.substr(0, 8);
  const std::string path = "/v1/keys/" + id;
  Reply deleted = s.CallKeyed("delete-1", "DELETE", path, {}, admin);
  BOOST_REQUIRE_MESSAGE(deleted.status == 200, deleted.status << " " << deleted.body);
  Reply retried = s.CallKeyed("delete-1", "DELETE", path, {}, admin);
  BOOST_TEST(retried.status == 200, retried.body);
  BOOST_TEST(retried.json().Str("/status") == "deleted");
  // Sent anew (another key), the delete is refused: the retry was not applied again.
  Reply anew = s.CallKeyed("delete-2", "DELETE", path, {}, admin);
  BOOST_TEST(anew.status == 409, anew.body);
  BOOST_TEST(anew.code() == "KEY-DELETED");
  BOOST_TEST(Audited(s, admin, id, "KeyDeleted") == 2u);  // delete-1 once, delete-2's refusal
  // A refusal is a first outcome too: its retry is refused the same way.
  Reply again = s.CallKeyed("delete-2", "DELETE", path, {}, admin);
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.code() == "KEY-DELETED");
  BOOST_TEST(Audited(s, admin, id, "KeyDeleted") == 2u);

  // Rotations: the retry hands out the same new secret, with the same grace.
  const std::string live = s.IssueKey(admin, "rotating", "", "active");
  const std::string rotate = "/v1/keys/" + live.substr(0, 8) + "/rotate";
  Reply r1 = s.CallKeyed("rotate-1", "POST", rotate, R"({"grace_seconds":600})", admin);
  BOOST_REQUIRE_MESSAGE(r1.status == 200, r1.status << " " << r1.body);
  std::this_thread::sleep_for(1100ms);  // a retry's clock differs from the first attempt's
  Reply r2 = s.CallKeyed("rotate-1", "POST", rotate, R"({"grace_seconds":600})", admin);
  BOOST_TEST(r2.body == r1.body);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, r1.json().Str("/key")).status == 200);
  // A member's own rotation: once applied, the key it was sent with no longer signs in, so its
  // retry is a 401 (docs/api.md: the admin's rotate is the way back); nothing rotates twice.
  const std::string fresh = r1.json().Str("/key");
  Reply m1 = s.CallKeyed("me-rotate", "POST", "/v1/me/rotate", R"({"grace_seconds":0})", fresh);
  BOOST_REQUIRE_MESSAGE(m1.status == 200, m1.status << " " << m1.body);
  Reply m2 = s.CallKeyed("me-rotate", "POST", "/v1/me/rotate", R"({"grace_seconds":0})", fresh);
  BOOST_TEST(m2.status == 401);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, m1.json().Str("/key")).status == 200);
}

BOOST_AUTO_TEST_CASE(the_operator_retries_an_account_and_it_survives_a_restart) {
  ApiServer s;
  const std::string body = R"({"name":"keyed-account"})";
  Reply first = s.CallKeyed("acct-1", "POST", "/v1/accounts", body, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(first.status == 201, first.status << " " << first.body);
  const std::string admin = first.json().Str("/admin_token");
  Reply issued = s.CallKeyed("key-1", "POST", "/v1/keys", R"({"label":"kept"})", admin);
  BOOST_REQUIRE_EQUAL(issued.status, 201);
  BOOST_REQUIRE_EQUAL(s.Stop(), 0);

  ApiServer restarted({}, s.data_dir());
  Reply again = restarted.CallKeyed("acct-1", "POST", "/v1/accounts", body, kOperatorToken);
  BOOST_TEST(again.status == 201, again.body);
  BOOST_TEST(again.body == first.body);
  Reply reissued = restarted.CallKeyed("key-1", "POST", "/v1/keys", R"({"label":"kept"})", admin);
  BOOST_TEST(reissued.status == 201);
  BOOST_TEST(reissued.body == issued.body);
  BOOST_TEST(KeysLabelled(restarted, admin, "kept") == 1u);
}

BOOST_AUTO_TEST_CASE(a_malformed_key_is_refused_before_anything_runs) {
  ApiServer s;
  const auto [account, admin] = s.CreateAccount("malformed");
  for (const std::string& bad : {std::string(256, 'k'), std::string("two words")}) {
    Reply r = s.CallKeyed(bad, "POST", "/v1/keys", R"({"label":"bad"})", admin);
    BOOST_TEST(r.status == 400, r.body);
    BOOST_TEST(r.code() == "INVALID_FIELD");
  }
  BOOST_TEST(KeysLabelled(s, admin, "bad") == 0u);
  // Reads ignore the header.
  BOOST_TEST(s.CallKeyed("any", "GET", "/v1/keys", {}, admin).status == 200);
}

// A key sent again with another request never hands out what that request got: the operator's
// new admin tokens of two accounts differ, and in one account the second request is refused
// (the suspend's command id, which the audit shows, once gave the rotated secret its
// characters).
BOOST_AUTO_TEST_CASE(a_reused_key_never_hands_out_another_requests_secrets) {
  ApiServer s;
  const auto [x, admin_x] = s.CreateAccount("reuse-x");
  const auto [y, admin_y] = s.CreateAccount("reuse-y");
  const std::string path_x = "/v1/accounts/" + x + "/admin-token";
  const std::string path_y = "/v1/accounts/" + y + "/admin-token";
  Reply tx = s.CallKeyed("tok-1", "POST", path_x, {}, kOperatorToken);
  Reply ty = s.CallKeyed("tok-1", "POST", path_y, {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(tx.status == 201, tx.status << " " << tx.body);
  BOOST_REQUIRE_MESSAGE(ty.status == 201, ty.status << " " << ty.body);
  BOOST_TEST(tx.json().Str("/admin_token") != ty.json().Str("/admin_token"));
  const std::string token = tx.json().Str("/admin_token");
  const std::string a = s.IssueKey(token, "a"), b = s.IssueKey(token, "b");
  Reply suspended =
      s.CallKeyed("op-1", "POST", "/v1/keys/" + a.substr(0, 8) + "/suspend", {}, token);
  BOOST_REQUIRE_MESSAGE(suspended.status / 100 == 2, suspended.status << " " << suspended.body);
  Reply rotated = s.CallKeyed("op-1", "POST", "/v1/keys/" + b.substr(0, 8) + "/rotate", {}, token);
  BOOST_TEST(rotated.status == 422, rotated.body);
  BOOST_TEST(rotated.code() == "IDEMPOTENCY-KEY-REUSED");
  BOOST_TEST(s.Call("GET", "/v1/me", {}, b).status == 200);  // b's secret unchanged
}
