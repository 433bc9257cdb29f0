// Credential plumbing without a server: the attempt limiter's windows and memory bound, the
// Bearer header parser, and the JSON body reader's codes.
#define BOOST_TEST_MODULE auth
#include "api/auth.h"

#include <boost/test/unit_test.hpp>

#include "api/attempt_limiter.h"
#include "api/body.h"
#include "api/client_address.h"

using namespace keymeter;
using namespace std::chrono_literals;
using Clock = AttemptLimiter::Clock;

BOOST_AUTO_TEST_CASE(an_address_is_blocked_for_the_rest_of_its_window) {
  AttemptLimiter limiter({.max_failures = 3, .window = 60s, .max_addresses = 100});
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 2; ++i) limiter.RecordFailure("10.0.0.1", t0 + std::chrono::seconds(i));
  BOOST_TEST(limiter.BlockedFor("10.0.0.1", t0 + 2s) == 0);
  limiter.RecordFailure("10.0.0.1", t0 + 10s);
  BOOST_TEST(limiter.BlockedFor("10.0.0.1", t0 + 10s) == 50);
  BOOST_TEST(limiter.BlockedFor("10.0.0.2", t0 + 10s) == 0);  // per address
  BOOST_TEST(limiter.BlockedFor("10.0.0.1", t0 + 59500ms) == 1);
  BOOST_TEST(limiter.BlockedFor("10.0.0.1", t0 + 60s) == 0);  // the window is over
  limiter.RecordFailure("10.0.0.1", t0 + 61s);                // a new one opens
  BOOST_TEST(limiter.BlockedFor("10.0.0.1", t0 + 61s) == 0);
}

BOOST_AUTO_TEST_CASE(zero_failures_means_no_limit) {
  AttemptLimiter limiter({.max_failures = 0});
  for (int i = 0; i < 100; ++i) limiter.RecordFailure("a", Clock::now());
  BOOST_TEST(limiter.BlockedFor("a", Clock::now()) == 0);
  BOOST_TEST(limiter.tracked() == 0u);
}

BOOST_AUTO_TEST_CASE(memory_stays_bounded_under_many_addresses) {
  AttemptLimiter limiter({.max_failures = 2, .window = 60s, .max_addresses = 64});
  const Clock::time_point t0 = Clock::now();
  limiter.RecordFailure("victim", t0);
  limiter.RecordFailure("victim", t0);
  for (int i = 0; i < 10'000; ++i) {
    limiter.RecordFailure("203.0.113." + std::to_string(i), t0 + 1s);
    BOOST_REQUIRE(limiter.tracked() <= 64u);
  }
  // Expired windows go first; the oldest open one after them.
  limiter.RecordFailure("late", t0 + 120s);
  BOOST_TEST(limiter.tracked() == 1u);
}

BOOST_AUTO_TEST_CASE(failures_count_per_client_address_ipv6_per_64) {
  http::Request request;
  const std::vector<Cidr> none;
  const std::vector<Cidr> proxies = {*Cidr::Parse("10.0.0.0/8"), *Cidr::Parse("::1")};
  request.remote_address = "203.0.113.7";
  BOOST_TEST(ClientAddress(request, none) == "203.0.113.7");
  request.remote_address = "2001:db8:1:2:aaaa:bbbb:cccc:dddd";
  BOOST_TEST(ClientAddress(request, none) == "2001:db8:1:2::/64");
  request.remote_address = "2001:db8:1:2::9";  // the same /64
  BOOST_TEST(ClientAddress(request, none) == "2001:db8:1:2::/64");
  // Headers of an untrusted peer move nothing.
  request.remote_address = "198.51.100.1";
  request.headers = {{"X-Real-IP", "192.0.2.9"}, {"X-Forwarded-For", "192.0.2.8"}};
  BOOST_TEST(ClientAddress(request, none) == "198.51.100.1");
  BOOST_TEST(ClientAddress(request, proxies) == "198.51.100.1");
  // A trusted proxy's X-Real-IP names the client; else the last of X-Forwarded-For.
  request.remote_address = "10.1.2.3";
  BOOST_TEST(ClientAddress(request, proxies) == "192.0.2.9");
  request.headers = {{"X-Forwarded-For", "192.0.2.1, 2001:db8:5:6::7"}};
  BOOST_TEST(ClientAddress(request, proxies) == "2001:db8:5:6::/64");
  // A proxy that appends a line of its own: the client's line before it moves nothing.
  request.headers = {{"X-Forwarded-For", "192.0.2.66"}, {"x-forwarded-for", "192.0.2.5"}};
  BOOST_TEST(ClientAddress(request, proxies) == "192.0.2.5");
  request.headers = {{"X-Real-IP", "not an address"}};
  BOOST_TEST(ClientAddress(request, proxies) == "10.1.2.3");
  request.remote_address = "::1";
  request.headers = {};
  BOOST_TEST(ClientAddress(request, proxies) == "::/64");
}

BOOST_AUTO_TEST_CASE(bearer_tokens) {
  http::Request request;
  BOOST_TEST(!request.BearerToken());
  request.headers = {{"Authorization", "Bearer abc"}};
  BOOST_TEST(*request.BearerToken() == "abc");
  request.headers = {{"authorization", "bearer   abc  "}};
  BOOST_TEST(*request.BearerToken() == "abc");
  request.headers = {{"Authorization", "Basic abc"}};
  BOOST_TEST(!request.BearerToken());
  request.headers = {{"Authorization", "Bearer"}};
  BOOST_TEST(!request.BearerToken());
}

BOOST_AUTO_TEST_CASE(json_bodies_are_checked_field_by_field) {
  BOOST_TEST(JsonBody::Parse("").has_value());
  BOOST_TEST(JsonBody::Parse("  \n").has_value());
  BOOST_TEST(HttpName(JsonBody::Parse("{").error().code()) == "INVALID_JSON");
  BOOST_TEST(HttpName(JsonBody::Parse("[1]").error().code()) == "INVALID_JSON");
  BOOST_TEST(
      HttpName(JsonBody::Parse(std::string(40, '[') + std::string(40, ']')).error().code()) ==
      "INVALID_JSON");  // deeper than 16
  Result<JsonBody> body =
      JsonBody::Parse(R"({"s":"x","n":5,"b":true,"a":["p","q"],"m":{"k":"v"},"z":null})");
  BOOST_REQUIRE(body);
  const JsonBody& j = body.value();
  BOOST_TEST(j.AllowOnly({"s", "n", "b", "a", "m", "z"}).ok());
  BOOST_TEST(HttpName(j.AllowOnly({"s"}).code()) == "INVALID_FIELD");
  BOOST_TEST(*j.String("s", 1).value() == "x");
  BOOST_TEST(HttpName(j.String("s", 0).error().code()) == "INVALID_FIELD");
  BOOST_TEST(!j.String("z", 10).value().has_value());  // null is absent
  BOOST_TEST(!j.String("missing", 10).value().has_value());
  BOOST_TEST(HttpName(j.String("n", 10).error().code()) == "INVALID_FIELD");
  BOOST_TEST(*j.Uint("n", 5).value() == 5u);
  BOOST_TEST(HttpName(j.Uint("n", 4).error().code()) == "INVALID_FIELD");
  BOOST_TEST(*j.Bool("b").value());
  BOOST_TEST(j.Strings("a", 2, 1).value()->size() == 2u);
  BOOST_TEST(HttpName(j.Strings("a", 1, 1).error().code()) == "INVALID_FIELD");
  BOOST_TEST(j.StringMap("m", 1, 1).value()->at(0).second == "v");
  BOOST_TEST(HttpName(j.StringMap("a", 1, 1).error().code()) == "INVALID_FIELD");
}
