// No secret is ever written anywhere (DESIGN §1: only SHA-256 of a key or token is stored or
// published). A full scenario runs against `keymeter serve` on the real broker (Kafka mode:
// accounts, keys issued and invited, rotations by the admin and by a member, n1ed calls,
// request events, events that go to the dead-letter queue, authorize calls with good and bad
// keys, failed admin tokens); then every byte keymeter wrote is searched for every plain key
// and token that existed or was sent:
//   - every message of the events topic and of the DLQ topic: key, payload and headers;
//   - every file of the data dir, raw (WAL, SST, MANIFEST, OPTIONS, LOG);
//   - every key and value of every column family, read through RocksDB (SST blocks may be
//     compressed, so the raw scan alone could miss them);
//   - the server's stdout and stderr.
// Also: failed credentials are rate-limited per client address (the peer's, not X-Real-IP's).
#define BOOST_TEST_MODULE secrets_scan
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "engine/secrets.h"
#include "engine/store.h"
#include "schemas/clock.h"
#include "tests/api/api_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// Where the secrets were searched, and how much of each kind was read (so a scan that read
// nothing fails instead of passing).
struct Scan {
  std::map<std::string, size_t> bytes_read;  // place → bytes
  std::vector<std::string> leaks;            // "secret label in place"

  void Search(const std::string& place, std::string_view haystack,
              const std::map<std::string, std::string>& secrets) {
    bytes_read[place] += haystack.size();
    for (const auto& [secret, label] : secrets) {
      if (haystack.find(secret) != std::string_view::npos) leaks.push_back(label + " in " + place);
    }
  }
};

// Every message of `topic` (all partitions, from the beginning to the end at call time), each
// as its key, payload and header names and values concatenated.
std::vector<std::string> ReadTopic(const std::string& topic) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", Brokers().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", ("secrets-scan-" + RandomHex()).c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  BOOST_REQUIRE_MESSAGE(rk != nullptr, err);
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> owner(rk, rd_kafka_destroy);
  rd_kafka_poll_set_consumer(rk);

  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  BOOST_REQUIRE(rd_kafka_metadata(rk, 0, handle, &metadata, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_destroy(handle);
  BOOST_REQUIRE(metadata->topic_cnt == 1);
  const int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  BOOST_REQUIRE_MESSAGE(partitions > 0, "topic " << topic << " has no partitions");

  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  BOOST_REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);

  std::vector<std::string> messages;
  std::set<int32_t> at_end;
  for (const auto deadline = Clock::now() + 60s;
       int(at_end.size()) < partitions && Clock::now() < deadline;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else {
      BOOST_REQUIRE_MESSAGE(m->err == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_message_errstr(m));
      std::string all(static_cast<const char*>(m->key), m->key_len);
      all.append(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          all += name;
          if (value != nullptr) all.append(static_cast<const char*>(value), size);
        }
      }
      messages.push_back(std::move(all));
    }
    rd_kafka_message_destroy(m);
  }
  BOOST_REQUIRE_MESSAGE(int(at_end.size()) == partitions, "did not reach the end of " << topic);
  rd_kafka_consumer_close(rk);
  return messages;
}

// One HTTP request from the client address `source` (a 127.x.y.z loopback address).
int StatusFrom(const char* source, uint16_t port, const std::string& target,
               const std::string& bearer, const std::string& extra_headers = {}) {
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
                              "Authorization: Bearer " + bearer + "\r\n" + extra_headers + "\r\n";
  const std::optional<HttpResponse> r = Exchange(port, request, 10s, source);
  BOOST_REQUIRE_MESSAGE(r, "no answer to " << target << " from " << source);
  return int(r->result_int());
}

std::string NdjsonAt(const std::string& key_id, int index, int64_t time_us) {
  char id[33];
  std::snprintf(id, sizeof id, "5ec7e75ca9000000%016x", index);
  return R"({"request_id":")" + std::string(id) + R"(","key_id":")" + key_id +
         R"(","time_us":)" + std::to_string(time_us) + R"(,"product":"scan","units":1})" + "\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_plain_key_or_token_in_topics_store_files_or_logs) {
  // Kafka mode: `serve --brokers` on a topic of its own (tests/api/api_fixture.h).
  ::setenv("KEYMETER_TEST_LOG", "kafka", 1);
  // Failed credentials below stay under the limit (the limiter has the next test case).
  ApiServer s({"KEYMETER_AUTH_FAILURES_PER_MINUTE=1000"});
  const std::vector<std::string> flags = LogFlags(s.data_dir());
  BOOST_REQUIRE(flags.size() == 8u && flags[2] == "--topic" && flags[6] == "--dlq-topic");
  const std::string topic = flags[3];
  const std::string dlq_topic = flags[7];

  std::map<std::string, std::string> secrets;  // plain text → what it is
  // A key and its secret part alone (the 8-character id is public).
  const auto track_key = [&](const std::string& key, const std::string& what) {
    BOOST_REQUIRE_EQUAL(key.size(), 24u);
    secrets[key] = what;
    secrets[key.substr(8)] = what + " (secret part)";
  };
  const auto track_token = [&](const std::string& token, const std::string& what) {
    BOOST_REQUIRE_GE(token.size(), 16u);
    secrets[token] = what;
    secrets[token.substr(4)] = what + " (random part)";
  };
  track_token(kOperatorToken, "operator token");

  // Accounts, keys, an invited member, a second account.
  const auto [acct, token] = s.CreateAccount("scan");
  const auto [other_acct, other_token] = s.CreateAccount("other");
  track_token(token, "admin token");
  track_token(other_token, "admin token of the other account");
  const std::string root = s.IssueKey(token, "root", "", "active");
  const std::string member = s.IssueKey(token, "member@example.com", root.substr(0, 8));
  const std::string invited = s.IssueKey(token, "invited@example.com", "", "pending");
  const std::string doomed = s.IssueKey(token, "doomed", "", "active");
  const std::string foreign = s.IssueKey(other_token, "foreign", "", "active");
  track_key(root, "root key");
  track_key(member, "member key");
  track_key(invited, "invited key");
  track_key(doomed, "deleted key");
  track_key(foreign, "other account's key");

  // Rotations: by the admin (with a grace period) and by the member itself.
  Reply rotated = s.Call("POST", "/v1/keys/" + root.substr(0, 8) + "/rotate",
                         R"({"grace_seconds":3600})", token);
  BOOST_REQUIRE_MESSAGE(rotated.status == 200, rotated.status << " " << rotated.body);
  const std::string root2 = rotated.json().Str("/key");
  track_key(root2, "rotated root key");
  Reply self_rotated = s.Call("POST", "/v1/me/rotate", "{}", member);
  BOOST_REQUIRE_MESSAGE(self_rotated.status == 200, self_rotated.status << " " << self_rotated.body);
  const std::string member2 = self_rotated.json().Str("/key");
  track_key(member2, "member's rotated key");
  BOOST_TEST(s.Call("GET", "/v1/me", {}, member2).status == 200);
  BOOST_TEST(s.Call("POST", "/v1/keys/" + invited.substr(0, 8) + "/confirm", {}, token).status ==
             200);

  // n1ed: the admin token and full keys travel in a form body.
  const auto n1ed = [&](const std::string& admin, const std::string& key,
                        const std::string& parent) {
    return HttpCall(s.port(), "POST", "/a/admin/api-key-set-parent",
                    "adminToken=" + admin + "&apiKey=" + key + "&parentApiKey=" + parent, {},
                    "application/x-www-form-urlencoded")
        .body;
  };
  BOOST_TEST(n1ed(token, invited, root2) == R"({"error": null, "data": "OK"})");
  BOOST_TEST(n1ed(token, invited, "") == R"({"error": null, "data": "OK"})");
  BOOST_TEST(n1ed(token, foreign, root2).find("UNABLE-TO-CHANGE-NOT-OWN-API-KEY") !=
             std::string::npos);

  // Bad keys and tokens sent by clients: unknown keys, a wrong secret for a real id, the old
  // secret after a rotation without grace.
  const std::string unknown = "Zz9Unkn0wnKeyZz9Unkn0wn1";
  const std::string wrong_secret = root.substr(0, 8) + "WrongSecretXyz12";
  const std::string bad_token = "kmt_ThisIsNotTheAdminTokenOfAnyAccount00000";
  track_key(unknown, "unknown key sent");
  track_key(wrong_secret, "wrong secret sent");
  track_token(bad_token, "bad admin token sent");
  Reply no_grace = s.Call("POST", "/v1/keys/" + doomed.substr(0, 8) + "/rotate", "{}", token);
  BOOST_REQUIRE_EQUAL(no_grace.status, 200);
  track_key(no_grace.json().Str("/key"), "deleted key's rotation");

  // Traffic: authorize (GET for nginx, POST for JSON clients), good and bad.
  const auto authorize = [&](const std::string& key) {
    return HttpCall(s.port(), "GET", "/v1/authorize?k=" + key, {}, key).status;
  };
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(authorize(root2) == 204);
    BOOST_TEST(authorize(root) == 204);  // old secret, in its grace period
    BOOST_TEST(authorize(member2) == 204);
    BOOST_TEST(authorize(member) == 401);  // rotated without grace
    BOOST_TEST(authorize(unknown) == 401);
    BOOST_TEST(authorize(wrong_secret) == 401);
    BOOST_TEST(authorize(doomed) == 401);
  }
  for (const std::string& key : {root2, unknown, wrong_secret}) {
    Reply r = s.Call("POST", "/v1/authorize",
                     R"({"key":")" + key + R"(","product":"scan","units":2})");
    BOOST_TEST(r.status == 200);
  }
  // Failed credentials on the admin, member and operator endpoints.
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, bad_token).status == 401);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, unknown).status == 401);
  BOOST_TEST(s.Call("GET", "/v1/me", {}, wrong_secret).status == 401);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, member2).status == 403);
  BOOST_TEST(s.Call("POST", "/v1/accounts", R"({"name":"x"})", token).status == 403);
  BOOST_TEST(n1ed(bad_token, member2, root2).find("INCORRECT-TOKEN") != std::string::npos);
  BOOST_TEST(n1ed(bad_token + "%00" + root2, member2, "").find("INCORRECT-TOKEN") !=
             std::string::npos);

  // Request events: applied ones, and ones the projector sends to the DLQ (a deleted key,
  // a time far in the future).
  const int64_t now = NowUs();
  std::string events;
  for (int i = 0; i < 20; ++i) events += NdjsonAt(i % 2 ? root2.substr(0, 8) : member2.substr(0, 8), i, now);
  events += NdjsonAt(doomed.substr(0, 8), 100, now);
  s.PostEvents(events);
  s.WaitForRequests(token, root2.substr(0, 8), 10);
  BOOST_REQUIRE_EQUAL(s.Call("DELETE", "/v1/keys/" + doomed.substr(0, 8), {}, token).status, 200);
  // (An event of the deleted key from before its deletion still counts; one after it does not.)
  s.PostEvents(NdjsonAt(doomed.substr(0, 8), 101, NowUs()) +
               NdjsonAt(root2.substr(0, 8), 102, now + int64_t{30} * 24 * 3600 * 1'000'000));
  s.PostEvents(NdjsonAt(member2.substr(0, 8), 103, now));
  s.WaitForRequests(token, member2.substr(0, 8), 11);
  // Reads that show keys (never their secrets) and the audit history.
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).status == 200);
  BOOST_TEST(s.Call("GET", "/v1/audit", {}, token).status == 200);

  // Everything the server printed, after a clean stop (RocksDB closed, logs complete).
  BOOST_REQUIRE_EQUAL(s.Stop(), 0);
  Scan scan;
  scan.Search("stdout", s.Stdout(), secrets);
  scan.Search("stderr", s.Stderr(), secrets);

  // The topics: the events and the DLQ of this server (tests/api/api_fixture.h).
  size_t events_read = 0;
  for (const std::string& m : ReadTopic(topic)) {
    scan.Search("topic " + topic, m, secrets);
    ++events_read;
  }
  size_t dead_letters_of_ours = 0;
  for (const std::string& m : ReadTopic(dlq_topic)) {
    scan.Search("topic " + dlq_topic, m, secrets);
    if (m.find(acct) == std::string::npos) continue;
    ++dead_letters_of_ours;
    std::string printable;
    for (char c : m) printable.push_back(c >= 32 && c < 127 ? c : '.');
    BOOST_TEST_MESSAGE("dead letter: " << printable);
  }
  BOOST_TEST(events_read >= 35u);  // ops and request events
  BOOST_TEST(dead_letters_of_ours >= 2u);  // the deleted key's and the future event

  // The data dir's files, raw.
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(s.data_dir())) {
    if (!entry.is_regular_file()) continue;
    scan.Search("file " + entry.path().filename().string(), ReadFile(entry.path()), secrets);
    ++files;
  }
  BOOST_TEST(files >= 5u);

  // Every column family through RocksDB: keys and values, decompressed.
  Result<std::unique_ptr<Store>> store =
      Store::Open({.path = s.data_dir(), .create_if_missing = false, .read_only = true});
  BOOST_REQUIRE_MESSAGE(store.has_value(), (store.has_error() ? store.error().ToString() : ""));
  size_t entries = 0;
  for (rocksdb::ColumnFamilyHandle* cf : store.value()->cfs().handles) {
    std::unique_ptr<rocksdb::Iterator> it(store.value()->db()->NewIterator({}, cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      scan.Search("column family " + cf->GetName(), it->key().ToStringView(), secrets);
      scan.Search("column family " + cf->GetName(), it->value().ToStringView(), secrets);
      ++entries;
    }
    BOOST_REQUIRE(it->status().ok());
  }
  BOOST_TEST(entries >= 30u);

  for (const auto& [place, bytes] : scan.bytes_read) BOOST_TEST_MESSAGE(place << ": " << bytes);
  BOOST_TEST_MESSAGE(secrets.size() << " secrets searched in " << scan.bytes_read.size()
                                    << " places; " << events_read << " events, " << files
                                    << " files, " << entries << " RocksDB entries");
  BOOST_TEST(scan.bytes_read["stderr"] > 0u);
  BOOST_TEST(scan.leaks.empty());
  for (const std::string& leak : scan.leaks) BOOST_ERROR("leak: " << leak);
}

BOOST_AUTO_TEST_CASE(failed_credentials_are_limited_per_client_address) {
  ::unsetenv("KEYMETER_TEST_LOG");  // the embedded log is enough here
  ApiServer s({"KEYMETER_AUTH_FAILURES_PER_MINUTE=3"});
  const auto [acct, token] = s.CreateAccount("limited");
  BOOST_REQUIRE_EQUAL(StatusFrom("127.0.0.2", s.port(), "/v1/keys", token), 200);
  // Three failures from 127.0.0.2, each claiming another address in X-Real-IP: the limiter
  // counts the peer's address, so the header does not spread them.
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(StatusFrom("127.0.0.2", s.port(), "/v1/keys", "kmt_guess" + std::to_string(i),
                          "X-Real-IP: 198.51.100." + std::to_string(i) + "\r\n") == 401);
  }
  // 127.0.0.2 is now blocked, even with the right token, on every credentialed endpoint...
  BOOST_TEST(StatusFrom("127.0.0.2", s.port(), "/v1/keys", token) == 429);
  BOOST_TEST(StatusFrom("127.0.0.2", s.port(), "/v1/usage", token) == 429);
  // Other addresses are not: the same token works from 127.0.0.3 and from 127.0.0.1.
  BOOST_TEST(StatusFrom("127.0.0.3", s.port(), "/v1/keys", token) == 200);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).status == 200);
  // Failures from 127.0.0.3 start their own count.
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(StatusFrom("127.0.0.3", s.port(), "/v1/keys", "kmt_nope") == 401);
  }
  BOOST_TEST(StatusFrom("127.0.0.3", s.port(), "/v1/keys", token) == 200);
  BOOST_TEST(StatusFrom("127.0.0.3", s.port(), "/v1/keys", "kmt_nope") == 401);
  BOOST_TEST(StatusFrom("127.0.0.3", s.port(), "/v1/keys", token) == 429);
  BOOST_TEST(StatusFrom("127.0.0.2", s.port(), "/v1/keys", token) == 429);
  BOOST_TEST(s.Call("GET", "/v1/keys", {}, token).status == 200);
}
