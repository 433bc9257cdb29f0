// examples/caddy/Caddyfile for real: Debian's caddy (/usr/bin/caddy, from scripts/deps) with
// forward_auth in front of its demo upstream, asking a real `keymeter serve` (exact quotas via
// X-Reserve and Caddy's request id). Through Caddy: a valid key passes with keymeter's
// RateLimit fields, a client's own X-Keymeter-Key-Id never reaches the upstream, a bad key gets
// 401, the request after the daily quota gets keymeter's 429 with Retry-After as is; a key with
// allowed domains sees the browser's Origin; then examples/caddy/ship-events.sh turns the access
// log (which holds no key) into request events that show up in GET /v1/usage, once.
#define BOOST_TEST_MODULE caddy_gateway
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/api/gateway_fixture.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr const char* kCaddy = "/usr/bin/caddy";

// Runs examples/caddy/ship-events.sh against the log; its stdout.
std::string Ship(TempDir& dir, uint16_t km_port, const std::string& log, const std::string& token) {
  auto ship = Spawn("/bin/bash", {KEYMETER_SOURCE_DIR "/examples/caddy/ship-events.sh"},
                    dir.sub("ship.err"),
                    {"KM=http://127.0.0.1:" + std::to_string(km_port), "CADDY_LOG=" + log,
                     "KM_GATEWAY_TOKEN=" + token});
  BOOST_TEST(ship->Wait(30s) == 0, ship->Stderr());
  return ship->ReadAll();
}

}  // namespace

BOOST_AUTO_TEST_CASE(caddy_forward_auth_in_front_of_an_upstream) {
  BOOST_REQUIRE_MESSAGE(::access(kCaddy, X_OK) == 0,
                        kCaddy << " is missing: run scripts/deps (it installs caddy)");
  TempDir dir;
  const GatewayKeys keys = SeedGatewayKeys(dir.sub("db"), "Cdy");
  const Serve server = StartServe(dir.sub("db"), dir.sub("err"));
  const uint16_t km_port = server.port;

  std::string config = ReadFile(KEYMETER_SOURCE_DIR "/examples/caddy/Caddyfile");
  BOOST_REQUIRE(config.find("forward_auth KEYMETER_UPSTREAM") != std::string::npos);
  const uint16_t port = FreePort();
  const std::string log = dir.sub("caddy/access.log");
  std::filesystem::create_directories(dir.sub("caddy"));
  ReplaceAll(config, "KEYMETER_UPSTREAM", "127.0.0.1:" + std::to_string(km_port));
  ReplaceAll(config, "UPSTREAM_PORT", std::to_string(FreePort()));
  ReplaceAll(config, "LISTEN_PORT", std::to_string(port));
  ReplaceAll(config, "LOG_FILE", log);
  std::ofstream(dir.sub("caddy/Caddyfile")) << config;
  GatewayProcess caddy;  // in the foreground, stopped with SIGTERM (graceful)
  caddy.process = Spawn(kCaddy,
                        {"run", "--config", dir.sub("caddy/Caddyfile"), "--adapter", "caddyfile"},
                        dir.sub("caddy-stderr"),
                        {"XDG_DATA_HOME=" + dir.sub("caddy"), "XDG_CONFIG_HOME=" + dir.sub("caddy")});
  std::optional<HttpResponse> first;
  for (auto deadline = Clock::now() + 15s; !first && Clock::now() < deadline;) {
    first = Send(port, "GET", "/search/q");
    if (!first) std::this_thread::sleep_for(50ms);
  }
  BOOST_REQUIRE_MESSAGE(first, "caddy did not answer: " << ReadFile(dir.sub("caddy-stderr")));

  // No key, a bad key: keymeter's 401 with its reason, passed as is.
  BOOST_TEST(first->result_int() == 401u);
  BOOST_TEST(Header(*first, "X-Keymeter-Reason") == "MALFORMED_KEY");
  auto bad = Send(port, "GET", "/search/q", {{"X-Api-Key", "CdyChld1" + std::string(16, 'x')}});
  BOOST_REQUIRE(bad);
  BOOST_TEST(bad->result_int() == 401u);
  BOOST_TEST(Header(*bad, "X-Keymeter-Reason") == "NOT_FOUND");
  BOOST_TEST(bad->body().find("hello") == std::string::npos);

  // The family's quota of 3, held exactly by reservations: X-Api-Key and Bearer pass. A client's
  // X-Units never reaches keymeter, nor its X-Keymeter-Key-Id the upstream (which says which key
  // keymeter let in).
  const std::vector<std::pair<Headers, std::string>> allowed = {
      {{{"X-Api-Key", keys.child}, {"X-Units", "1000"}, {"X-Keymeter-Key-Id", "EvilKey1"}},
       "CdyChld1"},
      {{{"Authorization", "Bearer " + keys.root}}, "CdyRoot1"},
      {{{"X-Api-Key", keys.child}}, "CdyChld1"}};
  for (size_t i = 0; i < allowed.size(); ++i) {
    BOOST_TEST_CONTEXT("allowed request " << i) {
      auto r = Send(port, "GET", "/search/q?i=" + std::to_string(i), allowed[i].first);
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == 200u);
      BOOST_TEST(r->body() == "hello " + allowed[i].second + "\n");
      BOOST_TEST(Header(*r, "X-Keymeter-Reason") == "OK");
      BOOST_TEST(Header(*r, "RateLimit-Limit") == "3");
      BOOST_TEST(Header(*r, "RateLimit-Remaining") == std::to_string(2 - i));
      BOOST_TEST(Header(*r, "RateLimit-Policy") == "3;w=86400");
    }
  }
  // The 4th: keymeter's 429 reaches the client as it is, Retry-After and all.
  auto over = Send(port, "GET", "/search/q", {{"X-Api-Key", keys.child}});
  BOOST_REQUIRE(over);
  BOOST_TEST(over->result_int() == 429u);
  BOOST_TEST(Header(*over, "X-Keymeter-Reason") == "DAILY_QUOTA_EXCEEDED");
  BOOST_TEST(Header(*over, "RateLimit-Remaining") == "0");
  const std::string retry = Header(*over, "Retry-After");
  BOOST_REQUIRE(!retry.empty());
  BOOST_TEST((std::stoll(retry) >= 1 && std::stoll(retry) <= 86400));
  BOOST_TEST(over->body().find("hello") == std::string::npos);

  // Allowed domains: the browser's Origin or Referer reaches keymeter through Caddy; a client's
  // own X-Origin does not (the Caddyfile drops it).
  CheckAllowedDomainsThrough(port, keys.site);

  // The access log holds every request, and no key.
  std::string text;
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    text = ReadFile(log);
    if (Lines(text).size() >= 11) break;
    std::this_thread::sleep_for(50ms);
  }
  BOOST_REQUIRE_EQUAL(Lines(text).size(), 11u);
  for (const std::string& secret : {keys.root, keys.child, keys.site}) {
    BOOST_TEST(text.find(secret) == std::string::npos);
  }
  // Shipped: the five allowed requests (three to the family, two from the allowed site) as
  // events; a second run ships nothing more.
  const std::string shipped = Ship(dir, km_port, log, keys.gateway);
  BOOST_TEST(shipped.find(R"({"accepted":5,"rejected":[]})") != std::string::npos, shipped);
  BOOST_TEST(Ship(dir, km_port, log, keys.gateway).empty());
  bool counted = false;
  std::string usage;
  for (auto deadline = Clock::now() + 10s; !counted && Clock::now() < deadline;) {
    auto r = Send(km_port, "GET", "/v1/usage?key=CdyRoot1&granularity=day",
                  {{"Authorization", "Bearer t"}});
    if (r) usage = std::to_string(r->result_int()) + " " + r->body();
    counted = r && r->result_int() == 200u && r->body().find(R"("requests":3)") != std::string::npos;
    if (!counted) std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST(counted, "usage after shipping: " << usage);
  // Still exhausted: the events took the place of their reservations.
  auto still = Send(port, "GET", "/search/q", {{"X-Api-Key", keys.root}});
  BOOST_REQUIRE(still);
  BOOST_TEST(still->result_int() == 429u);

  BOOST_REQUIRE(::kill(server.process->pid, SIGTERM) == 0);
  BOOST_TEST(server.process->Wait(15s) == 0);
}
