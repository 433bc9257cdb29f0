// The gateway side of a real `keymeter serve` (KEYMETER_BINARY), as gateway_api_test and the
// nginx and Caddy gateway tests drive it: a data dir seeded in process before serve starts on it,
// and raw requests with headers of their choosing whose answers keep every header (and are
// checked against docs/openapi.yaml in gateway_api_test: tests/api/openapi_recorder.h).
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/pipeline.h"
#include "tests/api/openapi_recorder.h"
#include "tests/common/process_fixture.h"
#include "tests/engine/authorizer_fixture.h"

namespace keymeter::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection; nullopt when no parsable response comes within 5 s. With
// `declared_length`, Content-Length says that instead of the body's size.
inline std::optional<HttpResponse> Send(uint16_t port, const std::string& method,
                                        const std::string& target, const Headers& headers = {},
                                        const std::string& body = "",
                                        std::optional<size_t> declared_length = std::nullopt) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "Content-Length: " + std::to_string(declared_length.value_or(body.size())) +
             "\r\n\r\n" + body;
  std::optional<HttpResponse> response = Exchange(port, request, 5s);
  if (response) RecordExchange(method, target, body, *response);
  return response;
}

inline std::string Header(const HttpResponse& r, const std::string& name) {
  return std::string(r[name]);
}

// Opens a pipeline on `data_dir`, lets `seed` publish through it (accounts and keys as the admin
// API would), then stops it: the data dir is ready for `keymeter serve`.
inline void SeedDataDir(const std::string& data_dir, const std::function<void(Seeder&)>& seed) {
  std::unique_ptr<Pipeline> pipeline = OpenPipeline(data_dir);
  pipeline->Start();
  Seeder seeder(*pipeline);
  seed(seeder);
  pipeline->Stop();
}

// A `keymeter serve` started by StartServe, and the port it listens on.
struct Serve {
  std::unique_ptr<Process> process;
  uint16_t port = 0;
};

// `keymeter serve` on `data_dir` (any free port, 2 HTTP threads), its stderr in `err_path`;
// healthy when returned.
inline Serve StartServe(const std::string& data_dir, const std::string& err_path) {
  Serve serve;
  serve.process =
      Spawn({"serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--http-threads", "2"},
            err_path);
  const std::string line = serve.process->ReadLine(30s);
  BOOST_REQUIRE_MESSAGE(!line.empty(), "serve did not start: " << serve.process->Stderr());
  serve.port = PortOf(line);
  BOOST_REQUIRE(WaitHealthy(serve.port));
  return serve;
}

// Every `from` in `text` replaced by `to` (an example config's placeholders).
inline void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The non-empty lines of `text`.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

struct GatewayKeys {
  std::string root, child;
  std::string site;     // a root key of its own (no quota) that works only from app.acme.test
  std::string gateway;  // the token of the gateway credential
};

// Seeds `data_dir` through an in-process pipeline, then closes it: account "acct<p>" with a
// root key "<p>Root1" with a daily quota of 3 (and 100 units a month), its child "<p>Chld1",
// a gateway "gw<p>", and a root "<p>Site1" allowed from app.acme.test only (`p`: 3 characters).
inline GatewayKeys SeedGatewayKeys(const std::string& data_dir, const std::string& p) {
  GatewayKeys keys;
  const std::string account = "acct" + p;
  SeedDataDir(data_dir, [&](Seeder& seed) {
    seed.Account(account);
    keys.root = seed.Key(account, p + "Root1");
    keys.child = seed.Key(account, p + "Chld1", p + "Root1");
    seed.Quota(account, p + "Root1", 3, 100);  // 100 units a month
    keys.gateway = seed.Gateway("gw" + p);
    keys.site = seed.Key(account, p + "Site1");
    seed.Sources(account, p + "Site1", {}, {"app.acme.test"});
  });
  return keys;
}

// A gateway (nginx, caddy) running in the foreground, stopped gracefully with `stop_signal`
// when the object dies (forced after `grace`).
struct GatewayProcess {
  std::unique_ptr<Process> process;
  int stop_signal = SIGTERM;
  std::chrono::seconds grace{10};

  GatewayProcess() = default;
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;
  ~GatewayProcess() {
    if (!process || process->pid <= 0) return;
    ::kill(process->pid, stop_signal);
    if (process->Wait(grace) == -1 && process->pid > 0) {
      ::kill(process->pid, SIGKILL);
      ::waitpid(process->pid, nullptr, 0);
      process->pid = -1;
    }
  }
};

// Allowed domains through the gateway on `port`: the browser's Origin or Referer reaches
// keymeter, a client's own X-Origin does not (the gateway's config drops it). `site_key` works
// only from app.acme.test (SeedGatewayKeys).
inline void CheckAllowedDomainsThrough(uint16_t port, const std::string& site_key) {
  const std::vector<std::pair<Headers, unsigned>> sites = {
      {{{"Origin", "https://app.acme.test"}}, 200u},
      {{{"Referer", "https://app.acme.test/page"}}, 200u},
      {{}, 403u},
      {{{"X-Origin", "https://app.acme.test"}}, 403u},
      {{{"Origin", "https://evil.test"}}, 403u}};
  for (const auto& [headers, status] : sites) {
    Headers h = headers;
    h.emplace_back("X-Api-Key", site_key);
    auto r = Send(port, "GET", "/search/site", h);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == status);
    if (status == 403u) BOOST_TEST(Header(*r, "X-Keymeter-Reason") == "FORBIDDEN_ORIGIN");
  }
}

}  // namespace keymeter::testing
