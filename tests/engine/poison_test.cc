// Poison input on a real broker: 10,000 malformed messages interleaved with a valid stream —
// random bytes, truncated FlatBuffers, oversized FlatBuffers (over the 1 MiB envelope limit),
// 10 MB messages, JSON garbage, and schema-valid but semantically wrong events (missing fields,
// unknown keys, other accounts' keys, far-future times). Each lands in the DLQ topic once, with
// its reason (counted by reason against what the test put in); every valid message applies,
// and the state equals the reference. Extends kafka_pipeline_test (the workload's own poison)
// with the kinds it lacks; decode_test covers the same inputs without a broker.
//
// The broker of scripts/kafka accepts messages up to 16 MiB (message.max.bytes); the test's
// producer raises its own message.max.bytes to match.
#define BOOST_TEST_MODULE poison
#include <boost/test/unit_test.hpp>

#include <random>
#include <set>
#include <thread>

#include "consumers/decode.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/recovery_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kPartitions = 4;
constexpr int kPoison = 10'000;
constexpr size_t kTenMegabytes = 10'000'000;

struct Poison {
  std::string payload;
  std::string reason;  // the DLQ reason it must get
};

// One malformed message for an account of the workload (`account`, its key `key`, a key of
// another account `foreign` or empty), at log time `t`.
Poison MakePoison(std::mt19937_64& rng, const std::string& account, const std::string& key,
                  const std::string& foreign, TimeUs t, int i) {
  RequestFields r;
  for (auto& b : r.request_id) b = uint8_t(rng());
  r.key_id = key;
  r.account_id = account;
  r.time_us = t;
  r.product = "dns";
  const EnvelopeHeader h{.command_id = "poison" + std::to_string(i), .time_us = t,
                         .actor = fb::ActorKind::AccountAdmin, .account_id = account};
  switch (i % 12) {
    case 0:
    case 1: {  // random bytes
      std::string junk(1 + rng() % 400, '\0');
      for (char& c : junk) c = char(rng());
      return {junk, "UNDECODABLE"};
    }
    case 2: {  // a FlatBuffer cut short (never to nothing: that is another case)
      std::string e = BuildRequestEvent(r);
      e.resize(1 + rng() % (e.size() / 2));
      return {e, "UNDECODABLE"};
    }
    case 3:  // JSON, as a confused producer would send it
      return {R"({"request_id":"0f8e1f0e0a9b4c3d8e7f6a5b4c3d2e1f","key_id":")" + key +
                  R"(","time":"2026-04-01T00:00:00Z","units":1})",
              "UNDECODABLE"};
    case 4: {  // JSON garbage
      static const char* kGarbage[] = {"{", "[1,2,", "null", "\"KMEV\"", "{\"op\":}", "   "};
      return {kGarbage[rng() % 6], "UNDECODABLE"};
    }
    case 5:  // an empty message
      return {"", "UNDECODABLE"};
    case 6: {
      if (i % 120 == 6) {  // a valid FlatBuffer over the 1 MiB envelope limit (~80 of them)
        r.product.assign(kMaxEnvelopeBytes + rng() % 1000, 'p');
        return {BuildRequestEvent(r), "OVERSIZED"};
      }
      // A FlatBuffer with its last bytes missing. Cutting only alignment padding leaves a valid
      // buffer, so cut until flatbuffers::Verifier (not keymeter's decoder) refuses it.
      std::string e = BuildRequestEvent(r);
      do {
        e.resize(e.size() - 1 - rng() % 8);
      } while (VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(e.data()), e.size())) !=
               nullptr);
      return {e, "UNDECODABLE"};
    }
    case 7:  // schema-valid, but no key
      r.key_id.clear();
      return {BuildRequestEvent(r), "MISSING-FIELD"};
    case 8:
      if (rng() % 2 == 0) {  // no time
        r.time_us = 0;
        return {BuildRequestEvent(r), "MISSING-FIELD"};
      }
      return {BuildStatusOp(h, fb::Op::KeySuspended, ""), "MISSING-FIELD"};
    case 9:  // a key that does not exist
      r.key_id = "Unkn" + std::to_string(1000 + rng() % 9000);
      return {BuildRequestEvent(r), "UNKNOWN-KEY"};
    case 10:  // a day ahead of the log
      r.time_us = t + kMicrosPerDay;
      return {BuildRequestEvent(r), "FUTURE-TIMESTAMP"};
    default:  // another account's key
      if (foreign.empty()) return {"", "UNDECODABLE"};
      r.key_id = foreign;
      return {BuildRequestEvent(r), "ACCOUNT-MISMATCH"};
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(ten_thousand_malformed_messages_land_in_the_dlq_and_the_rest_applies) {
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.poison." + suffix;
  const std::string dlq = "keymeter.test.poison-dlq." + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  BOOST_REQUIRE(CreateTopic(dlq, 1).ok());
  Workload w = MakeWorkload(41, 40, 2500,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  const std::map<int32_t, std::string> key_of = PartitionKeys(w);
  // Per partition: an account on it and one of that account's keys (the workload's keys are
  // "K<seed>a<n>P..." for account "acct<seed>x<n>"), and a key of another account there.
  std::map<int32_t, std::pair<std::string, std::string>> own;
  std::map<int32_t, std::string> foreign;
  for (int a = 0; a < 40; ++a) {
    const std::string account = "acct41x" + std::to_string(a);
    std::string key = "K41a" + std::to_string(a) + "P";
    key.resize(8, 'z');
    const int32_t p = KafkaPartitionFor(account, kPartitions);
    if (!own.contains(p)) {
      own[p] = {account, key};
    } else if (!foreign.contains(p)) {
      foreign[p] = own[p].second;
      own[p] = {account, key};  // a later account: the first one's key is foreign to it
    }
  }

  std::map<std::string, uint64_t> expected = w.expected.dead_letters;
  auto producer_options = KafkaProducerOptions{.brokers = Brokers()};
  producer_options.extra = {{"message.max.bytes", "16777216"}};
  auto producer = std::move(KafkaProducer::Create(producer_options).value());
  std::map<int32_t, int64_t> end;
  auto produce = [&](int32_t partition, const std::string& payload, TimeUs t) {
    BOOST_REQUIRE(producer
                      ->Produce(topic, key_of.at(partition),
                                std::span(reinterpret_cast<const uint8_t*>(payload.data()),
                                          payload.size()),
                                t / 1000)
                      .ok());
    ++end[partition];
  };
  std::mt19937_64 rng(2026);
  const size_t first_poison = w.log.size() / 10;  // after every account and key exists
  const size_t every = (w.log.size() - first_poison) / kPoison;
  int poisoned = 0, huge = 0;
  for (size_t i = 0; i < w.log.size(); ++i) {
    const LogMessage& m = w.log[i];
    produce(m.partition, m.payload, m.log_time_us);
    if (i >= first_poison && (i - first_poison) % every == 0 && poisoned < kPoison) {
      const int32_t p = m.partition;
      Poison bad = MakePoison(rng, own.at(p).first, own.at(p).second,
                              foreign.contains(p) ? foreign.at(p) : "", m.log_time_us, poisoned);
      if (poisoned % 2000 == 1000) {  // five 10 MB messages, random bytes or a valid FlatBuffer
        bad.payload.resize(kTenMegabytes, char(rng()));
        bad.reason = "OVERSIZED";
        ++huge;
      }
      produce(p, bad.payload, m.log_time_us);
      ++expected[bad.reason];
      ++poisoned;
    }
  }
  BOOST_REQUIRE(producer->Flush(120s).ok());
  BOOST_REQUIRE_EQUAL(producer->delivery_failures(), 0u);
  BOOST_REQUIRE_EQUAL(poisoned, kPoison);
  BOOST_TEST_MESSAGE("produced " << Total(end) << " messages, " << poisoned << " malformed ("
                                 << huge << " of 10 MB)");

  TempDir tmp;
  auto pipeline = std::move(Pipeline::Open({.data_dir = tmp.sub("db"), .brokers = Brokers(),
                                            .topic = topic, .group = "poison-" + suffix,
                                            .dlq_topic = dlq})
                                .value());
  pipeline->Start();
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       !CaughtUp(OffsetsOf(pipeline->projector()), end) &&
       std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(200ms);
  }
  pipeline->Stop();
  BOOST_REQUIRE_MESSAGE(CaughtUp(OffsetsOf(pipeline->projector()), end),
                        "the projector did not reach the end of the topic");
  const ProjectorStats& stats = pipeline->projector().stats();
  BOOST_TEST(stats.requests_applied == w.expected.accepted);
  BOOST_TEST(stats.duplicates == w.expected.duplicates);
  BOOST_TEST(stats.dead_letters == expected);
  BOOST_TEST((AllUsage(pipeline->store()) == w.expected.usage));

  // The DLQ topic: each malformed message once, with its reason; payloads cut to 64 KiB.
  auto consumer = std::move(
      KafkaConsumer::Create({.brokers = Brokers(), .group_id = "d" + suffix, .topics = {dlq}})
          .value());
  std::map<std::string, uint64_t> reasons;
  std::set<std::pair<int32_t, int64_t>> positions;
  uint64_t expected_total = 0, oversized_detail_ok = 0;
  for (const auto& [r, n] : expected) expected_total += n;
  std::vector<KafkaMessage> batch;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       positions.size() < expected_total && std::chrono::steady_clock::now() < deadline;) {
    batch.clear();
    if (!consumer->Poll(batch, 10'000, 500ms)) continue;
    for (const KafkaMessage& m : batch) {
      Result<DeadLetter> d = DecodeDeadLetter(m.payload());
      BOOST_REQUIRE(d.has_value());
      ++reasons[d.value().reason];
      positions.insert({d.value().partition, d.value().offset});
      BOOST_TEST(d.value().payload.size() <= kDeadLetterPayloadLimit);
      if (d.value().reason == "OVERSIZED" && d.value().detail.find("limit 1048576") != std::string::npos) {
        ++oversized_detail_ok;
      }
    }
  }
  BOOST_TEST(positions.size() == expected_total);
  BOOST_TEST(reasons == expected);
  BOOST_TEST(oversized_detail_ok == expected["OVERSIZED"]);
  for (const auto& [reason, n] : reasons) BOOST_TEST_MESSAGE("DLQ " << reason << ": " << n);
}
