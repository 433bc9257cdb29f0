// examples/nginx/keymeter.conf for real: nginx (/usr/sbin/nginx, from scripts/deps) with
// auth_request in front of its demo upstream, asking a real `keymeter serve` (exact quotas via
// X-Reserve and nginx's $request_id). Through nginx: a valid key passes, a bad key gets 401,
// the request after the daily quota gets 429 with keymeter's reason; then the access log
// (NDJSON request events) is shipped to POST /v1/events and shows up in GET /v1/usage.
#define BOOST_TEST_MODULE nginx_gateway
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>

#include "tests/api/gateway_fixture.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";

// nginx in the foreground (the config says `daemon off;`); its master is stopped with SIGQUIT
// (graceful: it takes its workers down).
std::unique_ptr<GatewayProcess> StartNginx(const std::string& prefix, const std::string& err_path) {
  auto nginx = std::make_unique<GatewayProcess>();
  nginx->stop_signal = SIGQUIT;
  nginx->process =
      Spawn(kNginx,
            {"-p", prefix + "/", "-c", prefix + "/keymeter.conf", "-e", prefix + "/logs/error.log"},
            err_path);
  return nginx;
}

}  // namespace

BOOST_AUTO_TEST_CASE(nginx_auth_request_in_front_of_an_upstream) {
  BOOST_REQUIRE_MESSAGE(::access(kNginx, X_OK) == 0,
                        kNginx << " is missing: run scripts/deps (it installs nginx-light)");
  TempDir dir;
  const GatewayKeys keys = SeedGatewayKeys(dir.sub("db"), "Ngx");
  const Serve server = StartServe(dir.sub("db"), dir.sub("err"));
  const uint16_t km_port = server.port;

  // The example config with its placeholders filled in, under a prefix of our own.
  const std::string prefix = dir.sub("nginx");
  std::filesystem::create_directories(prefix + "/logs");
  std::filesystem::create_directories(prefix + "/tmp");
  std::string config = ReadFile(KEYMETER_SOURCE_DIR "/examples/nginx/keymeter.conf");
  BOOST_REQUIRE(config.find("auth_request /_keymeter;") != std::string::npos);
  const uint16_t port = FreePort();
  const uint16_t upstream_port = FreePort();
  ReplaceAll(config, "KEYMETER_UPSTREAM", "127.0.0.1:" + std::to_string(km_port));
  ReplaceAll(config, "UPSTREAM_PORT", std::to_string(upstream_port));
  ReplaceAll(config, "LISTEN_PORT", std::to_string(port));
  std::ofstream(prefix + "/keymeter.conf") << config;
  auto nginx = StartNginx(prefix, dir.sub("nginx-stderr"));
  auto nginx_log = [&] {
    return ReadFile(dir.sub("nginx-stderr")) + ReadFile(prefix + "/logs/error.log");
  };
  std::optional<HttpResponse> first;
  for (auto deadline = Clock::now() + 10s; !first && Clock::now() < deadline;) {
    first = Send(port, "GET", "/search/q");
    if (!first) std::this_thread::sleep_for(50ms);
  }
  BOOST_REQUIRE_MESSAGE(first, "nginx did not answer: " << nginx_log());

  // No key, a bad key: 401 with keymeter's reason.
  BOOST_TEST(first->result_int() == 401u);
  BOOST_TEST(Header(*first, "X-Keymeter-Reason") == "MALFORMED_KEY");
  auto bad = Send(port, "GET", "/search/q", {{"X-Api-Key", "NgxChld1" + std::string(16, 'x')}});
  BOOST_REQUIRE(bad);
  BOOST_TEST(bad->result_int() == 401u);
  BOOST_TEST(Header(*bad, "X-Keymeter-Reason") == "NOT_FOUND");
  BOOST_TEST(bad->body().find("hello") == std::string::npos);

  // The quota of 3 for the family, held exactly by reservations: X-Api-Key and Bearer pass.
  // A client's X-Units never reaches keymeter (1,000 units would pass no quota of 100).
  const std::vector<Headers> allowed = {{{"X-Api-Key", keys.child}, {"X-Units", "1000"}},
                                        {{"Authorization", "Bearer " + keys.root}},
                                        {{"X-Api-Key", keys.child}}};
  for (size_t i = 0; i < allowed.size(); ++i) {
    BOOST_TEST_CONTEXT("allowed request " << i) {
      auto r = Send(port, "GET", "/search/q?i=" + std::to_string(i), allowed[i]);
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == 200u);
      BOOST_TEST(r->body() == "hello\n");
      BOOST_TEST(Header(*r, "X-Keymeter-Reason") == "OK");
      BOOST_TEST(Header(*r, "RateLimit-Remaining") == std::to_string(2 - i));
      BOOST_TEST(Header(*r, "RateLimit-Limit") == "3");
      BOOST_TEST(Header(*r, "RateLimit-Policy") == "3;w=86400");
    }
  }
  // The 4th: keymeter answers 429, which auth_request turns into 500; the config's error page
  // gives the client 429 back.
  auto over = Send(port, "GET", "/search/q", {{"X-Api-Key", keys.child}});
  BOOST_REQUIRE(over);
  BOOST_TEST(over->result_int() == 429u, nginx_log());
  BOOST_TEST(Header(*over, "X-Keymeter-Reason") == "DAILY_QUOTA_EXCEEDED");
  BOOST_TEST(Header(*over, "RateLimit-Remaining") == "0");
  // Retry-After: the seconds to the next UTC midnight, when the daily quota resets.
  const std::string retry = Header(*over, "Retry-After");
  BOOST_REQUIRE(!retry.empty());
  BOOST_TEST((std::stoll(retry) >= 1 && std::stoll(retry) <= 86400));
  BOOST_TEST(retry == Header(*over, "RateLimit-Reset"));
  BOOST_TEST(over->body().find("hello") == std::string::npos);
  BOOST_TEST(over->body().find("DAILY_QUOTA_EXCEEDED") != std::string::npos);

  // The access log: one request event per allowed request, as POST /v1/events takes them.
  std::vector<std::string> events;
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    events = Lines(ReadFile(prefix + "/logs/events.ndjson"));
    if (events.size() >= 3) break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_REQUIRE_EQUAL(events.size(), 3u);
  for (const std::string& event : events) {
    BOOST_TEST_CONTEXT(event) {
      BOOST_TEST(event.find(R"("product":"search")") != std::string::npos);
      BOOST_TEST(event.find(R"("status":200)") != std::string::npos);
      BOOST_TEST(event.find(R"("ip":"127.0.0.1")") != std::string::npos);
    }
  }
  BOOST_TEST(events[0].find(R"("key_id":"NgxChld1")") != std::string::npos);
  BOOST_TEST(events[1].find(R"("key_id":"NgxRoot1")") != std::string::npos);
  // examples/nginx/ship-events.sh rotates the log and posts it with the gateway's token.
  auto ship = Spawn("/bin/bash", {KEYMETER_SOURCE_DIR "/examples/nginx/ship-events.sh"},
                    dir.sub("ship.err"),
                    {"KM=http://127.0.0.1:" + std::to_string(km_port), "NGINX_PREFIX=" + prefix,
                     "KM_GATEWAY_TOKEN=" + keys.gateway});
  BOOST_TEST(ship->Wait(30s) == 0, ship->Stderr());
  const std::string shipped = ship->ReadAll();
  BOOST_TEST(shipped.find(R"({"accepted":3,"rejected":[]})") != std::string::npos, shipped);

  // The shipped events are usage now (the account's admin token is "t", authorizer_fixture.h).
  bool counted = false;
  std::string usage;
  for (auto deadline = Clock::now() + 10s; !counted && Clock::now() < deadline;) {
    auto r = Send(km_port, "GET", "/v1/usage?key=NgxRoot1&granularity=day",
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

  // Allowed domains: the browser's Origin or Referer reaches keymeter through nginx; a client's
  // own X-Origin does not (the config clears it).
  CheckAllowedDomainsThrough(port, keys.site);

  nginx.reset();
  BOOST_REQUIRE(::kill(server.process->pid, SIGTERM) == 0);
  BOOST_TEST(server.process->Wait(15s) == 0);
}
