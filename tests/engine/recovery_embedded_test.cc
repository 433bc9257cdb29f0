// Crash safety in embedded mode: `keymeter serve` on its embedded log is killed with SIGKILL at
// least 50 times at random moments (some while draining after a SIGTERM) while clients post
// 2,000,000 request events through `POST /v1/events` and run lifecycle ops through the admin
// API (create, suspend, activate, re-parent, quota, rotate, delete). Clients retry what failed,
// as gateways do. After the last restart the store's projections equal, checksum for checksum,
// a clean replay of the embedded log it holds into a fresh store, its offsets are the log's end,
// and every batch the server acknowledged is in that log.
#define BOOST_TEST_MODULE recovery_embedded
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "http/client.h"
#include "schemas/clock.h"
#include "schemas/envelope_builder.h"
#include "tests/common/process_fixture.h"
#include "tests/common/serve_metrics.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/recovery_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr int kKills = 50;
constexpr int64_t kEvents = 2'000'000;
constexpr int kBatch = 5'000;  // events per POST /v1/events
constexpr int kAccounts = 20;
constexpr int kKeysPerAccount = 6;  // 2 roots, 4 children
const std::string kOperatorToken = "recovery-embedded-operator-token";

std::string Field(const std::string& json, const char* name) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view v;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return "";
  if (root[name].get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

struct Account {
  std::string id, token;
  std::vector<std::string> roots, children;  // key ids
};

// Sends until the server answers (it may be dead or restarting); gives up after `patience`.
std::optional<http::ClientReply> Call(http::Client& client, std::string_view method,
                                      std::string_view target, std::string_view bearer,
                                      std::string_view body, std::string_view type,
                                      std::chrono::seconds patience = 60s) {
  for (auto deadline = Clock::now() + patience; Clock::now() < deadline;) {
    Result<http::ClientReply> r = client.Send(method, target, bearer, body, type);
    if (r && r.value().status < 500) return r.value();
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_while_posting_events_and_admin_ops_loses_and_doubles_nothing) {
  const auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  TempDir tmp;
  const std::string data_dir = tmp.sub("live");
  const uint16_t port = FreePort();
  // No webhook sender, as in recovery_test: the log is the test's alone.
  const std::vector<std::string> args = {"serve", "--data-dir", data_dir, "--listen",
                                         "127.0.0.1:" + std::to_string(port), "--operator-token",
                                         kOperatorToken, "--webhook-senders", "0"};

  // Accounts and keys first, on a server left alone.
  std::vector<Account> accounts(kAccounts);
  std::string gateway_token;
  {
    auto server = Spawn(args, tmp.sub("err"));
    BOOST_REQUIRE_MESSAGE(server->ReadLine(30s).find("listening") != std::string::npos,
                          server->Stderr());
    http::Client client("127.0.0.1", port);
    auto gateway = Call(client, "POST", "/v1/gateways", kOperatorToken, R"({"name":"poster"})",
                        "application/json");
    BOOST_REQUIRE(gateway && gateway->status == 201);
    gateway_token = Field(gateway->body, "token");
    for (int a = 0; a < kAccounts; ++a) {
      auto r = Call(client, "POST", "/v1/accounts", kOperatorToken,
                    R"({"name":"acct)" + std::to_string(a) + R"("})", "application/json");
      BOOST_REQUIRE(r && r->status == 201);
      accounts[a].id = Field(r->body, "account_id");
      accounts[a].token = Field(r->body, "admin_token");
      for (int k = 0; k < kKeysPerAccount; ++k) {
        const bool root = k < 2;
        const std::string body =
            root ? R"({"label":"root"})"
                 : R"({"label":"member","status":"active","parent":")" + accounts[a].roots[k % 2] + "\"}";
        auto key = Call(client, "POST", "/v1/keys", accounts[a].token, body, "application/json");
        BOOST_REQUIRE_MESSAGE(key && key->status == 201, (key ? key->body : "no answer"));
        (root ? accounts[a].roots : accounts[a].children).push_back(Field(key->body, "key_id"));
      }
    }
    ::kill(server->pid, SIGTERM);
    BOOST_REQUIRE(server->Wait(30s) == 0);
  }
  BOOST_TEST_MESSAGE("set up " << kAccounts << " accounts in " << elapsed() << " s");

  std::mutex accounts_mu;  // the admin thread replaces deleted members
  std::atomic<bool> stop_admin{false};
  std::atomic<int64_t> posted{0}, acknowledged{0}, admin_ops{0};
  // Events: batches of FlatBuffers records, retried until acknowledged.
  std::thread poster([&] {
    http::Client client("127.0.0.1", port, 10s);
    std::mt19937_64 rng(7);
    while (posted < kEvents) {
      std::string body;
      const TimeUs now = NowUs();
      for (int i = 0; i < kBatch; ++i) {
        std::lock_guard lock(accounts_mu);
        const Account& a = accounts[rng() % kAccounts];
        RequestFields r;
        for (auto& b : r.request_id) b = uint8_t(rng());
        r.key_id = rng() % 3 == 0 ? a.roots[rng() % 2] : a.children[rng() % a.children.size()];
        r.account_id = a.id;
        // Some late (20 minutes: inside the dedupe window, so a resent batch never counts twice).
        r.time_us = now - int64_t(rng() % 20 == 0 ? 1'200'000'000 : rng() % 1'000'000);
        r.product = rng() % 2 ? "whois" : "dns";
        r.units = uint32_t(1 + rng() % 3);
        r.status = rng() % 10 == 0 ? 503 : 200;
        r.client_ip = "198.51.100.7";
        const std::string e = BuildRequestEvent(r);
        const uint32_t n = uint32_t(e.size());
        const char len[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
        body.append(len, 4).append(e);
      }
      // A batch whose answer was lost may have landed: resending it is what a gateway does,
      // and the projector drops the repeats by request id.
      for (;;) {
        Result<http::ClientReply> r =
            client.Send("POST", "/v1/events", gateway_token, body, "application/x-flatbuffers");
        if (r && r.value().status == 200) {
          acknowledged += kBatch;
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      posted += kBatch;
    }
  });
  // Lifecycle ops through the admin API, each waiting for the projector's outcome.
  std::thread admin([&] {
    http::Client client("127.0.0.1", port, 10s);
    std::mt19937_64 rng(11);
    while (!stop_admin) {
      Account& a = accounts[rng() % kAccounts];
      std::string child;
      {
        std::lock_guard lock(accounts_mu);
        child = a.children[rng() % a.children.size()];
      }
      std::string method = "POST", target, body;
      switch (rng() % 6) {
        case 0: target = "/v1/keys/" + child + "/suspend"; break;
        case 1: target = "/v1/keys/" + child + "/activate"; break;
        case 2:
          method = "PUT", target = "/v1/keys/" + child + "/parent";
          body = R"({"parent":")" + a.roots[rng() % 2] + "\"}";
          break;
        case 3:
          method = "PUT", target = "/v1/keys/" + a.roots[rng() % 2] + "/quota";
          body = R"({"daily_requests":)" + std::to_string(1'000'000 + rng() % 1000) +
                 R"(,"monthly_units":100000000})";
          break;
        case 4:
          target = "/v1/keys/" + child + "/rotate";
          body = R"({"grace_seconds":60})";
          break;
        case 5:
          if (rng() % 8 == 0) {  // now and then a member leaves and another is invited
            Result<http::ClientReply> r =
                client.Send("DELETE", "/v1/keys/" + child, a.token, "", "application/json");
            (void)r;
            Result<http::ClientReply> k =
                client.Send("POST", "/v1/keys", a.token,
                            R"({"label":"new","parent":")" + a.roots[0] + "\"}", "application/json");
            if (k && k.value().status == 201) {
              std::lock_guard lock(accounts_mu);
              std::replace(a.children.begin(), a.children.end(), child,
                           Field(k.value().body, "key_id"));
            }
            ++admin_ops;
            continue;
          }
          target = "/v1/keys/" + child + "/confirm";
          break;
      }
      Result<http::ClientReply> r = client.Send(method, target, a.token, body, "application/json");
      if (r) ++admin_ops;
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
    }
  });

  // The kills, while the stream flows: some while serve opens the store, most at a random
  // moment after it made progress (an acknowledged batch or a commit), every tenth in shutdown.
  std::mt19937 rng(std::random_device{}());
  int kills = 0, early_kills = 0, shutdown_kills = 0;
  while (kills < kKills) {
    auto server = Spawn(args, tmp.sub("err"));
    BOOST_REQUIRE_MESSAGE(server->ReadLine(30s).find("listening") != std::string::npos,
                          "serve did not start: " << server->Stderr());
    const bool early = kills % 7 == 3;
    const bool shutdown = kills % 10 == 5;
    if (early) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    } else {
      const int64_t acknowledged_before = acknowledged;
      const int64_t applied_before = Total(MetricOffsets(port));
      for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
        if (acknowledged > acknowledged_before || Total(MetricOffsets(port)) > applied_before) break;
        std::this_thread::sleep_for(20ms);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1000));
    }
    if (shutdown) {
      ::kill(server->pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 30));
    }
    ::kill(server->pid, SIGKILL);
    const int code = server->Wait(10s);
    if (shutdown && code == -1) ++shutdown_kills;
    if (!shutdown) BOOST_REQUIRE(code == -1);
    ++kills;
    early_kills += early ? 1 : 0;
  }
  BOOST_TEST_MESSAGE("killed " << kills << " times (" << early_kills << " while starting, "
                               << shutdown_kills << " while draining); " << acknowledged
                               << " events acknowledged so far, "
                               << admin_ops << " admin ops; " << elapsed() << " s");
  BOOST_TEST(kills >= kKills);
  BOOST_TEST(shutdown_kills >= 1);
  BOOST_TEST(acknowledged > 0);  // the kills landed while the stream was flowing

  // The last run: the clients finish, the projector catches up, a clean stop.
  {
    auto server = Spawn(args, tmp.sub("err"));
    BOOST_REQUIRE(server->ReadLine(30s).find("listening") != std::string::npos);
    poster.join();
    std::this_thread::sleep_for(200ms);
    stop_admin = true;
    admin.join();
    // Ready, and the committed offsets still for over a second (a batch commits within one):
    // /readyz alone may say "caught up" from an empty batch just before the last appends.
    std::optional<HttpResponse> ready;
    std::map<int32_t, int64_t> committed;
    bool still = false;
    for (auto deadline = Clock::now() + 120s; !still && Clock::now() < deadline;) {
      const std::map<int32_t, int64_t> before = MetricOffsets(port);
      std::this_thread::sleep_for(1200ms);
      ready = Get(port, "/readyz");
      committed = MetricOffsets(port);
      still = ready && ready->result_int() == 200 && !committed.empty() && committed == before;
    }
    BOOST_REQUIRE_MESSAGE(still, "the last run did not catch up");
    ::kill(server->pid, SIGTERM);
    BOOST_TEST(server->Wait(30s) == 0);
  }
  BOOST_TEST(acknowledged >= kEvents);

  // The live store: its offsets are the end of its log.
  std::string live;
  std::map<int32_t, int64_t> end;
  auto source_store = std::move(Store::Open({.path = data_dir, .read_only = true}).value());
  auto log = std::move(EmbeddedLog::Open(source_store->db(), source_store->cfs()[Cf::kLog]).value());
  // A partition no account hashed to (4 partitions, 20 random account ids: about one run in
  // 80) has no record, so no stored offset either.
  for (int32_t p = 0; p < log->partitions(); ++p) {
    if (log->EndOffset(p) > 0) end[p] = log->EndOffset(p);
  }
  BOOST_TEST(StoredOffsets(data_dir) == end);
  live = source_store->Checksum().value();
  BOOST_TEST_MESSAGE("the log holds " << Total(end) << " records; " << elapsed() << " s");

  // A clean replay of that log into a fresh store, in one go, with the same log times.
  auto store = std::move(Store::Open({.path = tmp.sub("replay")}).value());
  KeyDirectory directory(store->cfs());
  QuotaWindows quota;
  EmbeddedDeadLetterSink dead_letters;
  Projector projector(*store, directory, quota, dead_letters, {});
  BOOST_REQUIRE(projector.Open("embedded", NowUs()).ok());
  EmbeddedLogSource source(*log, [](int32_t) { return std::optional<int64_t>(); });
  for (auto deadline = Clock::now() + 180s;
       !CaughtUp(OffsetsOf(projector), end) && Clock::now() < deadline;) {
    BOOST_REQUIRE(projector.RunBatch(source).has_value());
  }
  BOOST_REQUIRE(CaughtUp(OffsetsOf(projector), end));
  BOOST_TEST(store->Checksum().value() == live);
  const ProjectorStats& stats = projector.stats();
  uint64_t dead = 0;
  for (const auto& [reason, n] : stats.dead_letters) dead += n;
  BOOST_TEST_MESSAGE("replay: " << stats.requests_applied << " requests applied, "
                                << stats.duplicates << " duplicates dropped, " << dead
                                << " dead letters; " << elapsed() << " s");
  // Every event is in the log (each batch was resent until acknowledged) and counts once:
  // resent batches are the only duplicates, and only events of deleted members are dead letters
  // (again each time their batch was resent: the DLQ keeps every message, so count them by
  // request id).
  std::set<std::string> deleted;
  std::unique_ptr<rocksdb::Iterator> it(store->db()->NewIterator({}, store->cfs()[Cf::kDlq]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Result<DeadLetter> d = DecodeDeadLetter(
        std::span(reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()));
    BOOST_REQUIRE(d.has_value());
    PayloadArena aligned;
    aligned.Add(d.value().payload);
    const fb::Envelope* env = VerifyEnvelope(aligned[0]);
    BOOST_REQUIRE(env != nullptr && env->op_as_RequestEvent() != nullptr);
    const auto* id = env->op_as_RequestEvent()->request_id()->bytes();
    deleted.emplace(id->begin(), id->end());
  }
  BOOST_TEST(stats.requests_applied + deleted.size() == uint64_t(posted));
  for (const auto& [reason, n] : stats.dead_letters) BOOST_TEST(reason == "KEY-DELETED");
}
