// Threshold alerts against a real `keymeter serve`, on the embedded log and (alerts_api_test_kafka)
// on a real broker: thresholds on a pool and on a member's cap, requests posted by a gateway,
// the alerts the projector raises listed by GET /v1/alerts (a member sees only its own), and a
// raised quota resolving them.
#define BOOST_TEST_MODULE alerts_api_test
#include <boost/test/unit_test.hpp>
#include <set>

#include "tests/api/api_fixture.h"
#include "tests/common/serve_metrics.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// "crossed 50 daily_requests <key>" for each alert of the answer, oldest first.
std::vector<std::string> Alerts(const Reply& r) {
  const Json j = r.json();
  std::vector<std::string> out;
  for (size_t i = j.Size("/alerts"); i-- > 0;) {
    const std::string at = "/alerts/" + std::to_string(i);
    const std::string type = j.Str(at + "/type");
    out.push_back((type == "threshold.resolved" ? "resolved " : "crossed ") +
                  std::to_string(j.Int(at + "/percent")) + " " + j.Str(at + "/metric") + " " +
                  j.Str(at + "/key_id"));
  }
  return out;
}

// Waits until GET /v1/alerts as `token` lists `n` alerts; returns the last answer.
Reply WaitForAlerts(const ApiServer& s, const std::string& token, size_t n) {
  Reply r;
  for (const auto deadline = Clock::now() + 15s; Clock::now() < deadline;) {
    r = s.Call("GET", "/v1/alerts", {}, token);
    if (r.status == 200 && r.json().Size("/alerts") >= n) return r;
    std::this_thread::sleep_for(50ms);
  }
  BOOST_FAIL("alerts did not come: " << r.status << " " << r.body);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(thresholds_raise_alerts_a_member_sees_its_own_a_raise_resolves) {
  ApiServer s;
  const auto [account, admin] = s.CreateAccount("alerts");
  const std::string root = s.IssueKey(admin, "pool", "", "active").substr(0, 8);
  const std::string child_key = s.IssueKey(admin, "member@example.com", root, "active");
  const std::string child = child_key.substr(0, 8);
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + root + "/quota", R"({"daily_requests":10})", admin).status, 200);
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + child + "/cap", R"({"daily_requests":4})", admin).status, 200);
  Reply bad = s.Call("PUT", "/v1/keys/" + root + "/alerts", R"({"percents":[50,150]})", admin);
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.code() == "INVALID_FIELD");
  Reply set = s.Call("PUT", "/v1/keys/" + root + "/alerts", R"({"percents":[100,50]})", admin);
  BOOST_REQUIRE_MESSAGE(set.status == 200, set.status << " " << set.body);
  BOOST_TEST(set.json().Int("/alert_thresholds/0") == 50);
  BOOST_TEST(set.json().Int("/alert_thresholds/1") == 100);
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + child + "/alerts", R"({"percents":[50]})", admin).status, 200);

  // Ten requests of the pool: the member's second reaches half its cap, the pool's fifth and
  // tenth half and all of its quota.
  std::string events;
  for (int i = 0; i < 10; ++i) events += EventLine(i < 6 ? child : root, i, 0, "search", 200);
  s.PostEvents(events);
  Reply listed = WaitForAlerts(s, admin, 3);
  const std::vector<std::string> expected = {"crossed 50 member_daily_requests " + child,
                                             "crossed 50 daily_requests " + root,
                                             "crossed 100 daily_requests " + root};
  BOOST_TEST(Alerts(listed) == expected, boost::test_tools::per_element());
  BOOST_TEST(listed.json().Int("/alerts/0/limit") == 10);
  BOOST_TEST(listed.json().Int("/alerts/0/value") == 10);

  // A member sees its own alerts only.
  Reply own = s.Call("GET", "/v1/alerts", {}, child_key);
  BOOST_REQUIRE_EQUAL(own.status, 200);
  BOOST_TEST(Alerts(own) == std::vector<std::string>{expected[0]}, boost::test_tools::per_element());
  // An admin may ask for one key's.
  Reply of_child = s.Call("GET", "/v1/alerts?key=" + child, {}, admin);
  BOOST_TEST(Alerts(of_child) == std::vector<std::string>{expected[0]},
             boost::test_tools::per_element());

  // A raised quota: 10 of 100 is under both thresholds.
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + root + "/quota", R"({"daily_requests":100})", admin).status, 200);
  Reply after = WaitForAlerts(s, admin, 5);
  const Json j = after.json();
  BOOST_TEST(j.Str("/alerts/0/type") == "threshold.resolved");
  BOOST_TEST(j.Str("/alerts/1/type") == "threshold.resolved");
  const std::set<std::string> resolves = {j.Str("/alerts/0/resolves"), j.Str("/alerts/1/resolves")};
  const std::set<std::string> crossed = {j.Str("/alerts/2/alert_id"), j.Str("/alerts/3/alert_id")};
  BOOST_TEST((resolves == crossed));
  if (!KafkaMode()) {
    BOOST_TEST(MetricValue(s.port(), "keymeter_alerts_total{kind=\"crossed\"}").value_or(0) == 3.0);
    BOOST_TEST(MetricValue(s.port(), "keymeter_alerts_total{kind=\"resolved\"}").value_or(0) == 2.0);
  }
}

// A pool's credits: 4 of 8 units spent crosses 50 %; a top-up opens a new window and resolves it.
BOOST_AUTO_TEST_CASE(credits_thresholds_cross_and_a_top_up_resolves) {
  ApiServer s;
  const auto [account, admin] = s.CreateAccount("credit alerts");
  const std::string root = s.IssueKey(admin, "pool", "", "active").substr(0, 8);
  Reply added = s.Call("POST", "/v1/keys/" + root + "/credits", R"({"units":8,"reason":"open"})",
                       admin);
  BOOST_REQUIRE_MESSAGE(added.status == 200, added.status << " " << added.body);
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + root + "/alerts", R"({"percents":[50]})", admin).status, 200);
  s.PostEvents(EventLine(root, 0, 0, "search", 200, 3) + EventLine(root, 1, 0, "search", 200, 1));
  Reply crossed = WaitForAlerts(s, admin, 1);
  BOOST_TEST(Alerts(crossed) == std::vector<std::string>{"crossed 50 credits " + root},
             boost::test_tools::per_element());
  BOOST_TEST(crossed.json().Int("/alerts/0/limit") == 8);
  BOOST_TEST(crossed.json().Int("/alerts/0/value") == 4);
  BOOST_REQUIRE_EQUAL(s.Call("POST", "/v1/keys/" + root + "/credits",
                             R"({"units":10,"reason":"top-up"})", admin).status, 200);
  Reply resolved = WaitForAlerts(s, admin, 2);
  BOOST_TEST(resolved.json().Str("/alerts/0/type") == "threshold.resolved");
  BOOST_TEST(resolved.json().Str("/alerts/0/resolves") == resolved.json().Str("/alerts/1/alert_id"));
}
