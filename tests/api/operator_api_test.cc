// The operator's credentials endpoints against a real `keymeter serve` (embedded log, and Kafka
// as operator_api_test_kafka): gateways made, listed and revoked, and POST /v1/events honouring
// exactly the live ones; an account's admin token replaced and revoked; an account suspended
// and activated. All are log ops: a restart on the same data dir rebuilds the same state.
#define BOOST_TEST_MODULE operator_api
#include <boost/test/unit_test.hpp>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// POST /v1/events as `token`: the reply.
Reply Post(const ApiServer& s, const std::string& token, const std::string& ndjson) {
  return HttpCall(s.port(), "POST", "/v1/events", ndjson, token, "application/x-ndjson");
}

// GET /v1/authorize for `key`: the X-Keymeter-Reason of the POST form's "reason".
std::string Reason(const ApiServer& s, const std::string& key) {
  Reply r = s.Call("POST", "/v1/authorize", R"({"key":")" + key + R"("})");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return r.json().Str("/reason");
}

}  // namespace

BOOST_AUTO_TEST_CASE(gateways_are_the_only_credential_for_events_until_revoked) {
  auto server = std::make_unique<ApiServer>();
  const ApiServer& s = *server;
  auto [account, admin] = s.CreateAccount("Acme");
  const std::string key = s.IssueKey(admin, "lead@acme.test", "", "active");
  const std::string key_id = key.substr(0, 8);

  auto [gateway_id, token] = s.CreateGateway("edge-1");
  BOOST_TEST(gateway_id.rfind("gw", 0) == 0u);
  BOOST_TEST(token.rfind("kmg_", 0) == 0u);
  // Only the operator manages gateways.
  BOOST_TEST(s.Call("POST", "/v1/gateways", R"({"name":"x"})", admin).status == 403);
  BOOST_TEST(s.Call("GET", "/v1/gateways", {}, token).status == 401);
  BOOST_TEST(s.Call("POST", "/v1/gateways", R"({})", kOperatorToken).code() == "MISSING_FIELD");

  Reply posted = Post(s, token, EventLine(key_id, 1, 1, "search", 200));
  BOOST_TEST(posted.status == 200);
  BOOST_TEST(posted.body == R"({"accepted":1,"rejected":[]})");
  for (const std::string& other : {admin, key, std::string(kOperatorToken)}) {
    BOOST_TEST(Post(s, other, EventLine(key_id, 2, 1, "search", 200)).status == 401);
  }

  Reply listed = s.Call("GET", "/v1/gateways", {}, kOperatorToken);
  BOOST_REQUIRE_EQUAL(listed.status, 200);
  BOOST_TEST(listed.json().Size("/gateways") == 1u);
  BOOST_TEST(listed.json().Str("/gateways/0/gateway_id") == gateway_id);
  BOOST_TEST(listed.json().IsNull("/gateways/0/revoked"));
  BOOST_TEST(listed.body.find(token) == std::string::npos);  // never the token again

  Reply revoked = s.Call("DELETE", "/v1/gateways/" + gateway_id, {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(revoked.status == 200, revoked.body);
  BOOST_TEST(!revoked.json().IsNull("/revoked"));
  BOOST_TEST(Post(s, token, EventLine(key_id, 3, 1, "search", 200)).status == 401);
  BOOST_TEST(s.Call("DELETE", "/v1/gateways/" + gateway_id, {}, kOperatorToken).code() ==
             "INVALID-STATUS-TRANSITION");
  BOOST_TEST(s.Call("DELETE", "/v1/gateways/gwNoSuch000", {}, kOperatorToken).status == 404);

  // The one accepted event counted, nothing else.
  s.WaitForRequests(admin, key_id, 1);
  Reply usage = s.Call("GET", "/v1/usage?granularity=day&key=" + key_id, {}, admin);
  BOOST_TEST(usage.json().Int("/totals/requests") == 1);

  // Replayed from the log on restart: still revoked, the new one still good.
  auto [second_id, second] = s.CreateGateway("edge-2");
  const std::string data_dir = s.data_dir();
  server->Stop();
  ApiServer again({}, data_dir);
  BOOST_TEST(Post(again, token, EventLine(key_id, 4, 1, "search", 200)).status == 401);
  BOOST_TEST(Post(again, second, EventLine(key_id, 5, 1, "search", 200)).status == 200);
  BOOST_TEST(again.Call("GET", "/v1/gateways", {}, kOperatorToken).json().Size("/gateways") == 2u);
}

BOOST_AUTO_TEST_CASE(admin_tokens_are_replaced_and_revoked_by_the_operator) {
  ApiServer s;
  auto [account, old_token] = s.CreateAccount("Acme");
  const std::string target = "/v1/accounts/" + account + "/admin-token";
  BOOST_TEST(s.Call("POST", target, {}, old_token).status == 403);  // not the admin's to do

  Reply replaced = s.Call("POST", target, {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(replaced.status == 201, replaced.body);
  const std::string token = replaced.json().Str("/admin_token");
  BOOST_TEST(token.rfind("kmt_", 0) == 0u);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, old_token).status == 401);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).status == 200);

  Reply gone = s.Call("DELETE", target, {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(gone.status == 200, gone.body);
  BOOST_TEST(gone.json().Str("/admin_token") == "revoked");
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).status == 401);

  const std::string fresh = s.Call("POST", target, {}, kOperatorToken).json().Str("/admin_token");
  Reply audit = s.Call("GET", "/v1/audit", {}, fresh);
  BOOST_REQUIRE_EQUAL(audit.status, 200);
  size_t token_ops = 0;
  for (size_t at = audit.body.find("AdminTokenSet"); at != std::string::npos;
       at = audit.body.find("AdminTokenSet", at + 1)) {
    ++token_ops;
  }
  BOOST_TEST(token_ops == 3u);  // replaced, revoked, replaced: each audited
  BOOST_TEST(audit.body.find(fresh) == std::string::npos);
  BOOST_TEST(s.Call("POST", "/v1/accounts/acctNoSuchAcct1/admin-token", {}, kOperatorToken).code() ==
             "NO-SUCH-ACCOUNT");
}

BOOST_AUTO_TEST_CASE(a_suspended_account_authorizes_and_changes_nothing) {
  ApiServer s;
  auto [account, admin] = s.CreateAccount("Acme");
  const std::string root = s.IssueKey(admin, "lead@acme.test", "", "active");
  const std::string member = s.IssueKey(admin, "dev@acme.test", root.substr(0, 8), "active");
  BOOST_TEST(Reason(s, member) == "OK");

  Reply suspended = s.Call("POST", "/v1/accounts/" + account + "/suspend", {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(suspended.status == 200, suspended.body);
  BOOST_TEST(suspended.json().Str("/status") == "suspended");
  BOOST_TEST(Reason(s, member) == "ACCOUNT_SUSPENDED");
  BOOST_TEST(Reason(s, root) == "ACCOUNT_SUSPENDED");
  Reply get = HttpCall(s.port(), "GET", "/v1/authorize?x=1", {}, member);
  BOOST_TEST(get.status == 403);

  // Writes of the admin and the member are refused by the projector; reads go on.
  Reply issue = s.Call("POST", "/v1/keys", R"({"label":"new"})", admin);
  BOOST_TEST(issue.status == 403);
  BOOST_TEST(issue.code() == "ACCOUNT_SUSPENDED");
  BOOST_TEST(s.Call("POST", "/v1/me/rotate", {}, member).code() == "ACCOUNT_SUSPENDED");
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, admin).status == 200);
  BOOST_TEST(s.Call("POST", "/v1/accounts/" + account + "/suspend", {}, kOperatorToken).code() ==
             "INVALID-STATUS-TRANSITION");
  BOOST_TEST(s.Call("POST", "/v1/accounts/" + account + "/suspend", {}, admin).status == 403);

  Reply active = s.Call("POST", "/v1/accounts/" + account + "/activate", {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(active.status == 200, active.body);
  BOOST_TEST(Reason(s, member) == "OK");
  Reply read = s.Call("GET", "/v1/accounts/" + account, {}, kOperatorToken);
  BOOST_TEST(read.json().Str("/status") == "active");
  BOOST_TEST(read.json().Str("/admin_token") == "active");
  BOOST_TEST(s.Call("GET", "/v1/accounts/acctNoSuchAcct1", {}, kOperatorToken).status == 404);
}

// Wrong gateway tokens are failed credentials like any other: past the limit, the address gets
// 429 TOO_MANY_ATTEMPTS, even with the right token, until the minute is over.
BOOST_AUTO_TEST_CASE(wrong_gateway_tokens_are_rate_limited) {
  ApiServer s({"KEYMETER_AUTH_FAILURES_PER_MINUTE=3"});
  auto [account, admin] = s.CreateAccount("Acme");
  const std::string key_id = s.IssueKey(admin, "lead@acme.test", "", "active").substr(0, 8);
  const std::string token = s.CreateGateway("edge-1").second;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(Post(s, "kmg_" + std::string(40, char('a' + i)), EventLine(key_id, i, 1, "x", 200))
                   .status == 401);
  }
  Reply blocked = Post(s, token, EventLine(key_id, 9, 1, "x", 200));
  BOOST_TEST(blocked.status == 429);
  BOOST_TEST(blocked.code() == "TOO_MANY_ATTEMPTS");
  BOOST_TEST(!blocked.retry_after.empty());
}
