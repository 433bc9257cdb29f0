// A real `keymeter serve` process on 127.0.0.1 (any free port, a fresh data dir) with an operator
// token, and helpers that make accounts, keys and request events through its API. Used by
// admin_api_test, admin_reads_test, member_api_test, n1ed_test, quota_api_test and metrics_test.
//
// The log: the embedded one, or, when KEYMETER_TEST_LOG=kafka (the `<test>_kafka` registrations
// of tests/api/CMakeLists.txt), a real broker at KEYMETER_BROKERS: `serve --brokers` on a
// topic and group of its own per data dir (created fresh, so a restart on the same data dir
// follows the same topic), so the same test code runs in both modes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/api/api_client.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"

namespace keymeter::testing {

inline constexpr char kOperatorToken[] = "test-operator-token";

// True in the `<test>_kafka` runs (KEYMETER_TEST_LOG=kafka).
inline bool KafkaMode() {
  const char* log = std::getenv("KEYMETER_TEST_LOG");
  return log != nullptr && std::string_view(log) == "kafka";
}

// The `serve` flags of the log: none (embedded), or --brokers/--topic/--group of a topic of
// `data_dir`'s own, created with 4 partitions on first use.
inline std::vector<std::string> LogFlags(const std::string& data_dir) {
  if (!KafkaMode()) return {};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016zx", std::hash<std::string>{}(data_dir));
  static const std::string run = RandomHex();  // one per test process
  const std::string topic = "keymeter.test.api." + run + "." + suffix;
  static std::vector<std::string> created;
  if (std::find(created.begin(), created.end(), topic) == created.end()) {
    const Status made = CreateTopic(topic, 4);
    BOOST_REQUIRE_MESSAGE(made.ok(), "creating " << topic << " at " << Brokers() << ": "
                                                 << made.ToString());
    created.push_back(topic);
  }
  return {"--brokers", Brokers(), "--topic", topic, "--group", topic};
}

// `keymeter serve` with KEYMETER_OPERATOR_TOKEN set, ready (caught up) when constructed.
class ApiServer {
 public:
  // `env`: extra KEYMETER_* settings. `data_dir`: reuse a directory (restart); default a fresh
  // one inside the server's temp dir.
  explicit ApiServer(std::vector<std::string> env = {}, std::string data_dir = {})
      : data_dir_(data_dir.empty() ? dir_.sub("db") : std::move(data_dir)) {
    env.push_back(std::string("KEYMETER_OPERATOR_TOKEN=") + kOperatorToken);
    std::vector<std::string> args = {"serve",  "--data-dir",     data_dir_, "--listen",
                                     "127.0.0.1:0", "--http-threads", "2"};
    const std::vector<std::string> log = LogFlags(data_dir_);
    if (!log.empty()) topic_ = log[3];
    args.insert(args.end(), log.begin(), log.end());
    process_ = Spawn(KEYMETER_BINARY, args, dir_.sub("err"), env);
    const std::string line = process_->ReadLine(30s);
    const std::string prefix = "keymeter listening on http://127.0.0.1:";
    BOOST_REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0,
                          "unexpected first line: " << line << process_->Stderr());
    port_ = uint16_t(std::stoi(line.substr(prefix.size())));
    for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
      if (HttpCall(port_, "GET", "/readyz").status == 200) return;
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("keymeter did not get ready: " << process_->Stderr());
  }
  ~ApiServer() { Stop(); }

  // SIGTERM and wait: 0 expected.
  int Stop() {
    if (!process_ || process_->pid <= 0) return 0;
    ::kill(process_->pid, SIGTERM);
    return process_->Wait(20s);
  }

  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  // The topic this server follows; empty on the embedded log.
  const std::string& topic() const { return topic_; }
  std::string Stderr() const { return process_->Stderr(); }
  // What the server printed on stdout after its "listening" line, up to EOF: call after Stop().
  std::string Stdout() { return process_->ReadAll(); }
  const TempDir& dir() const { return dir_; }

  Reply Call(std::string_view method, std::string_view target, std::string_view body = {},
             std::string_view bearer = {}) const {
    return HttpCall(port_, method, target, body, bearer);
  }

  // A new account: {account_id, admin_token}.
  std::pair<std::string, std::string> CreateAccount(const std::string& name) const {
    Reply r = Call("POST", "/v1/accounts", R"({"name":")" + name + R"("})", kOperatorToken);
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
    Json j = r.json();
    return {j.Str("/account_id"), j.Str("/admin_token")};
  }

  // Issues a key; returns the full plain key.
  std::string IssueKey(const std::string& token, const std::string& label,
                       const std::string& parent = "", const std::string& status = "") const {
    std::string body = R"({"label":")" + label + "\"";
    if (!parent.empty()) body += R"(,"parent":")" + parent + "\"";
    if (!status.empty()) body += R"(,"status":")" + status + "\"";
    body += "}";
    Reply r = Call("POST", "/v1/keys", body, token);
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
    const std::string key = r.json().Str("/key");
    BOOST_REQUIRE_EQUAL(key.size(), 24u);
    return key;
  }

  // A new gateway credential (POST /v1/gateways): {gateway_id, token}.
  std::pair<std::string, std::string> CreateGateway(const std::string& name) const {
    Reply r = Call("POST", "/v1/gateways", R"({"name":")" + name + R"("})", kOperatorToken);
    BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
    Json j = r.json();
    return {j.Str("/gateway_id"), j.Str("/token")};
  }

  // The token of this server's test gateway, created on first use.
  const std::string& GatewayToken() const {
    if (gateway_token_.empty()) gateway_token_ = CreateGateway("test-gateway").second;
    return gateway_token_;
  }

  // Posts NDJSON request events (POST /v1/events) as the test gateway; all must be accepted.
  void PostEvents(const std::string& ndjson) const {
    Reply r =
        HttpCall(port_, "POST", "/v1/events", ndjson, GatewayToken(), "application/x-ndjson");
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
    BOOST_REQUIRE_MESSAGE(r.json().Size("/rejected") == 0, r.body);
  }

  // Waits until `key_id`'s request log, as the account admin `token` sees it, holds `expect`
  // requests.
  void WaitForRequests(const std::string& token, const std::string& key_id, size_t expect) const {
    for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
      Reply log = Call("GET", "/v1/requests?limit=1000&key=" + key_id, {}, token);
      if (log.status == 200 && log.json().Size("/requests") >= expect) return;
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("request events were not applied");
  }

 private:
  TempDir dir_;
  std::string data_dir_;
  std::string topic_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
  mutable std::string gateway_token_;
};

// An NDJSON request event of `key_id`, `seconds_ago` before now.
inline std::string EventLine(const std::string& key_id, int index, int seconds_ago,
                             const std::string& product, int status, int units = 1) {
  const auto t = std::chrono::system_clock::now() - std::chrono::seconds(seconds_ago);
  const int64_t us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  char id[33];
  std::snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)us, (unsigned long long)index);
  return R"({"request_id":")" + std::string(id) + R"(","key_id":")" + key_id + R"(","time_us":)" +
         std::to_string(us) + R"(,"product":")" + product + R"(","units":)" +
         std::to_string(units) + R"(,"status":)" + std::to_string(status) +
         R"(,"ip":"203.0.113.7","gateway":"test"})" + "\n";
}

}  // namespace keymeter::testing
