// Seed 000's permission table, cell by cell, and seed 002's member rights, against a real
// `keymeter serve`. PARENT is the account admin (admin token), CHILD a member (its own key).
//
//                              PARENT   CHILD
//   Product access               yes     yes   (the child's effective config is the parent's)
//   Buy product subscriptions    yes     no    (PUT /v1/keys/{id}/quota)
//   Edit product subscriptions   yes     no    (PUT /v1/keys/{id}/config, /cap)
//   Billing information          yes     no    (quotas in GET /v1/keys; /v1/billing/usage)
//   Usage statistics             yes     own   (GET /v1/usage vs GET /v1/me/usage)
//   Newsletter subscription      —       —     (not keymeter's)
#define BOOST_TEST_MODULE member_api
#include <boost/test/unit_test.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// An account with a root key (quota 100/day), a child member and a second member.
struct Team {
  ApiServer server;
  std::string token;
  std::string root;       // key id
  std::string child_key;  // full key of the member under test
  std::string child;      // its id
  std::string other_key;  // another member
  std::string other;

  Team() {
    token = server.CreateAccount("Team").second;
    root = server.IssueKey(token, "owner", "", "active").substr(0, 8);
    child_key = server.IssueKey(token, "child1@example.com", root);
    child = child_key.substr(0, 8);
    other_key = server.IssueKey(token, "child2@example.com", root);
    other = other_key.substr(0, 8);
    BOOST_REQUIRE_EQUAL(server
                            .Call("PUT", "/v1/keys/" + root + "/quota",
                                  R"({"daily_requests":100,"monthly_units":1000})", token)
                            .status,
                        200);
    BOOST_REQUIRE_EQUAL(
        server
            .Call("PUT", "/v1/keys/" + root + "/config",
                  R"({"products":["whois"],"settings":{"plan":"enterprise"}})", token)
            .status,
        200);
  }
  Reply AsChild(const std::string& method, const std::string& target,
                const std::string& body = {}) const {
    return server.Call(method, target, body, child_key);
  }
  Reply AsParent(const std::string& method, const std::string& target,
                 const std::string& body = {}) const {
    return server.Call(method, target, body, token);
  }
};

void ExpectForbidden(const Reply& r, const std::string& what) {
  BOOST_TEST(r.status == 403, what << ": " << r.status << " " << r.body);
  BOOST_TEST(r.code() == "FORBIDDEN", what);
}

}  // namespace

BOOST_AUTO_TEST_CASE(product_access_is_the_same_for_parent_and_child) {
  Team t;
  // Usable at once, without confirmation (seed 000): the member's key is valid while pending.
  Json me = t.AsChild("GET", "/v1/me").json();
  BOOST_TEST(me.Str("/status") == "pending");
  BOOST_TEST(me.Str("/config/products/0") == "whois");
  BOOST_TEST(me.Str("/config/settings/plan") == "enterprise");
  BOOST_TEST(me.Str("/config/inherited_from") == t.root);
  BOOST_TEST(me.Str("/parent") == t.root);
  BOOST_TEST(me.Int("/remaining/daily_requests") == 100);
  BOOST_TEST(me.Int("/remaining/monthly_units") == 1000);
  BOOST_TEST(me.Has("/reset/daily"));
  Json parent_view = t.AsParent("GET", "/v1/keys/" + t.root).json();
  BOOST_TEST(parent_view.Str("/config/products/0") == "whois");
}

BOOST_AUTO_TEST_CASE(only_the_parent_buys_or_edits_subscriptions) {
  Team t;
  ExpectForbidden(t.AsChild("PUT", "/v1/keys/" + t.root + "/quota", R"({"daily_requests":1})"),
                  "child sets the pool quota");
  ExpectForbidden(t.AsChild("PUT", "/v1/keys/" + t.child + "/quota", R"({"daily_requests":1})"),
                  "child sets its own quota");
  ExpectForbidden(t.AsChild("PUT", "/v1/keys/" + t.root + "/config", R"({"products":[]})"),
                  "child edits the config");
  ExpectForbidden(t.AsChild("PUT", "/v1/keys/" + t.child + "/cap", R"({"daily_requests":9})"),
                  "child lifts its cap");
  BOOST_TEST(t.AsParent("PUT", "/v1/keys/" + t.root + "/quota", R"({"daily_requests":5})").status ==
             200);
  BOOST_TEST(t.AsParent("PUT", "/v1/keys/" + t.child + "/cap", R"({"daily_requests":3})").status ==
             200);
  // The member sees what is left for it (pool and cap), never the quotas themselves.
  Json me = t.AsChild("GET", "/v1/me").json();
  BOOST_TEST(me.Int("/remaining/daily_requests") == 3);
  BOOST_TEST(!me.Has("/quota"));
  BOOST_TEST(!me.Has("/cap"));
}

BOOST_AUTO_TEST_CASE(only_the_parent_sees_billing_and_quotas) {
  Team t;
  BOOST_TEST(t.AsParent("GET", "/v1/keys/" + t.root).json().Int("/quota/daily_requests") == 100);
  ExpectForbidden(t.AsChild("GET", "/v1/keys/" + t.root), "child reads the root key");
  ExpectForbidden(t.AsChild("GET", "/v1/billing/usage?month=2026-01"), "child reads billing");
  ExpectForbidden(t.AsChild("POST", "/v1/accounts", R"({"name":"x"})"), "child makes accounts");
}

BOOST_AUTO_TEST_CASE(usage_statistics_parent_all_child_only_its_own) {
  Team t;
  std::string events;
  for (int i = 0; i < 3; ++i) events += EventLine(t.child, i, 40 + i, "whois", 200);
  for (int i = 0; i < 2; ++i) events += EventLine(t.other, 10 + i, 30 + i, "whois", 200);
  events += EventLine(t.root, 20, 20, "whois", 500);
  t.server.PostEvents(events);
  t.server.WaitForRequests(t.token, t.child, 3);
  t.server.WaitForRequests(t.token, t.other, 2);
  t.server.WaitForRequests(t.token, t.root, 1);

  // Parent: every key, rolled up and one by one; every request in the log.
  BOOST_TEST(t.AsParent("GET", "/v1/usage").json().Int("/totals/requests") == 6);
  BOOST_TEST(t.AsParent("GET", "/v1/usage?group_by=key").json().Size("/keys") == 3u);
  BOOST_TEST(t.AsParent("GET", "/v1/requests").json().Size("/requests") == 6u);
  // Child: its own usage and requests only.
  Json usage = t.AsChild("GET", "/v1/me/usage").json();
  BOOST_TEST(usage.Str("/scope") == "key");
  BOOST_TEST(usage.Str("/key_id") == t.child);
  BOOST_TEST(usage.Int("/totals/requests") == 3);
  BOOST_TEST(
      t.AsChild("GET", "/v1/me/usage?group_by=product").json().Int("/products/0/totals/requests") ==
      3);
  Json requests = t.AsChild("GET", "/v1/me/requests").json();
  BOOST_REQUIRE_EQUAL(requests.Size("/requests"), 3u);
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(requests.Str("/requests/" + std::to_string(i) + "/key_id") == t.child);
  }
  BOOST_TEST(t.AsChild("GET", "/v1/me/requests?limit=2").json().Size("/requests") == 2u);
  BOOST_TEST(t.AsChild("GET", "/v1/me/requests?key=" + t.child).status == 200);
  ExpectForbidden(t.AsChild("GET", "/v1/me/requests?key=" + t.other), "another member's log");
  ExpectForbidden(t.AsChild("GET", "/v1/me/usage?key=" + t.root), "the parent's usage");
  ExpectForbidden(t.AsChild("GET", "/v1/usage"), "the account's usage");
  ExpectForbidden(t.AsChild("GET", "/v1/usage?key=" + t.child), "the admin usage endpoint");
  ExpectForbidden(t.AsChild("GET", "/v1/requests"), "the account's request log");
  ExpectForbidden(t.AsChild("GET", "/v1/audit"), "the audit history");
}

BOOST_AUTO_TEST_CASE(a_member_rotates_its_key_and_sets_its_allowed_sources) {
  Team t;
  Reply rotated = t.AsChild("POST", "/v1/me/rotate", R"({"grace_seconds":0})");
  BOOST_REQUIRE_EQUAL(rotated.status, 200);
  const std::string fresh = rotated.json().Str("/key");
  BOOST_TEST(rotated.json().Str("/key_id") == t.child);
  BOOST_TEST(fresh.substr(0, 8) == t.child);
  BOOST_TEST(t.AsChild("GET", "/v1/me").status == 401);  // the old key stopped at once
  BOOST_TEST(t.server.Call("GET", "/v1/me", {}, fresh).status == 200);

  Reply sources = t.server.Call(
      "PUT", "/v1/me/allowed-sources",
      R"({"ips":["198.51.100.0/24","2001:db8::1"],"domains":["app.example.com"]})", fresh);
  BOOST_REQUIRE_EQUAL(sources.status, 200);
  BOOST_TEST(sources.json().Size("/allowed_sources/ips") == 2u);
  BOOST_TEST(!sources.json().Has("/quota"));
  Reply bad = t.server.Call("PUT", "/v1/me/allowed-sources", R"({"ips":["1.2.3.4/40"]})", fresh);
  BOOST_TEST(bad.status == 422);
  BOOST_TEST(bad.code() == "INVALID-CIDR");
  // The account admin sees both ops in the audit, done by the member itself.
  Json audit = t.AsParent("GET", "/v1/audit?limit=3&key=" + t.child).json();
  BOOST_TEST(audit.Str("/entries/0/outcome") == "INVALID-CIDR");
  BOOST_TEST(audit.Str("/entries/1/op") == "AllowedSourcesSet");
  BOOST_TEST(audit.Str("/entries/2/op") == "KeyRotated");
  for (int i = 0; i < 3; ++i) {
    const std::string p = "/entries/" + std::to_string(i) + "/actor";
    BOOST_TEST(audit.Str(p + "/kind") == "member");
    BOOST_TEST(audit.Str(p + "/key_id") == t.child);
  }
}

BOOST_AUTO_TEST_CASE(a_member_never_reaches_other_members_or_the_account) {
  Team t;
  const std::vector<std::tuple<std::string, std::string, std::string>> calls = {
      {"GET", "/v1/keys", ""},
      {"GET", "/v1/keys/" + t.other, ""},
      {"GET", "/v1/keys/" + t.child, ""},
      {"POST", "/v1/keys", R"({"label":"mine"})"},
      {"POST", "/v1/keys/" + t.other + "/rotate", ""},
      {"POST", "/v1/keys/" + t.child + "/rotate", ""},
      {"POST", "/v1/keys/" + t.other + "/suspend", ""},
      {"POST", "/v1/keys/" + t.child + "/activate", ""},
      {"POST", "/v1/keys/" + t.child + "/confirm", ""},
      {"DELETE", "/v1/keys/" + t.other, ""},
      {"PUT", "/v1/keys/" + t.other + "/allowed-sources", R"({"ips":[]})"},
      {"PUT", "/v1/keys/" + t.child + "/parent", R"({"parent":""})"},
  };
  for (const auto& [method, target, body] : calls) {
    ExpectForbidden(t.AsChild(method, target, body), method + " " + target);
  }
  // The n1ed endpoint takes admin tokens only.
  Reply n1ed =
      t.server.Call("POST", "/a/admin/api-key-set-parent",
                    "adminToken=" + t.child_key + "&apiKey=" + t.child + "&parentApiKey=", {});
  BOOST_TEST(n1ed.body == R"({"error": "INCORRECT-TOKEN", "data": null})");
  // Nothing changed.
  Json other = t.AsParent("GET", "/v1/keys/" + t.other).json();
  BOOST_TEST(other.Str("/status") == "pending");
  BOOST_TEST(t.AsParent("GET", "/v1/keys/" + t.child).json().Str("/parent") == t.root);
  // An admin token is not a member's key either.
  ExpectForbidden(t.AsParent("GET", "/v1/me"), "admin on /v1/me");
  BOOST_TEST(t.server.Call("GET", "/v1/me").status == 401);
}

BOOST_AUTO_TEST_CASE(the_owner_suspends_activates_and_deletes_members) {
  Team t;
  BOOST_TEST(t.AsParent("POST", "/v1/keys/" + t.child + "/suspend").status == 200);
  BOOST_TEST(t.AsChild("GET", "/v1/me").json().Str("/status") == "suspended");  // sees why
  BOOST_TEST(t.AsParent("POST", "/v1/keys/" + t.child + "/activate").status == 200);
  BOOST_TEST(t.AsChild("GET", "/v1/me").json().Str("/status") == "active");
  BOOST_TEST(t.AsParent("DELETE", "/v1/keys/" + t.child).status == 200);
  BOOST_TEST(t.AsChild("GET", "/v1/me").status == 401);  // its key is revoked permanently
  BOOST_TEST(t.AsChild("POST", "/v1/me/rotate").status == 401);
}

// A rotation's old secret only authorizes during its grace: it can't take the key over
// (rotate with grace 0), change its sources or read through the member API. A suspended key,
// and a pending one in an account that requires confirmation, read but change nothing.
BOOST_AUTO_TEST_CASE(only_the_current_secret_of_a_usable_key_manages_it) {
  Team t;
  Reply rotated = t.AsChild("POST", "/v1/me/rotate", R"({"grace_seconds":3600})");
  BOOST_REQUIRE_EQUAL(rotated.status, 200);
  const std::string fresh = rotated.json().Str("/key");
  const std::string old_key = R"({"key":")" + t.child_key + R"(","product":"whois"})";
  BOOST_TEST(t.server.Call("POST", "/v1/authorize", old_key).json().Bool("/allowed"));
  ExpectForbidden(t.AsChild("POST", "/v1/me/rotate", R"({"grace_seconds":0})"), "grace rotate");
  ExpectForbidden(t.AsChild("PUT", "/v1/me/allowed-sources", R"({"ips":[]})"), "grace sources");
  ExpectForbidden(t.AsChild("GET", "/v1/me"), "grace read");
  ExpectForbidden(t.AsChild("GET", "/v1/alerts"), "grace alerts");
  BOOST_TEST(t.server.Call("POST", "/v1/authorize", old_key).json().Bool("/allowed"));
  BOOST_TEST(t.server.Call("GET", "/v1/me", {}, fresh).status == 200);

  BOOST_REQUIRE_EQUAL(t.AsParent("POST", "/v1/keys/" + t.child + "/suspend").status, 200);
  BOOST_TEST(t.server.Call("GET", "/v1/me", {}, fresh).json().Str("/status") == "suspended");
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/me/rotate", R"({"grace_seconds":0})"},
           {"PUT", "/v1/me/allowed-sources", R"({"ips":["0.0.0.0/0"]})"}}) {
    Reply r = t.server.Call(method, target, body, fresh);
    BOOST_TEST(r.status == 403, target << ": " << r.status << " " << r.body);
    BOOST_TEST(r.code() == "SUSPENDED", target);
  }
  BOOST_TEST(t.server.Call("GET", "/v1/me", {}, fresh).status == 200);  // the key is unchanged

  Reply strict = t.server.Call("POST", "/v1/accounts",
                               R"({"name":"Strict","require_confirmation":true})", kOperatorToken);
  BOOST_REQUIRE_EQUAL(strict.status, 201);
  const std::string admin = strict.json().Str("/admin_token");
  const std::string pending = t.server.IssueKey(admin, "new@example.com");
  Reply r = t.server.Call("POST", "/v1/me/rotate", R"({"grace_seconds":0})", pending);
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.code() == "PENDING_CONFIRMATION");
  BOOST_TEST(t.server.Call("GET", "/v1/me", {}, pending).json().Str("/status") == "pending");
}
