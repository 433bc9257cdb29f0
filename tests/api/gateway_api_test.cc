// The gateway endpoints of the real `keymeter serve` over HTTP: GET and POST /v1/authorize with
// their headers and bodies, POST /v1/events (NDJSON and FlatBuffers) turning into usage, exact
// quotas with reserve, bad input, and the authorize metrics. The data dir is seeded before serve
// starts by an in-process Pipeline on it (accounts and keys as the admin API would publish them).
#define BOOST_TEST_MODULE gateway_api
#include <boost/test/unit_test.hpp>
#include <map>

#include "tests/api/gateway_fixture.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

std::optional<HttpResponse> Authorize(uint16_t port, Headers headers) {
  return Send(port, "GET", "/v1/authorize", headers);
}

std::optional<HttpResponse> PostJson(uint16_t port, const std::string& target,
                                     const std::string& body) {
  return Send(port, "POST", target, {{"Content-Type", "application/json"}}, body);
}

std::string EventLine(const std::string& key_id, const std::string& request_id = "",
                      uint32_t units = 1) {
  return R"({"request_id":")" + (request_id.empty() ? ToHex(RandomRequestId()) : request_id) +
         R"(","key_id":")" + key_id + R"(","time_us":)" + std::to_string(NowUs()) +
         R"(,"product":"search","units":)" + std::to_string(units) + "}\n";
}

// Waits until GET /v1/authorize for `key` shows `remaining` daily requests.
bool WaitRemaining(uint16_t port, const std::string& key, const std::string& remaining) {
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    auto r = Authorize(port, {{"X-Api-Key", key}, {"X-Product", "search"}});
    if (r && Header(*r, "RateLimit-Remaining") == remaining) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

struct Keys {
  std::string parent, child, fenced, bulk;
  std::string gateway;  // the token of gateway "gwTest01"
};

// Seeds `data_dir` through an in-process pipeline, then closes it.
Keys SeedKeys(const std::string& data_dir) {
  Keys keys;
  SeedDataDir(data_dir, [&](Seeder& seed) {
    seed.Account("acctGw");
    keys.parent = seed.Key("acctGw", "GwParent");
    keys.child = seed.Key("acctGw", "GwChild1", "GwParent");
    seed.Quota("acctGw", "GwParent", 5, 0);
    seed.Products("acctGw", "GwParent", {"search"});
    keys.fenced = seed.Key("acctGw", "GwFence1");
    seed.Sources("acctGw", "GwFence1", {"10.0.0.0/8", "2001:db8::/32"});
    seed.Account("acctBulk");
    keys.bulk = seed.Key("acctBulk", "GwBulk01");
    keys.gateway = seed.Gateway("gwTest01");
  });
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gateway_endpoints_over_http) {
  TempDir dir;
  const Keys keys = SeedKeys(dir.sub("db"));
  const Serve server = StartServe(dir.sub("db"), dir.sub("err"));
  const uint16_t port = server.port;

  // GET: allowed, with the headers nginx can forward.
  auto ok = Authorize(port, {{"X-Api-Key", keys.child}, {"X-Product", "search"}});
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->result_int() == 204u);
  BOOST_TEST(ok->body().empty());
  BOOST_TEST(Header(*ok, "X-Keymeter-Reason") == "OK");
  BOOST_TEST(Header(*ok, "X-Keymeter-Account") == "acctGw");
  BOOST_TEST(Header(*ok, "X-Keymeter-Key-Id") == "GwChild1");
  BOOST_TEST(Header(*ok, "RateLimit-Remaining") == "4");
  const int reset = std::stoi(Header(*ok, "RateLimit-Reset"));
  BOOST_TEST((reset > 0 && reset <= 86400));
  auto bearer =
      Authorize(port, {{"Authorization", "Bearer " + keys.parent}, {"X-Product", "search"}});
  BOOST_REQUIRE(bearer);
  BOOST_TEST(bearer->result_int() == 204u);

  // GET: denials by status and reason; a 401 names no account.
  const std::vector<std::tuple<Headers, unsigned, std::string>> denials = {
      {{}, 401u, "MALFORMED_KEY"},
      {{{"X-Api-Key", keys.child.substr(0, 20)}}, 401u, "MALFORMED_KEY"},
      {{{"X-Api-Key", keys.child.substr(0, 23) + "!"}}, 401u, "MALFORMED_KEY"},
      {{{"X-Api-Key", "GwChild1" + std::string(16, 'x')}}, 401u, "NOT_FOUND"},
      {{{"X-Api-Key", keys.child}, {"X-Product", "video"}}, 403u, "FORBIDDEN_PRODUCT"},
      {{{"X-Api-Key", keys.fenced}, {"X-Real-IP", "11.1.1.1"}}, 403u, "FORBIDDEN_SOURCE"},
      {{{"X-Api-Key", keys.fenced}}, 403u, "FORBIDDEN_SOURCE"},  // peer 127.0.0.1
      {{{"X-Api-Key", keys.child}, {"X-Units", "many"}}, 400u, "INVALID_UNITS"},
      {{{"X-Api-Key", keys.child}, {"X-Reserve", "true"}}, 400u, "INVALID_REQUEST_ID"},
  };
  for (const auto& [headers, status, code] : denials) {
    BOOST_TEST_CONTEXT("expecting " << code) {
      auto r = Authorize(port, headers);
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == status);
      BOOST_TEST(Header(*r, "X-Keymeter-Reason") == code);
      if (status == 401u) BOOST_TEST(Header(*r, "X-Keymeter-Account").empty());
    }
  }
  for (const std::string ip : {"10.1.2.3", "2001:db8::7"}) {
    auto r = Authorize(port, {{"X-Api-Key", keys.fenced}, {"X-Real-IP", ip}});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 204u);
  }

  // POST: one shape for every decision.
  auto posted = PostJson(port, "/v1/authorize",
                         R"({"key":")" + keys.child + R"(","product":"search","units":2})");
  BOOST_REQUIRE(posted);
  BOOST_TEST(posted->result_int() == 200u);
  const std::string& body = posted->body();
  for (const std::string part :
       {R"("allowed":true)", R"("reason":"OK")", R"("account_id":"acctGw")",
        R"("key_id":"GwChild1")", R"("root_key_id":"GwParent")",
        R"("remaining":{"daily_requests":4,"monthly_units":null,"credits":null})", R"("reset":{"daily":")"}) {
    BOOST_CHECK_MESSAGE(body.find(part) != std::string::npos, body << " lacks " << part);
  }
  auto unknown = PostJson(port, "/v1/authorize", R"({"key":"GwChild1xxxxxxxxxxxxxxxx"})");
  BOOST_REQUIRE(unknown);
  BOOST_TEST(unknown->result_int() == 200u);
  BOOST_TEST(unknown->body().find(R"("allowed":false,"reason":"NOT_FOUND","account_id":null)") !=
             std::string::npos);
  BOOST_TEST(unknown->body().find(R"("remaining":null)") != std::string::npos);
  const std::vector<std::tuple<std::string, std::string, unsigned, std::string>> bad_posts = {
      {"application/json", "{not json", 400u, "INVALID_JSON"},
      {"application/json", "[1,2]", 400u, "INVALID_JSON"},
      {"application/json", R"({"product":"search"})", 400u, "MISSING_FIELD"},
      {"application/json", R"({"key":42})", 400u, "INVALID_FIELD"},
      {"application/json", R"({"key":")" + keys.child + R"(","units":-1})", 400u, "INVALID_UNITS"},
      {"application/json", R"({"key":")" + keys.child + R"(","reserve":true})", 400u,
       "INVALID_REQUEST_ID"},
      {"text/plain", R"({"key":")" + keys.child + R"("})", 415u, "UNSUPPORTED_MEDIA_TYPE"},
  };
  for (const auto& [type, payload, status, code] : bad_posts) {
    BOOST_TEST_CONTEXT("expecting " << code) {
      auto r = Send(port, "POST", "/v1/authorize", {{"Content-Type", type}}, payload);
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == status);
      BOOST_TEST(r->body().find(R"("code":")" + code + "\"") != std::string::npos);
    }
  }

  // POST /v1/events takes only a gateway's credential: none, another role's or a made-up
  // token is 401 before the body is looked at, and nothing is counted.
  const auto gw = [&](const std::string& type) {
    return Headers{{"Content-Type", type}, {"Authorization", "Bearer " + keys.gateway}};
  };
  for (const std::string& bearer : {std::string(), std::string("t"), keys.child,
                                    "kmg_" + std::string(40, 'x')}) {
    Headers headers{{"Content-Type", "application/x-ndjson"}};
    if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
    auto refused = Send(port, "POST", "/v1/events", headers, EventLine("GwChild1"));
    BOOST_REQUIRE(refused);
    BOOST_TEST(refused->result_int() == 401u);
    BOOST_TEST(refused->body().find("UNAUTHORIZED") != std::string::npos);
  }

  // POST /v1/events: good lines are published, bad ones reported by line; usage follows.
  const std::string events = EventLine("GwChild1") + "{oops\n" + EventLine("GwParent") +
                             EventLine("Nobody01") + "\n" + R"({"key_id":"GwChild1"})" + "\n";
  auto ingested =
      Send(port, "POST", "/v1/events", gw("application/x-ndjson"), events);
  BOOST_REQUIRE(ingested);
  BOOST_TEST(ingested->result_int() == 200u);
  BOOST_TEST(
      ingested->body().find(R"({"accepted":2,"rejected":[{"line":2,"code":"INVALID_JSON")") == 0u);
  BOOST_TEST(ingested->body().find(R"({"line":4,"code":"UNKNOWN_KEY")") != std::string::npos);
  BOOST_TEST(ingested->body().find(R"({"line":6,"code":"MISSING_FIELD")") != std::string::npos);
  BOOST_TEST(WaitRemaining(port, keys.child, "2"));  // 5 - 2 used - this one

  // FlatBuffers: framed envelopes; only request events of known keys get in.
  auto frame = [](const std::string& envelope) {
    const uint32_t n = uint32_t(envelope.size());
    return std::string{char(n >> 24), char(n >> 16), char(n >> 8), char(n)} + envelope;
  };
  RequestFields fields{.request_id = RandomRequestId(),
                       .key_id = "GwChild1",
                       .account_id = "acctGw",
                       .time_us = NowUs()};
  EnvelopeHeader op{.command_id = "sneaky", .time_us = NowUs(), .account_id = "acctGw"};
  const std::string flat = frame(BuildRequestEvent(fields)) +
                           frame(BuildQuotaSet(op, "GwParent", 1'000'000, 0)) + frame("garbage!") +
                           std::string("\0\0\1\0", 4) + "short";
  auto binary =
      Send(port, "POST", "/v1/events", gw("application/x-flatbuffers"), flat);
  BOOST_REQUIRE(binary);
  BOOST_TEST(binary->result_int() == 200u);
  BOOST_TEST(binary->body().find(
                 R"({"accepted":1,"rejected":[{"line":2,"code":"NOT_A_REQUEST_EVENT")") == 0u);
  BOOST_TEST(binary->body().find(R"({"line":3,"code":"UNDECODABLE")") != std::string::npos);
  BOOST_TEST(binary->body().find(R"({"line":4,"code":"TRUNCATED")") != std::string::npos);
  BOOST_TEST(WaitRemaining(port, keys.child, "1"));
  // A whole key as key_id is refused before it reaches the log, where its secret would be.
  RequestFields whole = fields;
  whole.request_id = RandomRequestId();
  whole.key_id = keys.child;
  auto named = Send(port, "POST", "/v1/events", gw("application/x-flatbuffers"),
                    frame(BuildRequestEvent(whole)));
  BOOST_REQUIRE(named);
  BOOST_TEST(named->body().find(
                 R"({"accepted":0,"rejected":[{"line":1,"code":"MALFORMED-KEY-ID")") == 0u);

  // Exact quota: reserve holds the last two slots at once; an event then replaces its hold.
  const std::string request_id = ToHex(RandomRequestId());
  auto reserve = [&](const std::string& id) {
    return PostJson(port, "/v1/authorize",
                    R"({"key":")" + keys.child +
                        R"(","product":"search","reserve":true,"request_id":")" + id + "\"}");
  };
  auto held = reserve(request_id);
  BOOST_REQUIRE(held);
  BOOST_TEST(held->body().find(R"("remaining":{"daily_requests":1,)") != std::string::npos);
  auto last = reserve(ToHex(RandomRequestId()));
  BOOST_REQUIRE(last);
  BOOST_TEST(last->body().find(R"("allowed":true)") != std::string::npos);
  BOOST_TEST(last->body().find(R"("remaining":{"daily_requests":0,)") != std::string::npos);
  auto refused = reserve(ToHex(RandomRequestId()));
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->body().find(R"("allowed":false,"reason":"DAILY_QUOTA_EXCEEDED")") == 1u);
  auto full = Authorize(port, {{"X-Api-Key", keys.parent}, {"X-Product", "search"}});
  BOOST_REQUIRE(full);
  BOOST_TEST(full->result_int() == 429u);
  BOOST_TEST(Header(*full, "X-Keymeter-Reason") == "DAILY_QUOTA_EXCEEDED");
  BOOST_TEST(Header(*full, "RateLimit-Remaining") == "0");
  auto matched = Send(port, "POST", "/v1/events", gw("application/json"),
                      EventLine("GwChild1", request_id));
  BOOST_REQUIRE(matched);
  BOOST_TEST(matched->body() == R"({"accepted":1,"rejected":[]})");

  // The gateway is the credential's, whatever the line says; units are capped per event.
  const std::string spoofed = R"({"request_id":")" + ToHex(RandomRequestId()) +
                              R"(","key_id":"GwFence1","time_us":)" + std::to_string(NowUs()) +
                              R"(,"gateway":"spoofed"})" + "\n";
  auto capped = Send(port, "POST", "/v1/events", gw("application/x-ndjson"),
                     spoofed + EventLine("GwFence1", "", 1'000'001));
  BOOST_REQUIRE(capped);
  BOOST_TEST(capped->body().find(R"({"accepted":1,"rejected":[{"line":2,"code":"UNITS_TOO_LARGE")") ==
             0u);
  std::string own;
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline && own.empty();) {
    auto r = Send(port, "GET", "/v1/me/requests", {{"Authorization", "Bearer " + keys.fenced}});
    if (r && r->body().find(R"("gateway":)") != std::string::npos) own = r->body();
    std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(own.find(R"("gateway":"gwTest01")") != std::string::npos, own);
  BOOST_TEST(own.find("spoofed") == std::string::npos);

  // Bodies: a large one fits the events route's raised limit; too large or wrong type do not.
  std::string bulk;
  while (bulk.size() < (size_t{2} << 20)) bulk += EventLine("GwBulk01");
  auto big = Send(port, "POST", "/v1/events", gw("application/x-ndjson"), bulk);
  BOOST_REQUIRE(big);
  BOOST_TEST(big->result_int() == 200u);
  BOOST_TEST(big->body().find(R"("rejected":[])") != std::string::npos);
  for (const char* type : {"application/x-ndjson", "application/x-flatbuffers"}) {
    auto huge = Send(port, "POST", "/v1/events", {{"Content-Type", type}}, "",
                     (size_t{8} << 20) + 1);
    BOOST_REQUIRE(huge);
    BOOST_TEST(huge->result_int() == 413u, type);
    BOOST_TEST(huge->body().find("BODY_TOO_LARGE") != std::string::npos);
  }
  auto typed = Send(port, "POST", "/v1/events", gw("text/csv"), "a,b\n");
  BOOST_REQUIRE(typed);
  BOOST_TEST(typed->result_int() == 415u);
  // A body of a type the route does not take gets the server's 1 MiB, not the events limit.
  auto untyped = Send(port, "POST", "/v1/events", {{"Content-Type", "text/csv"}}, "",
                      (size_t{1} << 20) + 1);
  BOOST_REQUIRE(untyped);
  BOOST_TEST(untyped->result_int() == 413u);
  auto big_authorize = PostJson(port, "/v1/authorize", std::string((1 << 20) + 1, ' '));
  BOOST_REQUIRE(big_authorize);
  BOOST_TEST(big_authorize->result_int() == 413u);

  auto metrics = Get(port, "/metrics");
  BOOST_REQUIRE(metrics);
  for (const std::string part : {R"(keymeter_authorize_decisions_total{reason="OK"})",
                                 R"(keymeter_authorize_decisions_total{reason="NOT_FOUND"} )",
                                 "keymeter_authorize_latency_seconds_bucket"}) {
    BOOST_CHECK_MESSAGE(metrics->body().find(part) != std::string::npos, "metrics lack " << part);
  }
  BOOST_REQUIRE(::kill(server.process->pid, SIGTERM) == 0);
  BOOST_TEST(server.process->Wait(15s) == 0);
}
