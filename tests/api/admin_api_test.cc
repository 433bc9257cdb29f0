// The account admin's and the operator's write endpoints against a real `keymeter serve`: keys
// issued and shown once, lifecycle codes, settings, accounts isolated from each other,
// credentials, rate limiting and 202 on a late outcome. Reads are in admin_reads_test.
#define BOOST_TEST_MODULE admin_api
#include <boost/test/unit_test.hpp>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// GET /v1/keys/{id} as `token`.
Json GetKey(const ApiServer& s, const std::string& token, const std::string& id) {
  Reply r = s.Call("GET", "/v1/keys/" + id, {}, token);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return r.json();
}

}  // namespace

BOOST_AUTO_TEST_CASE(issued_keys_show_their_secret_once_and_never_again) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Acme");
  BOOST_TEST(account.rfind("acct", 0) == 0u);
  BOOST_TEST(token.rfind("kmt_", 0) == 0u);

  Reply issued =
      s.Call("POST", "/v1/keys", R"({"label":"lead@acme.test","status":"active"})", token);
  BOOST_REQUIRE_EQUAL(issued.status, 201);
  Json j = issued.json();
  const std::string parent = j.Str("/key");
  BOOST_REQUIRE_EQUAL(parent.size(), 24u);
  BOOST_TEST(j.Str("/key_id") == parent.substr(0, 8));
  BOOST_TEST(j.Str("/status") == "active");
  BOOST_TEST(j.Size() == 3u);  // exactly {"key","key_id","status"}
  const std::string child = s.IssueKey(token, "dev@acme.test", parent.substr(0, 8));

  Reply list = s.Call("GET", "/v1/keys", {}, token);
  BOOST_REQUIRE_EQUAL(list.status, 200);
  Json keys = list.json();
  BOOST_REQUIRE_EQUAL(keys.Size(), 2u);
  for (const std::string& key : {parent, child}) {
    BOOST_TEST(list.body.find(key.substr(8)) == std::string::npos);  // no secret
  }
  for (const char* word : {"hash", "secret", "token", "\"key\""}) {
    BOOST_TEST(list.body.find(word) == std::string::npos, word);
  }
  // Both an 8-character id and the full key name a key; neither is echoed back in full.
  Json by_id = GetKey(s, token, child.substr(0, 8));
  Reply by_key = s.Call("GET", "/v1/keys/" + child, {}, token);
  BOOST_REQUIRE_EQUAL(by_key.status, 200);
  BOOST_TEST(by_key.body.find(child) == std::string::npos);
  BOOST_TEST(by_id.Str("/key_id") == child.substr(0, 8));
  BOOST_TEST(by_id.Str("/parent") == parent.substr(0, 8));
  BOOST_TEST(by_id.Str("/status") == "pending");  // the default: invited
  BOOST_TEST(by_id.IsNull("/quota"));
  BOOST_TEST(by_id.Int("/cap/daily_requests") == 0);
  BOOST_TEST(by_id.Str("/config/inherited_from") == parent.substr(0, 8));
  BOOST_TEST(GetKey(s, token, parent.substr(0, 8)).Int("/children") == 1);

  BOOST_TEST(s.Call("GET", "/v1/keys/Zz9Zz9Zz", {}, token).code() == "NOT_FOUND");
  BOOST_TEST(s.Call("GET", "/v1/keys/short", {}, token).status == 404);
  // Validation before anything is published.
  BOOST_TEST(s.Call("POST", "/v1/keys", "{", token).code() == "INVALID_JSON");
  BOOST_TEST(s.Call("POST", "/v1/keys", "[]", token).code() == "INVALID_JSON");
  BOOST_TEST(s.Call("POST", "/v1/keys", R"({"lable":"x"})", token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("POST", "/v1/keys", R"({"label":7})", token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("POST", "/v1/keys", R"({"status":"deleted"})", token).status == 400);
  BOOST_TEST(
      s.Call("POST", "/v1/keys", R"({"label":")" + std::string(300, 'x') + "\"}", token).code() ==
      "INVALID_FIELD");
  // The projector's decisions, with their codes.
  Reply short_parent = s.Call("POST", "/v1/keys", R"({"parent":"abc"})", token);
  BOOST_TEST(short_parent.status == 422);
  BOOST_TEST(short_parent.code() == "INVALID-PARENT-API-KEY");
  Reply grandchild = s.Call("POST", "/v1/keys", R"({"parent":")" + child + "\"}", token);
  BOOST_TEST(grandchild.status == 409);
  BOOST_TEST(grandchild.code() == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).json().Size() == 2u);
}

BOOST_AUTO_TEST_CASE(credentials_and_accounts_are_isolated) {
  ApiServer s;
  auto [a, token_a] = s.CreateAccount("A");
  auto [b, token_b] = s.CreateAccount("B");
  const std::string key_a = s.IssueKey(token_a, "a1");
  const std::string id_a = key_a.substr(0, 8);

  BOOST_TEST(s.Call("GET", "/v1/keys").status == 401);
  BOOST_TEST(s.Call("GET", "/v1/keys").code() == "UNAUTHORIZED");
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, "kmt_wrong").code() == "UNAUTHORIZED");
  // A member's key is not an admin token; an admin token is not the operator's.
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, key_a).status == 403);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, key_a).code() == "FORBIDDEN");
  BOOST_TEST(s.Call("POST", "/v1/accounts", R"({"name":"x"})", token_a).status == 403);
  BOOST_TEST(s.Call("GET", "/v1/billing/usage?month=2026-01", {}, token_a).status == 403);
  BOOST_TEST(s.Call("POST", "/v1/accounts", R"({"name":"x"})", "nope").status == 401);
  BOOST_TEST(s.Call("POST", "/v1/accounts", R"({})", kOperatorToken).code() == "MISSING_FIELD");

  // B reaches nothing of A's: every form answers 404 NOT_FOUND, like a key that doesn't exist.
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token_b).json().Size() == 0u);
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", "/v1/keys/" + id_a},
      {"GET", "/v1/keys/" + key_a},
      {"POST", "/v1/keys/" + id_a + "/suspend"},
      {"POST", "/v1/keys/" + id_a + "/rotate"},
      {"DELETE", "/v1/keys/" + id_a},
      {"PUT", "/v1/keys/" + id_a + "/quota"},
      {"GET", "/v1/usage?key=" + id_a},
      {"GET", "/v1/audit?key=" + id_a},
      {"GET", "/v1/requests?key=" + id_a},
  };
  for (const auto& [method, target] : calls) {
    Reply r = s.Call(method, target, method == "GET" ? "" : "{}", token_b);
    BOOST_TEST(r.status == 404, method << " " << target << " " << r.body);
    BOOST_TEST(r.code() == "NOT_FOUND", method << " " << target);
  }
  Reply parent_of_other = s.Call("PUT", "/v1/keys/" + s.IssueKey(token_b, "b1") + "/parent",
                                 R"({"parent":")" + id_a + "\"}", token_b);
  BOOST_TEST(parent_of_other.code() == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(GetKey(s, token_a, id_a).Str("/status") == "pending");  // untouched
  BOOST_TEST(s.Call("GET", "/v1/audit", {}, token_b).body.find(a) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(rotation_replaces_the_secret_at_once_or_after_the_grace_period) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Acme");
  const std::string old_key = s.IssueKey(token, "m", "", "active");
  const std::string id = old_key.substr(0, 8);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, old_key).status == 200);

  Reply rotated = s.Call("POST", "/v1/keys/" + id + "/rotate", {}, token);
  BOOST_REQUIRE_EQUAL(rotated.status, 200);
  const std::string new_key = rotated.json().Str("/key");
  BOOST_TEST(rotated.json().Str("/key_id") == id);
  BOOST_TEST(new_key.substr(0, 8) == id);
  BOOST_TEST(new_key != old_key);
  BOOST_TEST(rotated.json().IsNull("/grace_until"));
  BOOST_TEST(s.Call("GET", "/v1/me", {}, old_key).status == 401);  // stopped at once
  BOOST_TEST(s.Call("GET", "/v1/me", {}, new_key).status == 200);

  Reply graced =
      s.Call("POST", "/v1/keys/" + new_key + "/rotate", R"({"grace_seconds":600})", token);
  BOOST_REQUIRE_EQUAL(graced.status, 200);
  const std::string newest = graced.json().Str("/key");
  BOOST_TEST(!graced.json().IsNull("/grace_until"));
  // Still valid within the grace — to authorize only: managing the key takes the newest.
  BOOST_TEST(s.Call("POST", "/v1/authorize", R"({"key":")" + new_key + R"("})")
                 .json()
                 .Bool("/allowed"));
  BOOST_TEST(s.Call("GET", "/v1/me", {}, new_key).status == 403);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, newest).status == 200);
  BOOST_TEST(!GetKey(s, token, id).IsNull("/rotation_grace_until"));
  BOOST_TEST(
      s.Call("POST", "/v1/keys/" + id + "/rotate", R"({"grace_seconds":-1})", token).code() ==
      "INVALID_FIELD");
  BOOST_TEST(
      s.Call("POST", "/v1/keys/" + id + "/rotate", R"({"grace_seconds":99999999})", token).status ==
      400);
}

BOOST_AUTO_TEST_CASE(status_changes_answer_the_projectors_codes) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Acme");
  const std::string parent = s.IssueKey(token, "p", "", "active").substr(0, 8);
  const std::string child_key = s.IssueKey(token, "c", parent);
  const std::string child = child_key.substr(0, 8);
  const auto op = [&](const std::string& method, const std::string& target) {
    return s.Call(method, target, {}, token);
  };
  Reply confirmed = op("POST", "/v1/keys/" + child + "/confirm");
  BOOST_TEST(confirmed.status == 200);
  BOOST_TEST(confirmed.json().Str("/status") == "active");
  Reply again = op("POST", "/v1/keys/" + child + "/confirm");
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.code() == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(op("POST", "/v1/keys/" + child + "/suspend").json().Str("/status") == "suspended");
  BOOST_TEST(op("POST", "/v1/keys/" + child + "/suspend").code() == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(op("POST", "/v1/keys/" + child + "/activate").json().Str("/status") == "active");
  BOOST_TEST(op("POST", "/v1/keys/" + child + "/activate").status == 409);
  Reply busy = op("DELETE", "/v1/keys/" + parent);
  BOOST_TEST(busy.status == 409);
  BOOST_TEST(busy.code() == "KEY-HAS-CHILDREN");
  Reply deleted = op("DELETE", "/v1/keys/" + child_key);
  BOOST_TEST(deleted.status == 200);
  BOOST_TEST(deleted.json().Str("/status") == "deleted");
  Reply after = op("POST", "/v1/keys/" + child + "/activate");
  BOOST_TEST(after.status == 409);
  BOOST_TEST(after.code() == "KEY-DELETED");
  BOOST_TEST(s.Call("GET", "/v1/me", {}, child_key).status == 401);  // revoked for good
  BOOST_TEST(GetKey(s, token, child).Str("/status") == "deleted");   // its history stays
  BOOST_TEST(op("DELETE", "/v1/keys/" + parent).status == 200);
  BOOST_TEST(s.Call("POST", "/v1/keys/" + child + "/suspend", "{\"x\":1}", token).status == 400);
}

BOOST_AUTO_TEST_CASE(parent_config_quota_cap_and_sources_follow_the_rules) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Acme");
  const std::string p1 = s.IssueKey(token, "p1", "", "active");
  const std::string p2 = s.IssueKey(token, "p2", "", "active").substr(0, 8);
  const std::string c = s.IssueKey(token, "c").substr(0, 8);
  const auto put = [&](const std::string& target, const std::string& body) {
    return s.Call("PUT", target, body, token);
  };
  // Set, replace (a full key names its id), remove.
  BOOST_TEST(put("/v1/keys/" + c + "/parent", R"({"parent":")" + p1.substr(0, 8) + "\"}")
                 .json()
                 .Str("/parent") == p1.substr(0, 8));
  BOOST_TEST(
      put("/v1/keys/" + c + "/parent", R"({"parent":")" + p2 + "\"}").json().Str("/parent") == p2);
  BOOST_TEST(put("/v1/keys/" + c + "/parent", R"({"parent":""})").json().IsNull("/parent"));
  BOOST_TEST(put("/v1/keys/" + c + "/parent", R"({"parent":")" + p1 + "\"}").status == 200);
  BOOST_TEST(put("/v1/keys/" + c + "/parent", R"({})").code() == "MISSING_FIELD");
  BOOST_TEST(put("/v1/keys/" + c + "/parent", R"({"parent":"abc"})").code() ==
             "INVALID-PARENT-API-KEY");
  BOOST_TEST(put("/v1/keys/" + p2 + "/parent", R"({"parent":")" + c + "\"}").code() ==
             "UNABLE-TO-SET-PARENT-API-KEY");  // a child can't be a parent
  BOOST_TEST(put("/v1/keys/" + p2 + "/parent", R"({"parent":")" + p2 + "\"}").code() ==
             "UNABLE-TO-SET-PARENT-API-KEY");  // nor its own
  BOOST_TEST(put("/v1/keys/" + p2 + "/parent", R"({"parent":"Qq1Qq1Qq"})").status == 409);

  // Config: the parent's, dynamically; refused on the child.
  Reply config = put("/v1/keys/" + p1 + "/config",
                     R"({"products":["whois","dns"],"settings":{"tier":"gold"}})");
  BOOST_REQUIRE_EQUAL(config.status, 200);
  Json child_view = GetKey(s, token, c);
  BOOST_TEST(child_view.Str("/config/products/0") == "dns");
  BOOST_TEST(child_view.Str("/config/settings/tier") == "gold");
  Reply inherited = put("/v1/keys/" + c + "/config", R"({"products":["x"]})");
  BOOST_TEST(inherited.status == 409);
  BOOST_TEST(inherited.code() == "CONFIG-INHERITED-FROM-PARENT");
  BOOST_TEST(put("/v1/keys/" + p1 + "/config", R"({"settings":{"n":1}})").status == 400);

  // Quota on roots, cap on children.
  Reply quota = put("/v1/keys/" + p1 + "/quota", R"({"daily_requests":1000,"monthly_units":5})");
  BOOST_TEST(quota.json().Int("/quota/daily_requests") == 1000);
  BOOST_TEST(quota.json().Int("/quota/monthly_units") == 5);
  BOOST_TEST(put("/v1/keys/" + c + "/quota", R"({"daily_requests":1})").code() == "NOT-A-ROOT-KEY");
  BOOST_TEST(put("/v1/keys/" + c + "/quota", R"({"daily_requests":1})").status == 409);
  BOOST_TEST(
      put("/v1/keys/" + c + "/cap", R"({"daily_requests":50})").json().Int("/cap/daily_requests") ==
      50);
  BOOST_TEST(put("/v1/keys/" + p1 + "/cap", R"({"daily_requests":50})").code() ==
             "NOT-A-CHILD-KEY");
  BOOST_TEST(put("/v1/keys/" + p1 + "/quota", R"({"daily_requests":"many"})").status == 400);

  // Allowed sources: IPv4, IPv6, CIDRs and domains; a bad one is refused whole.
  Reply sources = put("/v1/keys/" + c + "/allowed-sources",
                      R"({"ips":["203.0.113.7","10.0.0.0/8","2001:db8::/32"],)"
                      R"("domains":["example.com","*.example.org"]})");
  BOOST_REQUIRE_EQUAL(sources.status, 200);
  BOOST_TEST(sources.json().Size("/allowed_sources/ips") == 3u);
  BOOST_TEST(sources.json().Str("/allowed_sources/domains/1") == "*.example.org");
  Reply bad_cidr = put("/v1/keys/" + c + "/allowed-sources", R"({"ips":["10.0.0.0/33"]})");
  BOOST_TEST(bad_cidr.status == 422);
  BOOST_TEST(bad_cidr.code() == "INVALID-CIDR");
  BOOST_TEST(put("/v1/keys/" + c + "/allowed-sources", R"({"domains":["-bad-.com"]})").code() ==
             "INVALID-DOMAIN");
  BOOST_TEST(GetKey(s, token, c).Size("/allowed_sources/ips") == 3u);  // unchanged
  BOOST_TEST(put("/v1/keys/" + c + "/allowed-sources", R"({"ips":"10.0.0.1"})").status == 400);
}

BOOST_AUTO_TEST_CASE(failed_credentials_are_rate_limited_and_late_outcomes_answer_202) {
  ApiServer s({"KEYMETER_AUTH_FAILURES_PER_MINUTE=3", "KEYMETER_COMMAND_TIMEOUT_MS=0"});
  // With no time to wait, writes answer 202 and apply anyway.
  Reply made = s.Call("POST", "/v1/accounts", R"({"name":"Acme"})", kOperatorToken);
  BOOST_REQUIRE_EQUAL(made.status, 202);
  BOOST_TEST(made.json().Str("/command_id").rfind("cmd_", 0) == 0u);
  const std::string token = made.json().Str("/admin_token");
  // Wait for the account through the operator's report: no failed admin credential meanwhile.
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    Reply bill = s.Call("GET", "/v1/billing/usage?month=2026-01", {}, kOperatorToken);
    if (bill.json().Size("/accounts") == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_REQUIRE_EQUAL(s.Call("GET", "/v1/keys", {}, token).status, 200);
  Reply issued = s.Call("POST", "/v1/keys", R"({"label":"m"})", token);
  BOOST_TEST(issued.status == 202);
  BOOST_TEST(issued.json().Str("/key").size() == 24u);  // the only chance to see it

  // To one member: in a cluster each member counts the failures of the clients it talks to.
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(HttpCall(s.port(), "GET", "/v1/keys", {}, "kmt_guess").status == 401);
  }
  Reply blocked = HttpCall(s.port(), "GET", "/v1/keys", {}, token);  // even the right one
  BOOST_TEST(blocked.status == 429);
  BOOST_TEST(blocked.code() == "TOO_MANY_ATTEMPTS");
  BOOST_TEST(std::stoi(blocked.retry_after) > 0);
  BOOST_TEST(s.Call("GET", "/healthz").status == 200);  // only credentials are limited
}
