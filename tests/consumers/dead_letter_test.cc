// Dead letters: encode/decode, payload truncation, key order, the embedded sink writing into a
// WriteBatch for column family "dlq", and the Kafka sink's Add() never waiting for a flush.
#define BOOST_TEST_MODULE dead_letter_test
#include "consumers/dead_letter.h"

#include <rocksdb/write_batch.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "consumers/kafka_producer.h"
#include "tests/consumers/envelope_fixture.h"
#include "tests/consumers/log_db_fixture.h"

namespace keymeter {
namespace {

using testing::Bytes;
using testing::ErrorText;

BOOST_AUTO_TEST_CASE(encode_decode_roundtrip) {
  const std::string payload = "\x01\x02not an envelope\xff";
  DeadLetter d =
      DeadLetter::Make("UNDECODABLE", "not a verifiable KMEV envelope", "kafka/keymeter.events", 3,
                       12345, 1'790'000'000'000'000, Bytes(payload));
  const std::string bytes = EncodeDeadLetter(d);
  auto back = DecodeDeadLetter(Bytes(bytes));
  BOOST_REQUIRE_MESSAGE(back, ErrorText(back));
  BOOST_CHECK_EQUAL(back.value().reason, "UNDECODABLE");
  BOOST_CHECK_EQUAL(back.value().detail, d.detail);
  BOOST_CHECK_EQUAL(back.value().source, "kafka/keymeter.events");
  BOOST_CHECK_EQUAL(back.value().partition, 3);
  BOOST_CHECK_EQUAL(back.value().offset, 12345);
  BOOST_CHECK_EQUAL(back.value().time_us, 1'790'000'000'000'000);
  BOOST_CHECK(back.value().payload == std::vector<uint8_t>(payload.begin(), payload.end()));
}

BOOST_AUTO_TEST_CASE(payload_is_cut_to_64_kib) {
  const std::string big(200'000, 'x');
  DeadLetter d = DeadLetter::Make("OVERSIZED", "200000 bytes", "embedded", 0, 1, 0, Bytes(big));
  BOOST_CHECK_EQUAL(d.payload.size(), kDeadLetterPayloadLimit);
  BOOST_CHECK_EQUAL(d.detail, "200000 bytes (payload 200000 bytes, first 65536 kept)");
  auto back = DecodeDeadLetter(Bytes(EncodeDeadLetter(d)));
  BOOST_REQUIRE(back);
  BOOST_CHECK_EQUAL(back.value().payload.size(), kDeadLetterPayloadLimit);
  BOOST_CHECK_EQUAL(back.value().detail, d.detail);
  // A payload filled in by hand is cut when encoded.
  DeadLetter by_hand;
  by_hand.reason = "UNDECODABLE";
  by_hand.payload.assign(100'000, 1);
  auto cut = DecodeDeadLetter(Bytes(EncodeDeadLetter(by_hand)));
  BOOST_REQUIRE(cut);
  BOOST_CHECK_EQUAL(cut.value().payload.size(), kDeadLetterPayloadLimit);
  BOOST_CHECK_EQUAL(cut.value().detail, " (payload 100000 bytes, first 65536 kept)");
}

BOOST_AUTO_TEST_CASE(garbage_does_not_decode) {
  BOOST_CHECK_EQUAL(DecodeDeadLetter({}).error().name(), "UNDECODABLE");
  const std::string junk = "definitely not a flatbuffer, definitely not";
  BOOST_CHECK(!DecodeDeadLetter(Bytes(junk)));
  const std::string good = EncodeDeadLetter(DeadLetter::Make("X", "", "file", 0, 0, 0, {}));
  for (size_t n = 0; n < good.size(); ++n) {
    if (DecodeDeadLetter(Bytes(good.substr(0, n)))) BOOST_FAIL("truncated to " << n);
  }
}

BOOST_AUTO_TEST_CASE(keys_sort_by_time_partition_offset) {
  const std::string a = DeadLetterKey(100, 2, 7);
  BOOST_CHECK_EQUAL(a.size(), 20u);
  BOOST_CHECK_LT(a, DeadLetterKey(100, 2, 8));
  BOOST_CHECK_LT(a, DeadLetterKey(100, 3, 0));
  BOOST_CHECK_LT(a, DeadLetterKey(101, 0, 0));
  BOOST_CHECK_LT(DeadLetterKey(255, 0, 0), DeadLetterKey(256, 0, 0));
  BOOST_CHECK(DeadLetterKey(-5, 0, 0) == DeadLetterKey(0, 0, 0));
}

BOOST_AUTO_TEST_CASE(embedded_sink_moves_into_batch) {
  testing::LogDb db;
  EmbeddedDeadLetterSink sink;
  const std::string payload = "payload";
  sink.Add(DeadLetter::Make("UNDECODABLE", "", "embedded", 1, 9, 300, Bytes(payload)));
  sink.Add(DeadLetter::Make("MISSING-FIELD", "key_id", "embedded", 0, 4, 100, Bytes(payload)));
  sink.Add(DeadLetter::Make("UNDECODABLE", "", "embedded", 2, 1, 200, Bytes(payload)));
  BOOST_CHECK_EQUAL(sink.buffered(), 3u);
  BOOST_CHECK(sink.Flush().ok());
  const std::map<std::string, uint64_t> expected = {{"MISSING-FIELD", 1}, {"UNDECODABLE", 2}};
  BOOST_CHECK(sink.CountsByReason() == expected);

  rocksdb::WriteBatch batch;
  sink.MoveInto(&batch, db.dlq());
  BOOST_CHECK_EQUAL(sink.buffered(), 0u);
  BOOST_CHECK_EQUAL(batch.Count(), 3u);
  BOOST_REQUIRE(db.db()->Write(rocksdb::WriteOptions(), &batch).ok());

  std::vector<DeadLetter> stored;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.dlq()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto d = DecodeDeadLetter(
        {reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()});
    BOOST_REQUIRE(d);
    BOOST_CHECK(it->key().ToString() ==
                DeadLetterKey(d.value().time_us, d.value().partition, d.value().offset));
    stored.push_back(std::move(d).value());
  }
  BOOST_REQUIRE_EQUAL(stored.size(), 3u);
  BOOST_CHECK_EQUAL(stored[0].time_us, 100);  // log-time order
  BOOST_CHECK_EQUAL(stored[0].detail, "key_id");
  BOOST_CHECK_EQUAL(stored[1].time_us, 200);
  BOOST_CHECK_EQUAL(stored[2].time_us, 300);

  rocksdb::WriteBatch direct;
  BOOST_CHECK(PutDeadLetter(&direct, db.dlq(), stored[0]).ok());
  BOOST_CHECK_EQUAL(direct.Count(), 1u);
}

// Add() never waits for a Flush() in progress nor calls Kafka: the projector calls it under the
// state lock that authorize takes, while a flush may wait for the broker up to its timeout.
BOOST_AUTO_TEST_CASE(adding_never_waits_for_a_flush_in_progress) {
  KafkaProducerOptions options;
  options.brokers = "127.0.0.1:1";  // nothing listens: the flush waits its whole timeout
  auto producer = KafkaProducer::Create(options);
  BOOST_REQUIRE_MESSAGE(producer, ErrorText(producer));
  KafkaDeadLetterSink sink(std::move(producer).value(), "keymeter.dlq", std::chrono::seconds(3));
  sink.Add(DeadLetter::Make("UNDECODABLE", "first", "kafka/x", 0, 1, 0, {}));
  BOOST_TEST(sink.buffered_bytes() > 0u);
  std::atomic<bool> flushed{false};
  Status result;
  std::thread flusher([&] {
    result = sink.Flush();
    flushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_REQUIRE(!flushed);  // still waiting for the broker
  BOOST_TEST(sink.buffered_bytes() == 0u);  // the flush took what was buffered
  sink.Add(DeadLetter::Make("UNDECODABLE", "second", "kafka/x", 0, 2, 0, {}));
  BOOST_TEST(!flushed);  // Add returned while the flush still waits
  BOOST_TEST(sink.buffered_bytes() > 0u);
  flusher.join();
  BOOST_TEST(result.name() == "KAFKA-TIMEOUT");
}

}  // namespace
}  // namespace keymeter
