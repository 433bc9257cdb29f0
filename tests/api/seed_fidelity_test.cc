// Two seed behaviours through the public API of a real `keymeter serve` (embedded log, and Kafka
// as seed_fidelity_test_kafka): seed 002's allowed domains are enforced against the calling site
// (X-Origin, else Origin, else Referer), and seed 000's member e-mail is unique in its account.
#define BOOST_TEST_MODULE seed_fidelity
#include <boost/test/unit_test.hpp>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// GET /v1/authorize for `key` with `headers` ("Name: value" lines): status and reason.
std::pair<int, std::string> Authorize(const ApiServer& s, const std::string& key,
                                      const std::string& headers = "") {
  const std::string request = "GET /v1/authorize HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                              "X-Api-Key: " + key + "\r\n" + headers + "\r\n";
  std::optional<HttpResponse> r = Exchange(s.port(), request, 10s);
  BOOST_REQUIRE(r);
  return {int(r->result_int()), std::string((*r)["X-Keymeter-Reason"])};
}

}  // namespace

BOOST_AUTO_TEST_CASE(allowed_domains_are_enforced_against_the_calling_site) {
  ApiServer s;
  auto [account, admin] = s.CreateAccount("Acme");
  const std::string root = s.IssueKey(admin, "owner@acme.test", "", "active");
  const std::string member = s.IssueKey(admin, "dev@acme.test", root.substr(0, 8), "active");
  const std::string target = "/v1/keys/" + member.substr(0, 8) + "/allowed-sources";

  // Stored as matched: lowercase, without a trailing dot; a whole top-level domain is refused.
  Reply set = s.Call("PUT", target, R"({"domains":["App.Acme.TEST.","*.cdn.acme.test"]})", admin);
  BOOST_REQUIRE_MESSAGE(set.status == 200, set.body);
  BOOST_TEST(set.json().Str("/allowed_sources/domains/0") == "app.acme.test");
  Reply tld = s.Call("PUT", target, R"({"domains":["*.com"]})", admin);
  BOOST_TEST(tld.status == 422);
  BOOST_TEST(tld.code() == "INVALID-DOMAIN");

  const std::pair<std::string, bool> cases[] = {
      {"", false},
      {"Origin: https://app.acme.test\r\n", true},
      {"Origin: https://APP.acme.test:8443\r\n", true},
      {"Referer: https://app.acme.test/pricing?x=1\r\n", true},
      {"Origin: https://eu.cdn.acme.test\r\n", true},
      {"Origin: https://cdn.acme.test\r\n", false},  // the wildcard does not cover the bare domain
      {"Origin: https://evil.test\r\n", false},
      {"Origin: https://evil.test\r\nReferer: https://app.acme.test/\r\n", false},  // Origin first
      {"X-Origin: https://evil.test\r\nOrigin: https://app.acme.test\r\n", false},  // X-Origin wins
      {"X-Origin: app.acme.test\r\n", true},
  };
  for (const auto& [headers, allowed] : cases) {
    BOOST_TEST_CONTEXT("headers: " << headers) {
      const auto [status, reason] = Authorize(s, member, headers);
      BOOST_TEST(status == (allowed ? 204 : 403));
      BOOST_TEST(reason == (allowed ? "OK" : "FORBIDDEN_ORIGIN"));
    }
  }
  // The parent has no list: it is not checked. POST takes "origin".
  BOOST_TEST(Authorize(s, root).first == 204);
  auto post = [&](const std::string& origin) {
    std::string body = R"({"key":")" + member + "\"";
    if (!origin.empty()) body += R"(,"origin":")" + origin + "\"";
    return s.Call("POST", "/v1/authorize", body + "}").json().Str("/reason");
  };
  BOOST_TEST(post("https://app.acme.test") == "OK");
  BOOST_TEST(post("") == "FORBIDDEN_ORIGIN");

  // Seed 002: the member sets its own key's domains, and they apply at once.
  Reply own = s.Call("PUT", "/v1/me/allowed-sources", R"({"domains":["staging.acme.test"]})",
                     member);
  BOOST_REQUIRE_MESSAGE(own.status == 200, own.body);
  BOOST_TEST(Authorize(s, member, "Origin: https://staging.acme.test\r\n").first == 204);
  BOOST_TEST(Authorize(s, member, "Origin: https://app.acme.test\r\n").first == 403);
}

BOOST_AUTO_TEST_CASE(a_members_email_is_unique_in_its_account) {
  ApiServer s;
  auto [account, admin] = s.CreateAccount("Acme");
  auto [other_account, other_admin] = s.CreateAccount("Globex");
  const std::string dev = s.IssueKey(admin, "dev@acme.test");
  Reply again = s.Call("POST", "/v1/keys", R"({"label":" DEV@Acme.test "})", admin);
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.code() == "DUPLICATE-MEMBER");
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, admin).json().Size() == 1u);
  // Another account, and labels that are not addresses, are free.
  s.IssueKey(other_admin, "dev@acme.test");
  s.IssueKey(admin, "Production");
  s.IssueKey(admin, "Production");
  // A deleted member's address may be invited again.
  BOOST_TEST(s.Call("DELETE", "/v1/keys/" + dev.substr(0, 8), {}, admin).status == 200);
  s.IssueKey(admin, "dev@acme.test");
  // The refusal is in the audit history.
  BOOST_TEST(s.Call("GET", "/v1/audit", {}, admin).body.find("DUPLICATE-MEMBER") !=
             std::string::npos);
}
