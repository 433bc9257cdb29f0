// A real `keymeter serve` process (three, in cluster mode) on 127.0.0.1 (any free port, a fresh
// data dir) with an operator token, and helpers that make accounts, keys and request events through its API. Used by
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
#include <thread>
#include <utility>
#include <vector>

#include "tests/api/api_client.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"

namespace keymeter::testing {

inline constexpr char kOperatorToken[] = "test-operator-token";

// True in the `<test>_cluster` runs (KEYMETER_TEST_LOG=cluster): three members of one group on
// the topic, the requests sent to them round robin (docs/scale.md).
inline bool ClusterMode() {
  const char* log = std::getenv("KEYMETER_TEST_LOG");
  return log != nullptr && std::string_view(log) == "cluster";
}

// True in the `<test>_kafka` and `<test>_cluster` runs (KEYMETER_TEST_LOG=kafka or cluster).
inline bool KafkaMode() {
  const char* log = std::getenv("KEYMETER_TEST_LOG");
  return ClusterMode() || (log != nullptr && std::string_view(log) == "kafka");
}

// The `serve` flags of the log: none (embedded), or --brokers/--topic/--group of a topic of
// `data_dir`'s own, created with 4 partitions on first use, and its dead-letter topic.
inline std::vector<std::string> LogFlags(const std::string& data_dir) {
  if (!KafkaMode()) return {};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016zx", std::hash<std::string>{}(data_dir));
  static const std::string run = RandomHex();  // one per test process
  const std::string topic = "keymeter.test.api." + run + "." + suffix;
  static std::vector<std::string> created;
  if (std::find(created.begin(), created.end(), topic) == created.end()) {
    for (const auto& [name, partitions] : {std::pair{topic, 4}, {topic + ".dlq", 1}}) {
      const Status made = CreateTopic(name, partitions);
      BOOST_REQUIRE_MESSAGE(made.ok(), "creating " << name << " at " << Brokers() << ": "
                                                   << made.ToString());
    }
    created.push_back(topic);
  }
  return {"--brokers", Brokers(), "--topic", topic, "--group", topic, "--dlq-topic", topic + ".dlq"};
}

// The API tests post events dated up to a couple of minutes back and read "today's" usage,
// quotas and alerts: a test that straddles midnight UTC would see the day split. One started
// within 3 minutes before or 90 s after midnight waits until 00:01:30 UTC (ApiServer does).
inline void WaitOutUtcMidnight() {
  using namespace std::chrono;
  const int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const int64_t since = ms % 86'400'000;
  if (since <= 86'400'000 - 180'000 && since >= 90'000) return;
  const int64_t wait = (90'000 - since + 86'400'000) % 86'400'000;
  BOOST_TEST_MESSAGE("waiting " << wait / 1000 << " s for midnight UTC to pass");
  std::this_thread::sleep_for(milliseconds(wait));
}

// `keymeter serve` with KEYMETER_OPERATOR_TOKEN set, ready (caught up) when constructed.
class ApiServer {
 public:
  // `env`: extra KEYMETER_* settings. `data_dir`: reuse a directory (restart); default a fresh
  // one inside the server's temp dir.
  explicit ApiServer(std::vector<std::string> env = {}, std::string data_dir = {})
      : data_dir_(data_dir.empty() ? dir_.sub("db") : std::move(data_dir)) {
    WaitOutUtcMidnight();
    env.push_back(std::string("KEYMETER_OPERATOR_TOKEN=") + kOperatorToken);
    std::vector<std::string> args = {"serve",  "--data-dir",     data_dir_, "--listen",
                                     "127.0.0.1:0", "--http-threads", "2"};
    const std::vector<std::string> log = LogFlags(data_dir_);
    if (!log.empty()) topic_ = log[3];
    args.insert(args.end(), log.begin(), log.end());
    const int members = ClusterMode() ? 3 : 1;
    for (int i = 0; i < members; ++i) {
      std::vector<std::string> member_args = args;
      if (i > 0) member_args[2] = data_dir_ + "-m" + std::to_string(i);
      processes_.push_back(
          Spawn(KEYMETER_BINARY, member_args, dir_.sub("err" + std::to_string(i)), env));
      const std::string line = processes_.back()->ReadLine(30s);
      const std::string prefix = "keymeter listening on http://127.0.0.1:";
      BOOST_REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0,
                            "unexpected first line: " << line << processes_.back()->Stderr());
      ports_.push_back(uint16_t(std::stoi(line.substr(prefix.size()))));
    }
    port_ = ports_.front();
    for (uint16_t port : ports_) {
      bool ready = false;
      for (const auto deadline = Clock::now() + 20s; !ready && Clock::now() < deadline;) {
        ready = HttpCall(port, "GET", "/readyz").status == 200;
        if (!ready) std::this_thread::sleep_for(20ms);
      }
      BOOST_REQUIRE_MESSAGE(ready, "keymeter did not get ready: " << Stderr());
    }
    if (ClusterMode()) WaitForCluster(members);
  }
  ~ApiServer() { Stop(); }

  // SIGTERM and wait: 0 expected (of every member).
  int Stop() {
    int status = 0;
    for (auto& process : processes_) {
      if (process->pid > 0) ::kill(process->pid, SIGTERM);
    }
    for (auto& process : processes_) {
      if (process->pid <= 0) continue;
      const int exit_code = process->Wait(20s);
      if (status == 0) status = exit_code;
    }
    return status;
  }

  // The first member's port (the only one but in cluster mode).
  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  // The topic this server follows; empty on the embedded log.
  const std::string& topic() const { return topic_; }
  std::string Stderr() const {
    std::string all;
    for (const auto& process : processes_) all += process->Stderr();
    return all;
  }
  // What the server printed on stdout after its "listening" line, up to EOF: call after Stop().
  std::string Stdout() {
    std::string all;
    for (auto& process : processes_) all += process->ReadAll();
    return all;
  }
  const TempDir& dir() const { return dir_; }

  // One request; in cluster mode to the next member, round robin.
  Reply Call(std::string_view method, std::string_view target, std::string_view body = {},
             std::string_view bearer = {}) const {
    return Retried(
        [&] { return HttpCall(ports_[next_++ % ports_.size()], method, target, body, bearer); });
  }

  // Call() with an Idempotency-Key header (the next member, as Call()).
  Reply CallKeyed(std::string_view idempotency_key, std::string_view method,
                  std::string_view target, std::string_view body = {},
                  std::string_view bearer = {}) const {
    return Retried([&] {
      return HttpCall(ports_[next_++ % ports_.size()], method, target, body, bearer,
                      "application/json",
                      "Idempotency-Key: " + std::string(idempotency_key) + "\r\n");
    });
  }

  // In a cluster, `call` again (up to 5 s) while it answers 503 OWNER-UNAVAILABLE, as a client
  // is told to (Retry-After: 1): a partition's owner may be changing hands (docs/scale.md). The
  // request reached no owner, so nothing was applied.
  template <class Fn>
  Reply Retried(Fn&& call) const {
    Reply r = call();
    for (int i = 0; i < 10 && ClusterMode() && r.status == 503 && r.code() == "OWNER-UNAVAILABLE";
         ++i) {
      std::this_thread::sleep_for(500ms);
      r = call();
    }
    return r;
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

  // Waits until every member is live, owns a partition and is caught up (GET /v1/cluster).
  void WaitForCluster(size_t members) const {
    for (const auto deadline = Clock::now() + 90s; Clock::now() < deadline;) {
      Reply r = HttpCall(port_, "GET", "/v1/cluster", {}, kOperatorToken);
      Json j = r.json();
      size_t owning = 0;
      for (size_t i = 0; i < j.Size("/members"); ++i) {
        const std::string at = "/members/" + std::to_string(i);
        owning += j.Bool(at + "/live") && j.Size(at + "/owned") > 0 ? 1 : 0;
      }
      if (r.status == 200 && j.Bool("/settled") && owning == members) return;
      std::this_thread::sleep_for(100ms);
    }
    BOOST_FAIL("the cluster did not settle: " << Stderr());
  }

  // Waits until `key_id`'s request log, as the account admin `token` sees it, holds `expect`
  // requests.
  void WaitForRequests(const std::string& token, const std::string& key_id, size_t expect) const {
    for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
      // Its own requests: a root's log holds its children's too (its family's).
      Reply log = Call("GET", "/v1/requests?limit=1000&key=" + key_id, {}, token);
      size_t own = 0;
      if (log.status == 200) {
        const Json j = log.json();
        for (size_t i = 0; i < j.Size("/requests"); ++i) {
          own += j.Str("/requests/" + std::to_string(i) + "/key_id") == key_id ? 1 : 0;
        }
      }
      if (own >= expect) return;
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("request events were not applied");
  }

 private:
  TempDir dir_;
  std::string data_dir_;
  std::string topic_;
  std::vector<std::unique_ptr<Process>> processes_;  // one; three in cluster mode
  std::vector<uint16_t> ports_;
  uint16_t port_ = 0;
  mutable size_t next_ = 0;
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
