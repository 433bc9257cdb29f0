// Webhooks (projections/webhooks.h): WebhookCreated/WebhookDeleted validate and are kept, by id,
// in the account's state and in the store (a reload holds the same); an alert enqueues one
// delivery per webhook that wants it and one topic entry; attempts move a delivery on, to
// delivered or failed, and leave the outbox when done; the delivery log pages newest first;
// AlertsPublished empties the topic's outbox; deleting a webhook removes its log and queue.
#define BOOST_TEST_MODULE webhooks
#include <rocksdb/write_batch.h>

#include <boost/test/unit_test.hpp>

#include "projections/alerts.h"
#include "projections/webhooks.h"
#include "tests/projections/key_ops_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

struct Fixture : KeyOpsFixture {
  Fixture() { Setup(); }

  std::vector<WebhookState> Webhooks() {
    const AccountState* a = directory->FindAccount(kAcct);
    BOOST_REQUIRE(a != nullptr);
    return a->webhooks();
  }
  std::vector<OutboxEntry> Outbox() {
    std::string last;
    Result<std::vector<OutboxEntry>> r =
        ReadOutbox(store->db(), store->cfs()[Cf::kOutbox], "", 1000, &last);
    BOOST_REQUIRE(r.has_value());
    return r.value();
  }
  // One attempt as the sender records it.
  Status Attempt(const WebhookAttempt& a, TimeUs at) {
    const std::string bytes = BuildWebhookAttempted(As(fb::ActorKind::System, kAcct), a);
    const fb::Envelope* env =
        VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    rocksdb::WriteBatch batch;
    Status s = ApplyAttempt(&batch, store->cfs()[Cf::kWebhooks], store->cfs()[Cf::kOutbox], kAcct,
                            Webhooks(), *env->op_as_WebhookAttempted(), at);
    BOOST_REQUIRE(store->Write(&batch).ok());
    return s;
  }
  void Enqueue(const Alert& alert) {
    rocksdb::WriteBatch batch;
    EnqueueDeliveries(&batch, store->cfs()[Cf::kWebhooks], store->cfs()[Cf::kOutbox], kAcct,
                      Webhooks(), alert);
    BOOST_REQUIRE(store->Write(&batch).ok());
  }
  WebhookDelivery Delivery(const std::string& webhook, const Alert& a) {
    auto d = ReadDelivery(store->db(), store->cfs()[Cf::kWebhooks], kAcct, webhook, a.time_us,
                          a.alert_id);
    BOOST_REQUIRE(d.has_value() && d.value().has_value());
    return *d.value();
  }
};

Alert AlertAt(TimeUs t, bool resolved, const std::string& id) {
  return Alert{.alert_id = id, .resolved = resolved, .account_id = kAcct, .key_id = "ParentAA",
               .metric = "daily_requests", .percent = 50, .limit = 10, .value = 5,
               .window_start_us = 0, .time_us = t};
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(created_validated_kept_and_reloaded, Fixture) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"wh_", "http://a/"},                 // no id after the prefix
      {"hook_1", "http://a/"},              // not wh_
      {"wh_a b", "http://a/"},              // a space
      {"wh_1", "ftp://a/"},                 // a scheme
      {"wh_1", "http://a b/"},              // a space in the url
      {"wh_1", "http://" + std::string(2100, 'a')}};
  for (const auto& [id, url] : refused) {
    BOOST_TEST(Outcome(BuildWebhookCreated(A(), id, url, {})) == "INVALID-WEBHOOK", id << " " << url);
  }
  BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_1", "http://a/", {"key.deleted"})) ==
             "INVALID-WEBHOOK");
  BOOST_TEST(Outcome(BuildWebhookCreated(As(fb::ActorKind::Member, kAcct, "ChildAA1"), "wh_1", "http://a/", {})) ==
             "FORBIDDEN");
  BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_b", "https://b.example/x", {})) == "OK");
  BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_a", "http://a/", {"threshold.resolved"})) ==
             "OK");
  BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_a", "http://a/", {})) == "INVALID-WEBHOOK");
  for (int i = 0; i < 8; ++i) {
    BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_n" + std::to_string(i), "http://n/", {})) ==
               "OK");
  }
  BOOST_TEST(Outcome(BuildWebhookCreated(A(), "wh_z", "http://z/", {})) == "TOO-MANY-WEBHOOKS");
  const std::vector<WebhookState> live = Webhooks();
  BOOST_REQUIRE_EQUAL(live.size(), 10u);
  BOOST_TEST(live[0].webhook_id == "wh_a");
  BOOST_TEST(live[0].events == kEventResolved);
  BOOST_TEST(live[1].webhook_id == "wh_b");
  BOOST_TEST(live[1].events == kAllEvents);
  BOOST_TEST(History(kAcct)[0].op == "WebhookCreated");
  Reopen();
  BOOST_TEST((Webhooks() == live));
  BOOST_TEST(Outcome(BuildWebhookDeleted(A(), "wh_q")) == "NO-SUCH-WEBHOOK");
  BOOST_TEST(Outcome(BuildWebhookDeleted(A(), "wh_b")) == "OK");
  Reopen();
  BOOST_TEST(Webhooks().size() == 9u);
}

BOOST_FIXTURE_TEST_CASE(deliveries_move_on_and_leave_the_outbox, Fixture) {
  BOOST_REQUIRE(Outcome(BuildWebhookCreated(A(), "wh_all", "http://a/", {})) == "OK");
  BOOST_REQUIRE(Outcome(BuildWebhookCreated(A(), "wh_res", "http://r/",
                                            {"threshold.resolved"})) == "OK");
  const TimeUs t = 1'800'000'000'000'000;
  const Alert crossed = AlertAt(t, false, "alert_c");
  Enqueue(crossed);
  // wh_all's delivery and the topic's entry; wh_res wants resolved alerts only.
  std::vector<OutboxEntry> out = Outbox();
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  BOOST_TEST(out[0].webhook_id == "wh_all");
  BOOST_TEST(out[0].next_attempt_us == t);
  BOOST_TEST(out[1].webhook_id == "");
  BOOST_TEST(out[1].alert_id == "alert_c");
  BOOST_TEST(Delivery("wh_all", crossed).state() == "pending");

  WebhookAttempt a{.webhook_id = "wh_all", .alert_id = "alert_c", .alert_time_us = t,
                   .attempt = 1, .status = 500, .error = "HTTP-STATUS",
                   .next_attempt_us = t + 10'000'000};
  BOOST_TEST(Attempt(a, t + 1).ok());
  BOOST_TEST(Outbox()[0].next_attempt_us == t + 10'000'000);
  WebhookDelivery d = Delivery("wh_all", crossed);
  BOOST_TEST(d.attempts == 1u);
  BOOST_TEST(d.last_status == 500);
  BOOST_TEST(d.last_attempt_us == t + 1);
  BOOST_TEST(d.state() == "pending");
  a = {.webhook_id = "wh_all", .alert_id = "alert_c", .alert_time_us = t, .attempt = 2,
       .status = 204, .delivered = true};
  BOOST_TEST(Attempt(a, t + 10'000'001).ok());
  BOOST_TEST(Delivery("wh_all", crossed).state() == "delivered");
  BOOST_TEST(Outbox().size() == 1u);  // the topic's

  // Given up: failed, out of the outbox.
  const Alert resolved = AlertAt(t + 5, true, "alert_r");
  Enqueue(resolved);
  BOOST_TEST(Outbox().size() == 4u);
  a = {.webhook_id = "wh_res", .alert_id = "alert_r", .alert_time_us = t + 5, .attempt = 1,
       .error = "HTTP-ERROR"};
  BOOST_TEST(Attempt(a, t + 6).ok());
  BOOST_TEST(Delivery("wh_res", resolved).state() == "failed");
  BOOST_TEST(Delivery("wh_res", resolved).last_error == "HTTP-ERROR");
  // An attempt for a webhook the account lacks changes nothing.
  a.webhook_id = "wh_gone";
  BOOST_TEST(CodeName(Attempt(a, t + 7)) == "NO-SUCH-WEBHOOK");

  // The delivery log, newest first, paged and filtered.
  auto page = ReadDeliveries(store->db(), store->cfs()[Cf::kWebhooks], kAcct, "wh_all", "", 1, "");
  BOOST_REQUIRE(page.has_value());
  BOOST_REQUIRE_EQUAL(page.value().deliveries.size(), 1u);
  BOOST_TEST(page.value().deliveries[0].alert_id == "alert_r");
  auto next = ReadDeliveries(store->db(), store->cfs()[Cf::kWebhooks], kAcct, "wh_all", "", 1,
                             page.value().next_cursor);
  BOOST_REQUIRE(next.has_value());
  BOOST_TEST(next.value().deliveries[0].alert_id == "alert_c");
  BOOST_TEST(next.value().next_cursor.empty());
  auto done = ReadDeliveries(store->db(), store->cfs()[Cf::kWebhooks], kAcct, "wh_all",
                             "delivered", 10, "");
  BOOST_TEST(done.value().deliveries.size() == 1u);
  BOOST_TEST(!ReadDeliveries(store->db(), store->cfs()[Cf::kWebhooks], kAcct, "wh_all", "", 1,
                             "zz")
                  .has_value());

  // Published: the topic's entries go.
  rocksdb::WriteBatch batch;
  const std::string bytes = BuildAlertsPublished(As(fb::ActorKind::System, kAcct),
                                                 {{"alert_c", t}, {"alert_r", t + 5}});
  const fb::Envelope* env =
      VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ApplyPublished(&batch, store->cfs()[Cf::kOutbox], kAcct, *env->op_as_AlertsPublished());
  BOOST_REQUIRE(store->Write(&batch).ok());
  out = Outbox();
  BOOST_REQUIRE_EQUAL(out.size(), 1u);  // wh_all's pending delivery of alert_r
  BOOST_TEST(out[0].webhook_id == "wh_all");

  // Deleted: its log and its queue go with it.
  BOOST_REQUIRE(Outcome(BuildWebhookDeleted(A(), "wh_all")) == "OK");
  BOOST_TEST(Outbox().empty());
  auto gone = ReadDeliveries(store->db(), store->cfs()[Cf::kWebhooks], kAcct, "wh_all", "", 10, "");
  BOOST_TEST(gone.value().deliveries.empty());
}

BOOST_AUTO_TEST_CASE(events_parse_and_name) {
  BOOST_TEST(ParseWebhookEvents({}).value() == kAllEvents);
  BOOST_TEST(ParseWebhookEvents({"threshold.crossed"}).value() == kEventCrossed);
  BOOST_TEST(!ParseWebhookEvents({"threshold.crossed", "nope"}).has_value());
  BOOST_TEST(WebhookEventNames(kAllEvents).size() == 2u);
}
