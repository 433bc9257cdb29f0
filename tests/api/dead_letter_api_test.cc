// Dead letters, readable and repairable (docs/reliability.md, the DLQ runbook), against a real
// `keymeter serve` on the embedded log and (dead_letter_api_test_kafka) on a real broker, with a
// future tolerance of 2 s: events dated 6 s ahead are dead-lettered FUTURE-TIMESTAMP; re-driven
// too early, one fails again and comes back with its reason under a new id; once their time has
// passed, `keymeter dlq redrive --reason FUTURE-TIMESTAMP` applies each exactly once (the
// early one's second copy is a duplicate, dropped); a second re-drive counts nothing twice; every
// re-drive is in the account's audit history; the operator alone may do any of it.
#define BOOST_TEST_MODULE dead_letter_api_test
#include <boost/test/unit_test.hpp>
#include <set>

#include "schemas/ids.h"
#include "tests/api/api_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr int kEvents = 5;

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun Dlq(const ApiServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), "dlq");
  args.push_back("--url");
  args.push_back("http://127.0.0.1:" + std::to_string(server.port()));
  auto p = Spawn(KEYMETER_BINARY, args, server.dir().sub("dlq.err"),
                 {std::string("KEYMETER_OPERATOR_TOKEN=") + kOperatorToken});
  CliRun run;
  run.out = p->ReadAll(30s);
  run.code = p->Wait(30s);
  run.err = p->Stderr();
  return run;
}

// The dead letters of `reason` and `account` listed now (GET /v1/dead-letters), as the body.
// (On Kafka the DLQ topic is the broker's keymeter.dlq, shared with other tests: hence the
// account.)
std::string Listed(const ApiServer& server, const std::string& reason, const std::string& account) {
  Reply r = server.Call("GET", "/v1/dead-letters?limit=1000&reason=" + reason + "&account=" + account,
                        {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return r.body;
}

// Waits until `reason` lists at least `n` dead letters; the list's body.
std::string WaitListed(const ApiServer& server, const std::string& reason,
                       const std::string& account, size_t n) {
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    std::string body = Listed(server, reason, account);
    if (Json(body).Size("/dead_letters") >= n) return body;
    std::this_thread::sleep_for(50ms);
  }
  const std::string body = Listed(server, reason, account);
  BOOST_FAIL("fewer than " << n << " " << reason << " dead letters: " << body);
  return body;
}

// keymeter_duplicates_dropped_total on /metrics.
int64_t Duplicates(const ApiServer& server) {
  const std::string body = server.Call("GET", "/metrics").body;
  const std::string name = "\nkeymeter_duplicates_dropped_total ";
  const size_t at = body.find(name);
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + name.size()));
}

// Waits until at least `n` duplicates were dropped.
void WaitDuplicates(const ApiServer& server, int64_t n) {
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    if (Duplicates(server) >= n) return;
    std::this_thread::sleep_for(50ms);
  }
  BOOST_FAIL("duplicates dropped: " << Duplicates(server) << ", expected " << n);
}

size_t Requests(const ApiServer& server, const std::string& token, const std::string& key_id) {
  Reply r = server.Call("GET", "/v1/requests?limit=1000&key=" + key_id, {}, token);
  BOOST_REQUIRE(r.status == 200);
  return r.json().Size("/requests");
}

}  // namespace

BOOST_AUTO_TEST_CASE(future_events_are_redriven_once_their_time_has_come) {
  ApiServer server({"KEYMETER_FUTURE_TOLERANCE_SECONDS=2"});
  const auto [account, admin] = server.CreateAccount("acme");
  const std::string key = server.IssueKey(admin, "ci", "", "active");
  const std::string key_id = key.substr(0, 8);

  // A gateway whose clock runs 6 s fast.
  std::string body;
  for (int i = 0; i < kEvents; ++i) body += EventLine(key_id, i, -6, "translate", 200);
  const auto posted = Clock::now();
  server.PostEvents(body);
  const Json dead(WaitListed(server, "FUTURE-TIMESTAMP", account, kEvents));
  BOOST_REQUIRE_EQUAL(dead.Size("/dead_letters"), size_t(kEvents));
  BOOST_TEST(Requests(server, admin, key_id) == 0u);
  std::set<std::string> ids;
  for (size_t i = 0; i < kEvents; ++i) {
    const std::string at = "/dead_letters/" + std::to_string(i);
    ids.insert(dead.Str(at + "/id"));
    BOOST_TEST(dead.Str(at + "/account_id") == account);
    BOOST_TEST(dead.Str(at + "/op") == "RequestEvent");
    BOOST_TEST(dead.Str(at + "/key_id") == key_id);
    BOOST_TEST(dead.Bool(at + "/redrivable"));
    // Spelled as the request log spells it: a UUID.
    BOOST_TEST(ParseRequestId(dead.Str(at + "/request_id")).has_value());
    BOOST_TEST(dead.Str(at + "/request_id").size() == 36u);
  }
  const std::string first = dead.Str("/dead_letters/0/id");

  // One dead letter in full: its event decoded, as `keymeter log` prints it.
  const CliRun shown = Dlq(server, {"show", first});
  BOOST_REQUIRE_MESSAGE(shown.code == 0, shown.err);
  const Json one(shown.out);
  BOOST_TEST(one.Str("/id") == first);
  BOOST_TEST(one.Str("/reason") == "FUTURE-TIMESTAMP");
  BOOST_TEST(one.Str("/event/op") == "RequestEvent");
  BOOST_TEST(one.Str("/event/data/key_id") == key_id);
  // The same through the API (its answer checked against docs/openapi.yaml like every other).
  const Reply api_shown = server.Call("GET", "/v1/dead-letters/" + first, {}, kOperatorToken);
  BOOST_TEST(api_shown.status == 200);
  BOOST_TEST(api_shown.json().Str("/event/op") == "RequestEvent");
  BOOST_TEST(shown.out.find(key) == std::string::npos);  // never the plain key

  // Re-driven too early: it fails again, with its reason, under a new id.
  const CliRun early = Dlq(server, {"redrive", first});
  BOOST_REQUIRE_MESSAGE(early.code == 0, early.err);
  BOOST_TEST(Json(early.out).Str("/redriven/0") == first);
  const Json later(WaitListed(server, "FUTURE-TIMESTAMP", account, kEvents + 1));
  BOOST_TEST(ids.count(later.Str("/dead_letters/" + std::to_string(kEvents) + "/id")) == 0u);

  // Paging: two at a time, every one once.
  const CliRun paged = Dlq(server, {"list", "--reason", "FUTURE-TIMESTAMP", "--account", account,
                                    "--limit", "2", "--all"});
  BOOST_REQUIRE_MESSAGE(paged.code == 0, paged.err);
  BOOST_TEST(std::count(paged.out.begin(), paged.out.end(), '\n') == kEvents + 1);
  BOOST_TEST(paged.err.find(std::to_string(kEvents + 1) + " dead letters") != std::string::npos);

  // Once their time has come, all of them: each request counts once.
  std::this_thread::sleep_until(posted + 6s);
  const int64_t duplicates = Duplicates(server);
  BOOST_REQUIRE(duplicates >= 0);
  const CliRun all = Dlq(server, {"redrive", "--reason", "FUTURE-TIMESTAMP", "--account", account});
  BOOST_REQUIRE_MESSAGE(all.code == 0, all.err);
  BOOST_TEST(Json(all.out).Size("/redriven") == size_t(kEvents + 1));
  server.WaitForRequests(admin, key_id, kEvents);
  WaitDuplicates(server, duplicates + 1);  // the early one's second copy
  BOOST_TEST(Requests(server, admin, key_id) == size_t(kEvents));

  // A second re-drive of the same dead letters counts nothing twice.
  std::vector<std::string> again = {"redrive"};
  again.insert(again.end(), ids.begin(), ids.end());
  const CliRun twice = Dlq(server, again);
  BOOST_REQUIRE_MESSAGE(twice.code == 0, twice.err);
  WaitDuplicates(server, duplicates + 1 + kEvents);
  BOOST_TEST(Requests(server, admin, key_id) == size_t(kEvents));

  // Every re-drive is in the account's audit history.
  Reply audit = server.Call("GET", "/v1/audit?limit=1000", {}, admin);
  BOOST_REQUIRE(audit.status == 200);
  size_t redrives = 0;
  const Json a = audit.json();
  for (size_t i = 0; i < a.Size("/entries"); ++i) {
    const std::string at = "/entries/" + std::to_string(i);
    if (a.Str(at + "/op") != "DeadLetterRedriven") continue;
    ++redrives;
    BOOST_TEST(a.Str(at + "/outcome") == "OK");
    BOOST_TEST(a.Str(at + "/key_id") == key_id);
    BOOST_TEST(a.Str(at + "/detail").find("FUTURE-TIMESTAMP") != std::string::npos);
  }
  BOOST_TEST(redrives == size_t(1 + (kEvents + 1) + kEvents));

  // The operator's alone; bad input is named.
  BOOST_TEST(server.Call("GET", "/v1/dead-letters", {}, admin).status == 403);
  BOOST_TEST(server.Call("POST", "/v1/dead-letters/redrive", R"({"ids":[]})", admin).status == 403);
  BOOST_TEST(server.Call("GET", "/v1/dead-letters?cursor=zz", {}, kOperatorToken).status == 400);
  BOOST_TEST(server.Call("GET", "/v1/dead-letters/9-999999", {}, kOperatorToken).status == 404);
  BOOST_TEST(server.Call("POST", "/v1/dead-letters/redrive", "{}", kOperatorToken).status == 400);
  Reply missing = server.Call("POST", "/v1/dead-letters/redrive", R"({"ids":["9-999999"]})",
                              kOperatorToken);
  BOOST_TEST(missing.status == 200);
  BOOST_TEST(missing.json().Str("/skipped/0/code") == "NOT_FOUND");
  BOOST_TEST(Dlq(server, {"redrive"}).code == 2);
}
