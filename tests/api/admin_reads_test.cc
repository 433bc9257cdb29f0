// The account admin's and the operator's read endpoints against a real `keymeter serve`, after
// request events went through POST /v1/events: usage (account, pool, key; by key, by product),
// the request log and the audit history (newest first, paged by cursor), monthly billing, and
// everything still there after a restart on the same data dir.
#define BOOST_TEST_MODULE admin_reads
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>

#include "projections/time_buckets.h"
#include "schemas/clock.h"
#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

BOOST_AUTO_TEST_CASE(usage_audit_and_request_log_reads) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Acme");
  const std::string parent_key = s.IssueKey(token, "p", "", "active");
  const std::string parent = parent_key.substr(0, 8);
  const std::string child = s.IssueKey(token, "c", parent).substr(0, 8);
  std::string events;
  for (int i = 0; i < 5; ++i) events += EventLine(parent, i, 60 + i, "whois", 200, 2);
  for (int i = 0; i < 3; ++i) events += EventLine(child, 10 + i, 30 + i, "dns", 200);
  events += EventLine(child, 20, 20, "dns", 429);
  s.PostEvents(events);
  s.WaitForRequests(token, child, 4);
  s.WaitForRequests(token, parent, 5);

  // Every answer says how fresh it is: the account's partition holds every event (lag 0), and
  // its watermark is the latest event time (20 s ago: the events are 20-64 s old).
  std::string watermark, lag;
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    const Reply r = s.Call("GET", "/v1/usage", {}, token);
    watermark = r.Header("X-Keymeter-Watermark");
    lag = r.Header("X-Keymeter-Lag");
    if (lag == "0" && !watermark.empty()) break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(lag == "0");
  const keymeter::TimeUs now = keymeter::NowUs();
  BOOST_TEST(watermark >= keymeter::FormatRfc3339(now - 25 * keymeter::kMicrosPerSecond, true));
  BOOST_TEST(watermark <= keymeter::FormatRfc3339(now - 19 * keymeter::kMicrosPerSecond, true));
  const Json decided = s.Call("POST", "/v1/authorize", R"({"key":")" + parent_key + R"("})").json();
  BOOST_TEST(decided.Str("/freshness/watermark") == watermark);
  BOOST_TEST(decided.Int("/freshness/lag_messages") == 0);

  // Account scope, the root's pool, a child alone.
  Json all = s.Call("GET", "/v1/usage", {}, token).json();
  BOOST_TEST(all.Str("/scope") == "account");
  BOOST_TEST(all.Int("/totals/requests") == 9);
  BOOST_TEST(all.Int("/totals/units") == 14);
  BOOST_TEST(all.Int("/totals/errors_4xx") == 1);
  Json pool = s.Call("GET", "/v1/usage?granularity=hour&key=" + parent, {}, token).json();
  BOOST_TEST(pool.Str("/scope") == "root");
  BOOST_TEST(pool.Int("/totals/requests") == 9);
  BOOST_TEST(pool.Str("/granularity") == "hour");
  Json one = s.Call("GET", "/v1/usage?granularity=month&key=" + child, {}, token).json();
  BOOST_TEST(one.Str("/scope") == "key");
  BOOST_TEST(one.Int("/totals/requests") == 4);
  Json by_key = s.Call("GET", "/v1/usage?group_by=key&key=" + parent, {}, token).json();
  BOOST_REQUIRE_EQUAL(by_key.Size("/keys"), 2u);
  BOOST_TEST(by_key.Int("/keys/0/totals/requests") + by_key.Int("/keys/1/totals/requests") == 9);
  Json by_product = s.Call("GET", "/v1/usage?group_by=product", {}, token).json();
  BOOST_REQUIRE_EQUAL(by_product.Size("/products"), 2u);
  BOOST_TEST(by_product.Str("/products/0/product") == "dns");
  BOOST_TEST(by_product.Int("/products/0/totals/requests") == 4);
  BOOST_TEST(by_product.Int("/products/1/totals/units") == 10);
  BOOST_TEST(s.Call("GET", "/v1/usage?group_by=product&granularity=hour", {}, token).status == 400);
  BOOST_TEST(s.Call("GET", "/v1/usage?granularity=week", {}, token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("GET", "/v1/usage?from=yesterday", {}, token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("GET", "/v1/usage?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", {}, token)
                 .status == 400);

  // The request log: newest first, paged by an opaque cursor, filtered by key and status.
  std::set<std::string> seen;
  std::string cursor, last_time = "9999";
  for (int page = 0; page < 10; ++page) {
    Json j = s.Call("GET", "/v1/requests?limit=4" + (cursor.empty() ? "" : "&cursor=" + cursor), {},
                    token)
                 .json();
    for (size_t i = 0; i < j.Size("/requests"); ++i) {
      const std::string p = "/requests/" + std::to_string(i);
      BOOST_TEST((j.Str(p + "/time") <= last_time), j.Str(p + "/time") << " after " << last_time);
      last_time = j.Str(p + "/time");
      BOOST_TEST(seen.insert(j.Str(p + "/request_id")).second);
    }
    if (j.IsNull("/next_cursor")) break;
    cursor = j.Str("/next_cursor");
  }
  BOOST_TEST(seen.size() == 9u);
  Json errors = s.Call("GET", "/v1/requests?status=4xx", {}, token).json();
  BOOST_REQUIRE_EQUAL(errors.Size("/requests"), 1u);
  BOOST_TEST(errors.Int("/requests/0/status") == 429);
  BOOST_TEST(errors.Str("/requests/0/key_id") == child);
  // A root's log is its family's, as its usage is: its own 5 and its child's 4.
  Json family = s.Call("GET", "/v1/requests?key=" + parent, {}, token).json();
  BOOST_REQUIRE_EQUAL(family.Size("/requests"), 9u);
  std::map<std::string, int> per_key;
  for (size_t i = 0; i < family.Size("/requests"); ++i) {
    ++per_key[family.Str("/requests/" + std::to_string(i) + "/key_id")];
  }
  BOOST_TEST(per_key[parent] == 5);
  BOOST_TEST(per_key[child] == 4);
  BOOST_TEST(s.Call("GET", "/v1/requests?key=" + child, {}, token).json().Size("/requests") == 4u);
  BOOST_TEST(s.Call("GET", "/v1/requests?cursor=zzz", {}, token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("GET", "/v1/requests?status=7xx", {}, token).status == 400);

  // The audit history keeps rejected ops too, with actor and outcome; paged the same way.
  s.Call("PUT", "/v1/keys/" + child + "/allowed-sources", R"({"ips":["300.1.1.1"]})", token);
  Json audit = s.Call("GET", "/v1/audit?limit=1", {}, token).json();
  BOOST_REQUIRE_EQUAL(audit.Size("/entries"), 1u);
  BOOST_TEST(audit.Str("/entries/0/op") == "AllowedSourcesSet");
  BOOST_TEST(audit.Str("/entries/0/outcome") == "INVALID-CIDR");
  BOOST_TEST(audit.Str("/entries/0/actor/kind") == "account_admin");
  BOOST_TEST(audit.Str("/entries/0/key_id") == child);
  Json next =
      s.Call("GET", "/v1/audit?limit=100&cursor=" + audit.Str("/next_cursor"), {}, token).json();
  BOOST_TEST(next.Size("/entries") == 3u);  // AccountCreated, two KeyIssued
  BOOST_TEST(next.Str("/entries/2/op") == "AccountCreated");
  BOOST_TEST(next.Str("/entries/2/actor/kind") == "operator");
  BOOST_TEST(s.Call("GET", "/v1/audit?key=" + child, {}, token).json().Size("/entries") == 2u);
  BOOST_TEST(s.Call("GET", "/v1/audit?cursor=r00", {}, token).status == 400);

  // Billing: this month per account, root key, member and product; not closed yet.
  Json bill =
      s.Call("GET", "/v1/billing/usage?month=" + all.Str("/to").substr(0, 7), {}, kOperatorToken)
          .json();
  BOOST_TEST(!bill.Bool("/complete"));
  BOOST_TEST(!bill.IsNull("/watermark"));
  BOOST_REQUIRE_EQUAL(bill.Size("/accounts"), 1u);
  BOOST_TEST(bill.Int("/accounts/0/totals/requests") == 9);
  BOOST_REQUIRE_EQUAL(bill.Size("/accounts/0/root_keys"), 1u);
  BOOST_TEST(bill.Int("/accounts/0/root_keys/0/totals/units") == 14);
  BOOST_REQUIRE_EQUAL(bill.Size("/accounts/0/root_keys/0/members"), 2u);
  Json old = s.Call("GET", "/v1/billing/usage?month=2020-02", {}, kOperatorToken).json();
  BOOST_TEST(old.Bool("/complete"));
  BOOST_TEST(old.Int("/accounts/0/totals/requests") == 0);
  BOOST_TEST(s.Call("GET", "/v1/billing/usage?month=2020-13", {}, kOperatorToken).status == 400);
  BOOST_TEST(s.Call("GET", "/v1/billing/usage", {}, kOperatorToken).code() == "MISSING_FIELD");

  // The request log exported, streamed: yesterday and today (the events are a minute old).
  const keymeter::TimeUs today = keymeter::DayStart(keymeter::NowUs());
  const std::string from = keymeter::FormatRfc3339(today - keymeter::kMicrosPerDay).substr(0, 10);
  const std::string to = keymeter::FormatRfc3339(today).substr(0, 10);
  const std::string range = "/v1/requests/export?from=" + from + "&to=" + to;
  const Reply csv = s.Call("GET", range, {}, token);
  BOOST_REQUIRE_MESSAGE(csv.status == 200, csv.status << " " << csv.body);
  BOOST_TEST(csv.content_type == "text/csv; charset=utf-8");
  BOOST_TEST(csv.Header("Content-Disposition").find("requests-" + from) != std::string::npos);
  BOOST_TEST(csv.body.rfind("time,account_id,key_id,request_id,product,units,", 0) == 0u);
  BOOST_TEST(std::count(csv.body.begin(), csv.body.end(), '\n') == 1 + 9);  // header + requests
  BOOST_TEST(csv.body.find("," + account + "," + child + ",") != std::string::npos);
  const Reply ndjson = s.Call("GET", range + "&format=ndjson&key=" + child, {}, token);
  BOOST_REQUIRE(ndjson.status == 200);
  BOOST_TEST(ndjson.content_type == "application/x-ndjson");
  BOOST_TEST(std::count(ndjson.body.begin(), ndjson.body.end(), '\n') == 4);  // the child's own
  BOOST_TEST(Json(ndjson.body.substr(0, ndjson.body.find('\n'))).Str("/key_id") == child);
  BOOST_TEST(s.Call("GET", "/v1/requests/export?from=" + from, {}, token).code() == "MISSING_FIELD");
  BOOST_TEST(s.Call("GET", range + "&format=xml", {}, token).code() == "INVALID_FIELD");
  BOOST_TEST(s.Call("GET", "/v1/requests/export?from=2026-01-01&to=2026-12-31", {}, token).code() ==
             "INVALID_FIELD");  // over 92 days
  BOOST_TEST(s.Call("GET", range + "&key=Nope1234", {}, token).status == 404);
  BOOST_TEST(s.Call("GET", range, {}, parent_key).status == 403);  // a member's key
}

BOOST_AUTO_TEST_CASE(accounts_and_keys_survive_a_restart) {
  TempDir dir;
  std::string token, key;
  {
    ApiServer s({}, dir.sub("db"));
    token = s.CreateAccount("Acme").second;
    key = s.IssueKey(token, "m", "", "active");
    BOOST_TEST(s.Stop() == 0);
  }
  ApiServer again({}, dir.sub("db"));
  Reply list = again.Call("GET", "/v1/keys", {}, token);
  BOOST_REQUIRE_EQUAL(list.status, 200);
  BOOST_TEST(list.json().Str("/0/key_id") == key.substr(0, 8));
  BOOST_TEST(again.Call("GET", "/v1/me", {}, key).status == 200);
  BOOST_TEST(again.Call("GET", "/v1/audit", {}, token).json().Size("/entries") == 2u);
}
