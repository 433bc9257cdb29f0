// Webhooks against a real `keymeter serve` (embedded log; `_kafka` on a real broker, where the
// alerts go to a topic too; `_cluster` on three members): a real HTTP receiver on loopback that
// checks every signature and fails on purpose, the retries it sees (the same body, attempt
// numbers going up, backoff between them), the delivery log, a delivery given up after the retry
// window (dead-lettered), and the webhook's removal.
#define BOOST_TEST_MODULE webhooks_api_test
#include <librdkafka/rdkafka.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <mutex>

#include "api/webhooks.h"
#include "http/router.h"
#include "http/server.h"
#include "tests/api/api_fixture.h"
#include "tests/common/serve_metrics.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

struct Received {
  std::string path, body, signature, webhook_id, event, attempt;
  Clock::time_point at;
};

// An HTTP receiver on 127.0.0.1: /ok answers 200 after `fail_first` 500s per delivery id,
// /down always 503. Keeps every request.
class Receiver {
 public:
  explicit Receiver(int fail_first) : fail_first_(fail_first) {
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto handler = [this](const http::Request& rq, http::Response& rs) {
      Received r{.path = std::string(rq.target),
                 .body = std::string(rq.body),
                 .signature = std::string(rq.Header("Keymeter-Signature").value_or("")),
                 .webhook_id = std::string(rq.Header("Keymeter-Webhook-Id").value_or("")),
                 .event = std::string(rq.Header("Keymeter-Event").value_or("")),
                 .attempt = std::string(rq.Header("Keymeter-Delivery-Attempt").value_or("")),
                 .at = Clock::now()};
      std::lock_guard lock(mu_);
      const int seen = ++seen_[r.path + r.body];
      received_.push_back(r);
      rs.status = r.path == "/ok" && seen > fail_first_ ? 200 : r.path == "/ok" ? 500 : 503;
      rs.body = "{}";
    };
    auto started = http::Server::Start(options, handler);
    BOOST_REQUIRE(started.has_value());
    server_ = std::move(started.value());
  }
  ~Receiver() { server_->Stop(); }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::vector<Received> Of(const std::string& path) {
    std::lock_guard lock(mu_);
    std::vector<Received> out;
    for (const Received& r : received_) {
      if (r.path == path) out.push_back(r);
    }
    return out;
  }
  // Waits until `path` got `n` requests.
  std::vector<Received> Wait(const std::string& path, size_t n, std::chrono::seconds timeout) {
    for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      if (Of(path).size() >= n) return Of(path);
      std::this_thread::sleep_for(50ms);
    }
    BOOST_FAIL(path << " got " << Of(path).size() << " requests, not " << n);
    return {};
  }

 private:
  const int fail_first_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::map<std::string, int> seen_;
  std::unique_ptr<http::Server> server_;
};

// The receiver's check: v1 is HMAC-SHA256(secret, "<t>." + body), t near now.
bool SignatureValid(const Received& r, const std::string& secret) {
  const size_t comma = r.signature.find(",v1=");
  if (!r.signature.starts_with("t=") || comma == std::string::npos) return false;
  const int64_t t = std::stoll(r.signature.substr(2, comma - 2));
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (t < now - 300 || t > now + 5) return false;
  return SignDelivery(secret, t, r.body) == r.signature;
}

// The first message of `topic` (from its start) whose value contains `needle`; "" if none
// comes within 30 s.
std::string FindOnTopic(const std::string& topic, const std::string& needle) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::string group = "webhooks-test-" + RandomHex();
  for (const auto& [k, v] : {std::pair<const char*, std::string>{"bootstrap.servers", Brokers()},
                             {"group.id", group},
                             {"auto.offset.reset", "earliest"}}) {
    rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err);
  }
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  BOOST_REQUIRE(consumer != nullptr);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::string found;
  for (const auto deadline = Clock::now() + 30s; found.empty() && Clock::now() < deadline;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string value(static_cast<const char*>(m->payload), m->len);
      if (value.find(needle) != std::string::npos) found = value;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return found;
}

}  // namespace

BOOST_AUTO_TEST_CASE(alerts_are_delivered_signed_retried_and_given_up) {
  Receiver receiver(/*fail_first=*/2);
  const std::string alerts_topic = "keymeter.test.alerts." + RandomHex();
  // Retried for 4 s after the alert (12 s through a broker, where each attempt's record takes
  // a round trip through the log before the next).
  const std::string retry_for = KafkaMode() ? "12" : "4";
  ApiServer s({"KEYMETER_WEBHOOK_ALLOW_PRIVATE=true", "KEYMETER_WEBHOOK_RETRY_BASE_MS=300",
               "KEYMETER_WEBHOOK_RETRY_FOR_S=" + retry_for, "KEYMETER_ALERTS_TOPIC=" + alerts_topic});
  const auto [account, admin] = s.CreateAccount("webhooks");
  const std::string root_key = s.IssueKey(admin, "pool", "", "active");
  const std::string root = root_key.substr(0, 8);

  // What a URL and events must be.
  for (const std::string body : {R"({"url":"ftp://example.com/x"})", R"({"url":"http://a b/"})",
                                 R"({"events":["threshold.crossed"]})",
                                 R"({"url":"https://example.com/","events":["key.deleted"]})"}) {
    Reply bad = s.Call("POST", "/v1/webhooks", body, admin);
    BOOST_TEST(bad.status == 400, body << ": " << bad.status << " " << bad.body);
  }
  // A member may not see or register webhooks.
  BOOST_TEST(s.Call("GET", "/v1/webhooks", {}, root_key).status == 403);

  Reply made = s.Call("POST", "/v1/webhooks",
                      R"({"url":")" + receiver.Url("/ok") + R"(","events":["threshold.crossed"]})",
                      admin);
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.status << " " << made.body);
  const std::string ok_id = made.json().Str("/webhook_id");
  const std::string secret = made.json().Str("/secret");
  BOOST_TEST(secret.starts_with("whsec_"));
  BOOST_TEST(made.json().Str("/events/0") == "threshold.crossed");
  BOOST_TEST(made.json().Size("/events") == 1u);
  Reply down = s.Call("POST", "/v1/webhooks", R"({"url":")" + receiver.Url("/down") + R"("})",
                      admin);
  BOOST_REQUIRE_MESSAGE(down.status == 201, down.status << " " << down.body);
  const std::string down_id = down.json().Str("/webhook_id");
  const std::string down_secret = down.json().Str("/secret");
  BOOST_TEST(down_secret != secret);
  // The secret is shown once: the list and the webhook hold none.
  Reply listed = s.Call("GET", "/v1/webhooks", {}, admin);
  BOOST_REQUIRE_EQUAL(listed.status, 200);
  BOOST_TEST(listed.json().Size("/webhooks") == 2u);
  BOOST_TEST(listed.body.find("whsec_") == std::string::npos);

  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + root + "/quota", R"({"daily_requests":4})", admin).status, 200);
  BOOST_REQUIRE_EQUAL(
      s.Call("PUT", "/v1/keys/" + root + "/alerts", R"({"percents":[50]})", admin).status, 200);
  s.PostEvents(EventLine(root, 0, 0, "search", 200) + EventLine(root, 1, 0, "search", 200));

  // /ok: two 500s, then 200 — three attempts of one body, each signed, spaced by the backoff.
  const std::vector<Received> got = receiver.Wait("/ok", 3, 30s);
  BOOST_REQUIRE_EQUAL(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(SignatureValid(got[i], secret), "attempt " << i + 1 << ": " << got[i].signature);
    BOOST_TEST(got[i].body == got[0].body);
    BOOST_TEST(got[i].attempt == std::to_string(i + 1));
    BOOST_TEST(got[i].webhook_id == ok_id);
    BOOST_TEST(got[i].event == "threshold.crossed");
  }
  BOOST_TEST(!SignatureValid(got[0], "whsec_" + std::string(64, '0')));
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  BOOST_TEST(ms(got[1].at - got[0].at) >= 250);
  BOOST_TEST(ms(got[2].at - got[1].at) >= 550);  // doubled
  const Json body = Json(got[0].body);
  const std::string alert_id = body.Str("/id");
  BOOST_TEST(alert_id.starts_with("alert_"));
  BOOST_TEST(body.Str("/type") == "threshold.crossed");
  BOOST_TEST(body.Str("/account_id") == account);
  BOOST_TEST(body.Str("/data/key_id") == root);
  BOOST_TEST(body.Int("/data/percent") == 50);
  std::this_thread::sleep_for(1s);
  BOOST_TEST(receiver.Of("/ok").size() == 3u);  // delivered: no more

  // The delivery log says so.
  Reply log;
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    log = s.Call("GET", "/v1/webhooks/" + ok_id + "/deliveries", {}, admin);
    if (log.status == 200 && log.json().Size("/deliveries") == 1 &&
        log.json().Str("/deliveries/0/state") == "delivered") {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  BOOST_REQUIRE_MESSAGE(log.status == 200, log.status << " " << log.body);
  BOOST_TEST(log.json().Str("/deliveries/0/state") == "delivered");
  BOOST_TEST(log.json().Str("/deliveries/0/alert_id") == alert_id);
  BOOST_TEST(log.json().Int("/deliveries/0/attempts") == 3);
  BOOST_TEST(log.json().Int("/deliveries/0/last_status") == 200);

  // /down: retried for the window, then given up: failed, visible.
  Reply failed;
  for (const auto deadline = Clock::now() + 40s; Clock::now() < deadline;) {
    failed = s.Call("GET", "/v1/webhooks/" + down_id + "/deliveries?state=failed", {}, admin);
    if (failed.status == 200 && failed.json().Size("/deliveries") == 1) break;
    std::this_thread::sleep_for(200ms);
  }
  BOOST_REQUIRE_MESSAGE(failed.json().Size("/deliveries") == 1u, failed.body);
  const int64_t attempts = failed.json().Int("/deliveries/0/attempts");
  BOOST_TEST(attempts >= 3);
  BOOST_TEST(size_t(attempts) == receiver.Of("/down").size());
  BOOST_TEST(failed.json().Int("/deliveries/0/last_status") == 503);
  BOOST_TEST(failed.json().Str("/deliveries/0/last_error") == "HTTP-STATUS");
  for (const Received& r : receiver.Of("/down")) BOOST_TEST(SignatureValid(r, down_secret));
  if (!ClusterMode()) {
    BOOST_TEST(MetricValue(s.port(), "keymeter_webhook_attempts_total{outcome=\"failed\"}")
                   .value_or(0) == 1.0);
    BOOST_TEST(MetricValue(s.port(), "keymeter_webhook_attempts_total{outcome=\"delivered\"}")
                   .value_or(0) == 1.0);
  }

  // In Kafka mode the alert is on the alerts topic too.
  if (KafkaMode()) {
    const std::string on_topic = FindOnTopic(alerts_topic, alert_id);
    BOOST_REQUIRE_MESSAGE(!on_topic.empty(), alert_id << " not on " << alerts_topic);
    BOOST_TEST(on_topic == got[0].body);
  }

  // Removed: gone from the list, its log with it.
  Reply removed = s.Call("DELETE", "/v1/webhooks/" + down_id, {}, admin);
  BOOST_TEST(removed.status == 200, removed.body);
  BOOST_TEST(s.Call("GET", "/v1/webhooks/" + down_id, {}, admin).status == 404);
  BOOST_TEST(s.Call("GET", "/v1/webhooks/" + down_id + "/deliveries", {}, admin).status == 404);
  BOOST_TEST(s.Call("GET", "/v1/webhooks", {}, admin).json().Size("/webhooks") == 1u);
}
