// Helpers for the cluster tests: three real `keymeter serve` members of one group on a topic of
// their own (the broker of scripts/kafka), and reading GET /v1/cluster.
#pragma once

#include <signal.h>
#include <simdjson.h>
#include <strings.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "http/client.h"
#include "tests/common/process_fixture.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"

namespace keymeter::testing {

constexpr int kPartitions = 4;
const std::string kOperatorToken = "cluster-test-operator-token";

inline std::string Field(const std::string& json, const char* name) {
  return http::JsonString(json, std::string("/") + name).value_or("");
}

inline std::string Header(const http::ClientReply& reply, std::string_view name) {
  for (const auto& [n, v] : reply.headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return "";
}

struct Member {
  std::unique_ptr<Process> process;
  uint16_t port = 0;
  std::unique_ptr<http::Client> client;
};

// Three members of one group on a topic of their own (`started` of them at first; Start() the
// others), each with `extra` serve arguments.
class TestCluster {
 public:
  explicit TestCluster(TempDir& tmp, std::string brokers = Brokers(), int started = 3,
                       std::vector<std::string> extra = {})
      : tmp_(tmp), brokers_(std::move(brokers)), extra_(std::move(extra)) {
    topic_ = "cluster-" + RandomHex();
    group_ = "cluster-" + RandomHex();
    const Status made = CreateTopic(topic_, kPartitions, brokers_);
    BOOST_REQUIRE_MESSAGE(made.ok(), "creating " << topic_ << ": " << made.ToString());
    for (int i = 0; i < started; ++i) Start(i);
  }

  // Starts member `i` (again, on its data dir after a restart).
  void Start(int i) {
    if (members_.size() <= size_t(i)) members_.resize(i + 1);
    Member& m = members_[i];
    std::vector<std::string> args = {"serve", "--data-dir", data_dir(i), "--listen",
                                     "127.0.0.1:0", "--brokers", brokers_, "--topic", topic_,
                                     "--group", group_, "--operator-token", kOperatorToken};
    args.insert(args.end(), extra_.begin(), extra_.end());
    m.process = Spawn(args, tmp_.sub("err" + std::to_string(i)));
    m.port = PortOf(m.process->ReadLine(60s));
    m.client = std::make_unique<http::Client>("127.0.0.1", m.port, 10s);
  }

  // Stops member `i` as an operator would (SIGTERM) and waits for it to exit; its exit status.
  int Stop(int i) {
    Member& m = members_[i];
    ::kill(m.process->pid, SIGTERM);
    const int status = m.process->Wait(30s);
    return status;
  }

  Member& operator[](size_t i) { return members_[i]; }
  size_t size() const { return members_.size(); }
  const std::string& topic() const { return topic_; }
  std::string data_dir(int i) const { return tmp_.sub("m" + std::to_string(i)); }

  // GET /v1/cluster of member `i`: {live member ids, partition → owner id}.
  std::pair<std::set<std::string>, std::map<int, std::string>> View(size_t i) {
    auto r = members_[i].client->Send("GET", "/v1/cluster", kOperatorToken);
    std::set<std::string> live;
    std::map<int, std::string> owners;
    if (!r || r.value().status != 200) return {live, owners};
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(r.value().body);
    // A member whose cluster is not up yet (still negotiating its group session) answers
    // without "members": nothing live, nothing settled.
    if (root["members"].error() != simdjson::SUCCESS) {
      settled_ = false;
      return {live, owners};
    }
    settled_ = bool(root["settled"]);
    for (simdjson::dom::element m : root["members"].get_array()) {
      if (bool(m["live"])) live.insert(std::string(std::string_view(m["member_id"])));
    }
    for (simdjson::dom::element o : root["owners"].get_array()) {
      std::string_view owner;
      if (o["owner"].get_string().get(owner) == simdjson::SUCCESS) {
        owners[int(int64_t(o["partition"]))] = std::string(owner);
      }
    }
    return {live, owners};
  }

  // GET /v1/cluster of member `i`: partition → its first standby's id.
  std::map<int, std::string> FirstStandbys(size_t i) {
    std::map<int, std::string> out;
    auto r = members_[i].client->Send("GET", "/v1/cluster", kOperatorToken);
    if (!r || r.value().status != 200) return out;
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(r.value().body);
    if (root["owners"].error() != simdjson::SUCCESS) return out;  // not up yet, as in View()
    for (simdjson::dom::element o : root["owners"].get_array()) {
      simdjson::dom::array standbys = o["standbys"].get_array();
      if (standbys.size() > 0) {
        out[int(int64_t(o["partition"]))] = std::string(std::string_view(standbys.at(0)["member_id"]));
      }
    }
    return out;
  }

  // Waits until member `i` sees one live standby, not the owner, for every partition.
  bool StandbysCovered(size_t i, std::chrono::seconds timeout) {
    for (auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      auto r = members_[i].client->Send("GET", "/v1/cluster", kOperatorToken);
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      // Not up yet (no "owners"): as in View(), try again.
      if (r && r.value().status == 200 && parser.parse(r.value().body).get(root) == simdjson::SUCCESS &&
          root["owners"].error() == simdjson::SUCCESS) {
        size_t covered = 0;
        for (simdjson::dom::element o : root["owners"].get_array()) {
          simdjson::dom::array standbys = o["standbys"].get_array();
          std::string_view owner;
          if (o["owner"].get_string().get(owner) != simdjson::SUCCESS) continue;
          if (standbys.size() == 1 && std::string_view(standbys.at(0)["member_id"]) != owner) {
            ++covered;
          }
        }
        if (covered == size_t(kPartitions)) return true;
      }
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }

  // Waits until member `i` sees `members` live members, each owning a partition and caught up
  // ("settled"), every partition owned.
  bool Settled(size_t i, size_t members, std::chrono::seconds timeout) {
    for (auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      auto [live, owners] = View(i);
      std::set<std::string> owning;
      for (const auto& [p, owner] : owners) owning.insert(owner);
      if (live.size() == members && owners.size() == size_t(kPartitions) && owning == live &&
          settled_) {
        return true;
      }
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }

 private:
  TempDir& tmp_;
  std::string brokers_;
  std::vector<std::string> extra_;
  std::string topic_;
  std::string group_;
  std::vector<Member> members_;
  bool settled_ = false;  // of the last View()
};

struct AccountKeys {
  std::string account_id;
  std::string admin_token;
  std::string key;
};

// An account made through member `a` and a key issued through member `b`.
inline AccountKeys MakeAccount(TestCluster& c, size_t a, size_t b, const std::string& name) {
  AccountKeys out;
  auto account =
      c[a].client->Send("POST", "/v1/accounts", kOperatorToken, R"({"name":")" + name + R"("})");
  BOOST_REQUIRE(account);
  BOOST_REQUIRE_MESSAGE(account.value().status == 201, account.value().body);
  out.account_id = Field(account.value().body, "account_id");
  out.admin_token = Field(account.value().body, "admin_token");
  auto key = c[b].client->Send("POST", "/v1/keys", out.admin_token,
                               R"({"label":"Production","status":"active"})");
  BOOST_REQUIRE(key);
  BOOST_REQUIRE_MESSAGE(key.value().status == 201, key.value().body);
  out.key = Field(key.value().body, "key");
  return out;
}

inline Result<http::ClientReply> Authorize(Member& m, const std::string& key) {
  return m.client->Send("GET", "/v1/authorize", "", "", "application/json",
                        {{"X-Api-Key", key}, {"X-Real-IP", "192.0.2.7"}});
}

}  // namespace keymeter::testing
