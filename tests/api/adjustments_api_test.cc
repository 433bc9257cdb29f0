// Corrections of closed months (POST/GET /v1/adjustments) against a real `keymeter serve`, on
// the embedded log and (adjustments_api_test_kafka) on a real broker, with no billing lateness:
// last month is closed once an event of this month is applied. A correction adds beside what was
// counted: billing shows the original, the corrections, the corrected total and the month's
// version, which goes up with each one; an open month is refused; members may not correct;
// the operator corrects any account's key; export --month has the same five columns.
#define BOOST_TEST_MODULE adjustments_api_test
#include <boost/test/unit_test.hpp>

#include "projections/time_buckets.h"
#include "schemas/clock.h"
#include "tests/api/api_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// An NDJSON request event of `key_id` at `time_us`.
std::string EventAt(const std::string& key_id, int index, TimeUs time_us) {
  char id[33];
  std::snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)time_us,
                (unsigned long long)index);
  return R"({"request_id":")" + std::string(id) + R"(","key_id":")" + key_id + R"(","time_us":)" +
         std::to_string(time_us) + R"(,"product":"whois","units":3,"status":200})" + "\n";
}

std::string MonthText(TimeUs t) { return FormatRfc3339(t).substr(0, 7); }

// Waits until `account`'s billing of `month` counts `requests`.
void WaitBilled(const ApiServer& s, const std::string& account, const std::string& month,
                int64_t requests) {
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    const Json bill = s.Call("GET", "/v1/billing/usage?month=" + month, {}, kOperatorToken).json();
    for (size_t i = 0; i < bill.Size("/accounts"); ++i) {
      const std::string a = "/accounts/" + std::to_string(i);
      if (bill.Str(a + "/account_id") == account && bill.Int(a + "/totals/requests") == requests) {
        return;
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  BOOST_FAIL("billing of " << month << " never counted " << requests);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_closed_month_is_corrected_beside_what_was_counted) {
  ApiServer s({"KEYMETER_BILLING_LATENESS_SECONDS=0"});
  const auto [account, admin] = s.CreateAccount("acme");
  const std::string root_key = s.IssueKey(admin, "root", "", "active");
  const std::string root = root_key.substr(0, 8);
  const std::string child_key = s.IssueKey(admin, "child", root, "active");
  const std::string child = child_key.substr(0, 8);
  const TimeUs this_month = MonthStart(NowUs());
  const TimeUs last_month = MonthStart(this_month - 1);
  const std::string last = MonthText(last_month), now = MonthText(this_month);

  // Two requests of last month, then one of this month: last month closes.
  s.PostEvents(EventAt(child, 1, last_month + kMicrosPerDay) +
               EventAt(root, 2, last_month + 2 * kMicrosPerDay));
  WaitBilled(s, account, last, 2);
  s.PostEvents(EventAt(root, 3, NowUs() - kMicrosPerSecond));
  WaitBilled(s, account, now, 1);

  // This month is open: refused, audited.
  const Reply open = s.Call("POST", "/v1/adjustments",
                            R"({"key_id":")" + child + R"(","month":")" + now +
                                R"(","requests":1,"reason":"too early"})",
                            admin);
  BOOST_TEST(open.status == 409);
  BOOST_TEST(open.code() == "MONTH-NOT-CLOSED");

  // The admin corrects the child: +5 requests, -1 unit.
  const Reply first = s.Call("POST", "/v1/adjustments",
                             R"({"key_id":")" + child + R"(","month":")" + last +
                                 R"(","requests":5,"units":-1,"reason":"outage replay"})",
                             admin);
  BOOST_REQUIRE_MESSAGE(first.status == 201, first.status << " " << first.body);
  BOOST_TEST(first.json().Int("/version") == 1);
  BOOST_TEST(first.json().Int("/adjustment/requests") == 5);
  BOOST_TEST(first.json().Str("/adjustment/actor/kind") == "account_admin");
  BOOST_TEST(first.json().IsNull("/adjustment/actor/key_id"));  // as in the audit history
  // The operator corrects the root (any account's key).
  const Reply second = s.Call("POST", "/v1/adjustments",
                              R"({"key_id":")" + root + R"(","month":")" + last +
                                  R"(","units":10,"reason":"goodwill"})",
                              kOperatorToken);
  BOOST_REQUIRE_MESSAGE(second.status == 201, second.body);
  BOOST_TEST(second.json().Int("/version") == 2);
  BOOST_TEST(second.json().Str("/adjustment/actor/kind") == "operator");

  // Billing: what was counted, the corrections, the corrected totals, the version.
  const Json bill =
      s.Call("GET", "/v1/billing/usage?month=" + last, {}, kOperatorToken).json();
  size_t at = 0;
  while (at < bill.Size("/accounts") &&
         bill.Str("/accounts/" + std::to_string(at) + "/account_id") != account) {
    ++at;
  }
  const std::string a = "/accounts/" + std::to_string(at);
  BOOST_TEST(bill.Int(a + "/version") == 2);
  BOOST_TEST(bill.Int(a + "/totals/requests") == 2);
  BOOST_TEST(bill.Int(a + "/adjusted/requests") == 5);
  BOOST_TEST(bill.Int(a + "/adjusted/units") == 9);
  BOOST_TEST(bill.Int(a + "/corrected/requests") == 7);
  BOOST_TEST(bill.Int(a + "/corrected/units") == 15);
  const std::string pool = a + "/root_keys/0";
  BOOST_TEST(bill.Int(pool + "/corrected/units") == 15);
  for (size_t m = 0; m < bill.Size(pool + "/members"); ++m) {
    const std::string member = pool + "/members/" + std::to_string(m);
    const bool is_child = bill.Str(member + "/key_id") == child;
    BOOST_TEST(bill.Int(member + "/totals/requests") == 1);
    BOOST_TEST(bill.Int(member + "/adjusted/requests") == (is_child ? 5 : 0));
    BOOST_TEST(bill.Int(member + "/corrected/units") == (is_child ? 2 : 13));
  }

  // The month's corrections, oldest first; the operator names the account.
  const Json listed = s.Call("GET", "/v1/adjustments?month=" + last, {}, admin).json();
  BOOST_REQUIRE_EQUAL(listed.Size("/adjustments"), 2u);
  BOOST_TEST(listed.Int("/version") == 2);
  BOOST_TEST(listed.Str("/adjustments/0/reason") == "outage replay");
  BOOST_TEST(listed.Int("/adjustments/1/version") == 2);
  BOOST_TEST(s.Call("GET", "/v1/adjustments?month=" + last + "&account=" + account, {},
                    kOperatorToken).json().Size("/adjustments") == 2u);

  // The audit history has them (and the refusal).
  const Json audit = s.Call("GET", "/v1/audit?limit=100", {}, admin).json();
  size_t ok = 0, refused = 0;
  for (size_t i = 0; i < audit.Size("/entries"); ++i) {
    const std::string e = "/entries/" + std::to_string(i);
    if (audit.Str(e + "/op") != "UsageAdjusted") continue;
    (audit.Str(e + "/outcome") == "OK" ? ok : refused) += 1;
  }
  BOOST_TEST(ok == 2u);
  BOOST_TEST(refused == 1u);

  // Members may not; bad input is named.
  BOOST_TEST(s.Call("POST", "/v1/adjustments", R"({"key_id":")" + child + R"(","month":")" + last +
                    R"(","requests":1,"reason":"x"})", child_key).status == 403);
  BOOST_TEST(s.Call("POST", "/v1/adjustments", R"({"key_id":")" + child + R"(","month":")" + last +
                    R"(","requests":1})", admin).code() == "MISSING_FIELD");
  BOOST_TEST(s.Call("POST", "/v1/adjustments", R"({"key_id":")" + child +
                    R"(","month":"2026-13","requests":1,"reason":"x"})", admin).code() ==
             "INVALID_FIELD");
  BOOST_TEST(s.Call("POST", "/v1/adjustments", R"({"key_id":")" + child + R"(","month":")" + last +
                    R"(","reason":"nothing"})", admin).code() == "INVALID-ADJUSTMENT");
  BOOST_TEST(s.Call("POST", "/v1/adjustments", R"({"key_id":"Nope1234","month":")" + last +
                    R"(","requests":1,"reason":"x"})", admin).status == 404);
  BOOST_TEST(s.Call("GET", "/v1/adjustments?month=" + last, {}, kOperatorToken).code() ==
             "MISSING_FIELD");

  // `keymeter export --month` of the store has the same numbers (embedded: serve holds it).
  if (!KafkaMode()) {
    auto run = Spawn(KEYMETER_BINARY,
                     {"export", "--data-dir", s.data_dir(), "--month", last, "--by", "key",
                      "--lateness", "0"},
                     s.dir().sub("export.err"));
    const std::string csv = run->ReadAll(30s);
    BOOST_REQUIRE(run->Wait(30s) == 0);
    BOOST_TEST(csv.find(",adjusted_requests,adjusted_units,corrected_requests,corrected_units,"
                        "version\n") != std::string::npos, csv);
    BOOST_TEST(csv.find("," + child + ",,1,3,0,0,0,0,") != std::string::npos, csv);
    BOOST_TEST(csv.find(",5,-1,6,2,2\n") != std::string::npos, csv);
  }
}
