// n1ed's set-parent Admin API (seed 001) against a real `keymeter serve`, called with seed 001's
// curl sample unchanged but the host:
//
//   curl -X POST https://cloud.n1ed.com/a/admin/api-key-set-parent
//        -d "adminToken=your-secret-admin-token&apiKey=your-api-key&parentApiKey=parent-api-key"
//
// (one command line; the test runs curl with exactly these arguments, the URL pointing at the
// local server)//
// set, replace and remove, each of the five error codes, and the strict form parser beneath.
#define BOOST_TEST_MODULE n1ed
#include <boost/test/unit_test.hpp>

#include "http/form.h"
#include "tests/api/api_fixture.h"

using namespace keymeter::testing;
using keymeter::FormValue;
using keymeter::ParseForm;

namespace {

const std::string kOk = R"({"error": null, "data": "OK"})";
std::string Error(const std::string& code) {
  return R"({"error": ")" + code + R"(", "data": null})";
}

// Seed 001's sample, run by curl; returns what curl printed (the response body).
std::string Curl(const ApiServer& s, const std::string& form) {
  auto curl = Spawn(
      "curl",
      {"-X", "POST", "http://127.0.0.1:" + std::to_string(s.port()) + "/a/admin/api-key-set-parent",
       "-d", form},
      s.dir().sub("curl.err"));
  std::string out = curl->ReadAll();
  BOOST_TEST(curl->Wait(10s) == 0);
  return out;
}

struct Account {
  std::string token;
  std::string a, b, c;  // full keys: three root keys
};

Account MakeAccount(const ApiServer& s, const std::string& name) {
  Account acc;
  acc.token = s.CreateAccount(name).second;
  acc.a = s.IssueKey(acc.token, "site-a");
  acc.b = s.IssueKey(acc.token, "site-b");
  acc.c = s.IssueKey(acc.token, "site-c");
  return acc;
}

std::string ParentOf(const ApiServer& s, const Account& acc, const std::string& key) {
  Json j = s.Call("GET", "/v1/keys/" + key.substr(0, 8), {}, acc.token).json();
  return j.IsNull("/parent") ? "" : j.Str("/parent");
}

}  // namespace

BOOST_AUTO_TEST_CASE(set_replace_and_remove_a_parent_with_the_seed_sample) {
  ApiServer s;
  Account acc = MakeAccount(s, "n1ed");
  const std::string form = "adminToken=" + acc.token + "&apiKey=";
  // Set (8-character ids, as recommended).
  BOOST_TEST(Curl(s, form + acc.b.substr(0, 8) + "&parentApiKey=" + acc.a.substr(0, 8)) == kOk);
  BOOST_TEST(ParentOf(s, acc, acc.b) == acc.a.substr(0, 8));
  // Replace (full 24-character keys are accepted too).
  BOOST_TEST(Curl(s, form + acc.b + "&parentApiKey=" + acc.c) == kOk);
  BOOST_TEST(ParentOf(s, acc, acc.b) == acc.c.substr(0, 8));
  // Remove: an empty parentApiKey, as in the seed's second sample.
  BOOST_TEST(Curl(s, form + acc.b.substr(0, 8) + "&parentApiKey=") == kOk);
  BOOST_TEST(ParentOf(s, acc, acc.b).empty());
  // Percent-encoding and any field order.
  std::string encoded;
  for (char ch : acc.token) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
    encoded += buf;
  }
  BOOST_TEST(Curl(s, "parentApiKey=" + acc.a.substr(0, 8) + "&apiKey=" + acc.c.substr(0, 8) +
                         "&adminToken=" + encoded) == kOk);
  BOOST_TEST(ParentOf(s, acc, acc.c) == acc.a.substr(0, 8));

  // Always HTTP 200, JSON, and the ops are in the account's audit history.
  Reply raw = s.Call("POST", "/a/admin/api-key-set-parent",
                     form + acc.c.substr(0, 8) + "&parentApiKey=", {});
  BOOST_TEST(raw.status == 200);
  BOOST_TEST(raw.content_type == "application/json");
  BOOST_TEST(raw.body == kOk);
  Reply history = s.Call("GET", "/v1/audit?limit=5", {}, acc.token);
  Json audit = history.json();
  BOOST_TEST(audit.Str("/entries/0/op") == "ParentSet");
  BOOST_TEST(audit.Str("/entries/0/actor/kind") == "account_admin");
  BOOST_TEST(audit.Size("/entries") == 5u);
  for (const std::string& key : {acc.a, acc.b, acc.c}) {
    BOOST_TEST(history.body.find(key.substr(8)) == std::string::npos);  // no secret published
  }
}

BOOST_AUTO_TEST_CASE(each_error_code_of_the_seed) {
  ApiServer s;
  Account acc = MakeAccount(s, "n1ed");
  Account other = MakeAccount(s, "someone else");
  const std::string a = acc.a.substr(0, 8), b = acc.b.substr(0, 8), c = acc.c.substr(0, 8);
  const auto call = [&](const std::string& token, const std::string& key,
                        const std::string& parent) {
    return Curl(s, "adminToken=" + token + "&apiKey=" + key + "&parentApiKey=" + parent);
  };
  // INCORRECT-TOKEN: the adminToken parameter has been incorrectly specified.
  BOOST_TEST(call("your-secret-admin-token", b, a) == Error("INCORRECT-TOKEN"));
  BOOST_TEST(Curl(s, "apiKey=" + b + "&parentApiKey=" + a) == Error("INCORRECT-TOKEN"));
  BOOST_TEST(Curl(s, "adminToken=%zz&apiKey=" + b) == Error("INCORRECT-TOKEN"));
  BOOST_TEST(call(acc.b, b, a) == Error("INCORRECT-TOKEN"));  // a key is not a token
  // NO-SUCH-API-KEY: incorrectly specified, or the key doesn't exist.
  BOOST_TEST(call(acc.token, "Zz9Zz9Zz", a) == Error("NO-SUCH-API-KEY"));
  BOOST_TEST(call(acc.token, "abc", a) == Error("NO-SUCH-API-KEY"));
  BOOST_TEST(call(acc.token, "", a) == Error("NO-SUCH-API-KEY"));
  BOOST_TEST(Curl(s, "adminToken=" + acc.token + "&parentApiKey=" + a) == Error("NO-SUCH-API-KEY"));
  // INVALID-PARENT-API-KEY: too short; use at least 8 characters.
  BOOST_TEST(call(acc.token, b, "abc") == Error("INVALID-PARENT-API-KEY"));
  BOOST_TEST(call(acc.token, b, a.substr(0, 7)) == Error("INVALID-PARENT-API-KEY"));
  // UNABLE-TO-SET-PARENT-API-KEY: no such parent, the child has children, the parent is a
  // child, or the key itself.
  BOOST_TEST(call(acc.token, b, "Qq1Qq1Qq") == Error("UNABLE-TO-SET-PARENT-API-KEY"));
  BOOST_TEST(call(acc.token, b, "abcdefghijk") == Error("UNABLE-TO-SET-PARENT-API-KEY"));
  BOOST_TEST(call(acc.token, b, b) == Error("UNABLE-TO-SET-PARENT-API-KEY"));
  BOOST_REQUIRE(call(acc.token, b, a) == kOk);                                 // b under a
  BOOST_TEST(call(acc.token, a, c) == Error("UNABLE-TO-SET-PARENT-API-KEY"));  // a has a child
  BOOST_TEST(call(acc.token, c, b) == Error("UNABLE-TO-SET-PARENT-API-KEY"));  // b is a child
  // UNABLE-TO-CHANGE-NOT-OWN-API-KEY: the apiKey belongs to another account.
  BOOST_TEST(call(acc.token, other.a.substr(0, 8), a) == Error("UNABLE-TO-CHANGE-NOT-OWN-API-KEY"));
  BOOST_TEST(call(acc.token, other.a, "") == Error("UNABLE-TO-CHANGE-NOT-OWN-API-KEY"));
  BOOST_TEST(ParentOf(s, other, other.a).empty());
  // A deleted key no longer exists for n1ed's clients.
  BOOST_REQUIRE_EQUAL(s.Call("DELETE", "/v1/keys/" + c, {}, acc.token).status, 200);
  BOOST_TEST(call(acc.token, c, a) == Error("NO-SUCH-API-KEY"));
  // Refused ops are audited too.
  Json audit = s.Call("GET", "/v1/audit?limit=3", {}, acc.token).json();
  BOOST_TEST(audit.Str("/entries/0/outcome") == "KEY-DELETED");
  BOOST_TEST(audit.Str("/entries/1/op") == "KeyDeleted");
}

BOOST_AUTO_TEST_CASE(wrong_tokens_are_rate_limited) {
  ApiServer s({"KEYMETER_AUTH_FAILURES_PER_MINUTE=2"});
  Account acc = MakeAccount(s, "n1ed");
  const std::string form = "&apiKey=" + acc.b.substr(0, 8) + "&parentApiKey=";
  BOOST_TEST(Curl(s, "adminToken=guess1" + form) == Error("INCORRECT-TOKEN"));
  BOOST_TEST(Curl(s, "adminToken=guess2" + form) == Error("INCORRECT-TOKEN"));
  Reply blocked = s.Call("POST", "/a/admin/api-key-set-parent", "adminToken=" + acc.token + form);
  BOOST_TEST(blocked.status == 200);
  BOOST_TEST(blocked.body == Error("TOO-MANY-ATTEMPTS"));
}

// Naming other accounts' keys can't enumerate them: past the limit of refused commands, the
// account's commands answer TOO-MANY-ATTEMPTS (n1ed) and 429 (the JSON API) for the minute.
BOOST_AUTO_TEST_CASE(naming_keys_of_other_accounts_is_rate_limited) {
  ApiServer s({"KEYMETER_REFUSED_COMMANDS_PER_MINUTE=2"});
  Account acc = MakeAccount(s, "n1ed");
  Account other = MakeAccount(s, "someone else");
  const std::string form = "adminToken=" + acc.token + "&parentApiKey=&apiKey=";
  BOOST_TEST(Curl(s, form + other.a.substr(0, 8)) == Error("UNABLE-TO-CHANGE-NOT-OWN-API-KEY"));
  BOOST_TEST(Curl(s, form + "Zz9Zz9Zz") == Error("NO-SUCH-API-KEY"));
  BOOST_TEST(Curl(s, form + other.b.substr(0, 8)) == Error("TOO-MANY-ATTEMPTS"));
  Reply json = s.Call("PUT", "/v1/keys/" + acc.a.substr(0, 8) + "/parent",
                      R"({"parent":")" + other.c.substr(0, 8) + R"("})", acc.token);
  BOOST_TEST(json.status == 429);
  BOOST_TEST(json.code() == "TOO_MANY_ATTEMPTS");
  BOOST_TEST(ParentOf(s, acc, acc.a).empty());
  // Another account is not held back.
  BOOST_TEST(Curl(s, "adminToken=" + other.token + "&parentApiKey=&apiKey=" +
                         other.b.substr(0, 8)) == kOk);
}

BOOST_AUTO_TEST_CASE(the_form_parser_is_strict_and_bounded) {
  auto ok = ParseForm("a=1&b=x+y%20z&c=&d=%2B%26%3D");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok.value().size() == 4u);
  BOOST_TEST(*FormValue(ok.value(), "b") == "x y z");
  BOOST_TEST(FormValue(ok.value(), "c")->empty());
  BOOST_TEST(*FormValue(ok.value(), "d") == "+&=");
  BOOST_TEST(!FormValue(ok.value(), "e"));
  BOOST_TEST(ParseForm("").value().empty());
  BOOST_TEST(ParseForm("%61=%62").value()[0].first == "a");
  BOOST_TEST(ParseForm("a=%00").value()[0].second.size() == 1u);
  for (const char* bad : {"a", "=1", "a=1&", "&a=1", "a=1&&b=2", "a=%", "a=%4", "a=%zz", "%=1"}) {
    auto r = ParseForm(bad);
    BOOST_TEST(!r, bad);
    if (!r) BOOST_TEST(r.error().name() == "MALFORMED-FORM", bad);
  }
  BOOST_TEST(ParseForm("a=1&a=2").error().name() == "DUPLICATE-FIELD");
  BOOST_TEST(ParseForm(std::string(9000, 'a')).error().name() == "FORM-TOO-LARGE");
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? "&f" : "f") + std::to_string(i) + "=1";
  BOOST_TEST(ParseForm(many).error().name() == "FORM-TOO-LARGE");
  BOOST_TEST(ParseForm(many, {.max_bytes = 1 << 10, .max_fields = 17}).has_value());
}
