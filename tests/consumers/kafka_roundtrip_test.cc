// Integration test of KafkaProducer and KafkaConsumer against a real broker (scripts/kafka).
//
// Produces 100,000 envelopes (RequestEvents of 200 accounts, keyed by account id) with lz4 to a
// fresh topic, reads them back with a consumer group and checks that every one arrives
// byte-identical, that an account's messages share one partition (the one Java's partitioner
// picks), that offsets increase per partition and each account's sequence arrives in order.
// Then it reads the broker's log segments of that topic and checks that every record batch is
// lz4-compressed and idempotent. A log segment (<data dir>/<topic>-<partition>/*.log) is
//   segment    := batch*
//   batch      := base_offset: int64  batch_length: int32 (bytes after this field)
//                 partition_leader_epoch: int32  magic: int8 (= 2)  crc: uint32
//                 attributes: int16 (bits 0-2 codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)
//                 last_offset_delta: int32  base_timestamp: int64  max_timestamp: int64
//                 producer_id: int64  producer_epoch: int16  base_sequence: int32
//                 records_count: int32  records: byte[batch_length - 49]
// all big-endian.
//
// Environment: KEYMETER_BROKERS (default 127.0.0.1:19092) and KEYMETER_KAFKA_DATA_DIR, the
// broker's log.dirs (scripts/test exports it).

#define BOOST_TEST_MODULE kafka_roundtrip_test
#include <boost/test/unit_test.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "consumers/decode.h"
#include "consumers/kafka_consumer.h"
#include "consumers/kafka_producer.h"
#include "schemas/envelope.h"
#include "tests/consumers/kafka_fixture.h"

namespace keymeter {
namespace {

constexpr int kAccounts = 200;
constexpr int kPerAccount = 500;
constexpr int kMessages = kAccounts * kPerAccount;
constexpr int kLz4 = 3;

using testing::Brokers;
using testing::RandomHex;

std::string AccountId(int account) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "acct%012d", account);
  return buf;
}

// The envelope of the `seq`-th request of `account`; deterministic, so a reader can rebuild
// what was sent and compare bytes. The sequence number travels in command_id.
std::vector<uint8_t> MakeEnvelope(int account, int seq) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const std::string account_id = AccountId(account);
  std::array<uint8_t, 16> id_bytes{};
  std::memcpy(id_bytes.data(), &account, sizeof(account));
  std::memcpy(id_bytes.data() + 4, &seq, sizeof(seq));
  const fb::RequestId request_id(id_bytes);
  const int64_t time_us = 1'767'225'600'000'000 + int64_t{seq} * 1000 + account;
  auto op = fb::CreateRequestEventDirect(
      fbb, &request_id, "Ab3dEf7h", account_id.c_str(), time_us, "translate",
      /*units=*/1 + seq % 7, /*status=*/200, /*bytes_in=*/512, /*bytes_out=*/2048,
      /*latency_us=*/1500, "203.0.113.7", "gw-1");
  auto actor = fb::CreateActorDirect(fbb, fb::ActorKind::System);
  auto envelope =
      fb::CreateEnvelopeDirect(fbb, std::to_string(seq).c_str(), time_us, actor,
                               account_id.c_str(), fb::Op::RequestEvent, op.Union());
  fb::FinishEnvelopeBuffer(fbb, envelope);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

int ParseInt(std::string_view text) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return (ec == std::errc() && end == text.data() + text.size()) ? value : -1;
}

// Java's Utils.murmur2, which the Java producer's default partitioner applies to the key.
uint32_t JavaMurmur2(std::string_view key) {
  const uint32_t m = 0x5bd1e995;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const size_t length = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (uint32_t{data[i + 3]} << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3: h ^= data[tail + 2] << 16; [[fallthrough]];
    case 2: h ^= data[tail + 1] << 8; [[fallthrough]];
    case 1: h ^= data[tail]; h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

// Boost.Test builds an assertion's message even when it passes, so it must not read error()
// of a successful result.
template <class T>
std::string ErrorText(const Result<T>& result) {
  return result.has_error() ? result.error().ToString() : std::string();
}

uint64_t BigEndian(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | p[i];
  return value;
}

// What the first test case leaves for the on-disk check.
struct Produced {
  std::string topic;
  std::map<std::string, int32_t> account_partition;
  std::map<int32_t, int64_t> last_offset;  // per partition
};
Produced& SharedProduced() {
  static Produced produced;
  return produced;
}

BOOST_AUTO_TEST_SUITE(kafka_roundtrip)

BOOST_AUTO_TEST_CASE(produce_and_consume) {
  const std::string brokers = Brokers();
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.roundtrip." + suffix;
  BOOST_TEST_MESSAGE("brokers " << brokers << ", topic " << topic);

  KafkaProducerOptions producer_options;
  producer_options.brokers = brokers;
  auto producer = KafkaProducer::Create(producer_options);
  BOOST_REQUIRE_MESSAGE(producer, ErrorText(producer));
  KafkaProducer& writer = *producer.value();
  for (int seq = 0; seq < kPerAccount; ++seq) {
    for (int account = 0; account < kAccounts; ++account) {
      Status status = writer.Produce(topic, AccountId(account), MakeEnvelope(account, seq));
      if (!status.ok()) BOOST_FAIL("produce: " << status.ToString());
    }
  }
  Status flushed = writer.Flush(std::chrono::seconds(60));
  BOOST_REQUIRE_MESSAGE(flushed.ok(), flushed.ToString());
  BOOST_REQUIRE_EQUAL(writer.delivery_failures(), 0u);
  BOOST_REQUIRE_EQUAL(writer.delivered(), uint64_t{kMessages});

  KafkaConsumerOptions consumer_options;
  consumer_options.brokers = brokers;
  consumer_options.group_id = "keymeter.test.roundtrip." + suffix;
  consumer_options.topics = {topic};
  auto consumer = KafkaConsumer::Create(consumer_options);
  BOOST_REQUIRE_MESSAGE(consumer, ErrorText(consumer));

  std::map<std::string, int32_t> account_partition;
  std::map<int32_t, int64_t> last_offset;
  std::vector<int> next_seq(kAccounts, 0);
  int received = 0;
  std::vector<KafkaMessage> batch;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (received < kMessages && std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    auto polled = consumer.value()->Poll(batch, 10000, std::chrono::milliseconds(500));
    BOOST_REQUIRE_MESSAGE(polled, ErrorText(polled));
    for (const KafkaMessage& message : batch) {
      PayloadArena aligned;  // FlatBuffers reads in place; Kafka's payloads lie anywhere
      aligned.Add(message.payload());
      const fb::Envelope* envelope = VerifyEnvelope(aligned[0]);
      if (envelope == nullptr) BOOST_FAIL("offset " << message.offset() << ": not an envelope");
      const std::string key(message.key());
      const int account = key.starts_with("acct") ? ParseInt(key.substr(4)) : -1;
      const int seq = envelope->command_id() ? ParseInt(envelope->command_id()->string_view()) : -1;
      if (account < 0 || account >= kAccounts || seq < 0 || seq >= kPerAccount) {
        BOOST_FAIL("unexpected key " << key << " or sequence " << seq);
      }
      const std::vector<uint8_t> sent = MakeEnvelope(account, seq);
      if (!std::equal(sent.begin(), sent.end(), message.payload().begin(),
                      message.payload().end())) {
        BOOST_FAIL(key << " #" << seq << " arrived altered");
      }
      if (envelope->account_id()->string_view() != key) BOOST_FAIL(key << ": key mismatch");
      auto [where, added] = account_partition.emplace(key, message.partition());
      if (where->second != message.partition()) {
        BOOST_FAIL(key << " on partitions " << where->second << " and " << message.partition());
      }
      auto [last, first] = last_offset.emplace(message.partition(), message.offset());
      if (!first && message.offset() <= last->second) {
        BOOST_FAIL("partition " << message.partition() << ": offset " << message.offset()
                                << " after " << last->second);
      }
      last->second = message.offset();
      if (next_seq[account] != seq) {
        BOOST_FAIL(key << ": #" << seq << " arrived, #" << next_seq[account] << " expected");
      }
      ++next_seq[account];
      ++received;
    }
  }
  BOOST_REQUIRE_EQUAL(received, kMessages);
  batch.clear();
  auto extra = consumer.value()->Poll(batch, 10, std::chrono::milliseconds(500));
  BOOST_REQUIRE_MESSAGE(extra, ErrorText(extra));
  BOOST_CHECK_MESSAGE(extra.value() == 0, extra.value() << " messages more than were produced");
  Status closed = consumer.value()->Close();
  BOOST_CHECK_MESSAGE(closed.ok(), closed.ToString());

  BOOST_CHECK_EQUAL(account_partition.size(), size_t{kAccounts});
  BOOST_CHECK_GT(last_offset.size(), 1u);  // 200 keys spread over the partitions
  SharedProduced() = Produced{topic, std::move(account_partition), std::move(last_offset)};
}

BOOST_AUTO_TEST_CASE(batches_on_disk_are_lz4,
                     *boost::unit_test::depends_on("kafka_roundtrip/produce_and_consume")) {
  const char* data_dir = std::getenv("KEYMETER_KAFKA_DATA_DIR");
  BOOST_REQUIRE_MESSAGE(data_dir != nullptr && *data_dir != '\0',
                        "KEYMETER_KAFKA_DATA_DIR is not set: export the broker's log.dirs "
                        "(scripts/test does; by hand: ${TMPDIR:-/tmp}/keymeter-kafka-19092/data)");
  const Produced& produced = SharedProduced();
  namespace fs = std::filesystem;

  int partitions = 0;
  int64_t batches = 0;
  int64_t records = 0;
  uintmax_t bytes_on_disk = 0;
  for (const fs::directory_entry& dir : fs::directory_iterator(data_dir)) {
    const std::string name = dir.path().filename().string();
    if (!name.starts_with(produced.topic + "-") ||
        ParseInt(name.substr(produced.topic.size() + 1)) < 0) {
      continue;
    }
    ++partitions;
    for (const fs::directory_entry& file : fs::directory_iterator(dir.path())) {
      if (file.path().extension() != ".log") continue;
      std::ifstream in(file.path(), std::ios::binary);
      const std::vector<uint8_t> log{std::istreambuf_iterator<char>(in), {}};
      bytes_on_disk += log.size();
      size_t pos = 0;
      while (pos < log.size()) {
        BOOST_REQUIRE_MESSAGE(pos + 61 <= log.size(), file.path() << ": truncated batch header");
        const uint8_t* b = log.data() + pos;
        const auto length = static_cast<size_t>(BigEndian(b + 8, 4));
        BOOST_REQUIRE_MESSAGE(pos + 12 + length <= log.size(), file.path() << ": truncated batch");
        BOOST_REQUIRE_EQUAL(int{b[16]}, 2);  // magic
        const auto attributes = BigEndian(b + 21, 2);
        BOOST_CHECK_MESSAGE((attributes & 7) == kLz4, file.path() << " offset "
                                                                  << BigEndian(b, 8) << ": codec "
                                                                  << (attributes & 7));
        BOOST_CHECK_MESSAGE(static_cast<int64_t>(BigEndian(b + 43, 8)) >= 0,
                            "batch without producer id: not idempotent");
        records += static_cast<int32_t>(BigEndian(b + 57, 4));
        ++batches;
        pos += 12 + length;
      }
    }
  }
  BOOST_TEST_MESSAGE(partitions << " partitions, " << batches << " batches, " << records
                                << " records, " << bytes_on_disk << " bytes on disk");
  BOOST_REQUIRE_GT(partitions, 0);
  BOOST_CHECK_EQUAL(records, kMessages);
  BOOST_CHECK_GT(batches, 0);
  for (const auto& [account, partition] : produced.account_partition) {
    const auto java = static_cast<int32_t>((JavaMurmur2(account) & 0x7fffffff) % partitions);
    BOOST_CHECK_MESSAGE(partition == java, account << " on partition " << partition
                                                   << ", Java's partitioner says " << java);
  }
}

// A new group whose start_offset hook names an offset reads each partition from exactly there.
BOOST_AUTO_TEST_CASE(start_offset_hook_positions_partitions,
                     *boost::unit_test::depends_on("kafka_roundtrip/produce_and_consume")) {
  constexpr int64_t kTail = 10;
  const Produced& produced = SharedProduced();
  std::map<int32_t, int> asked;
  KafkaConsumerOptions options;
  options.brokers = Brokers();
  options.group_id = produced.topic + ".tail";
  options.topics = {produced.topic};
  options.start_offset = [&](std::string_view, int32_t partition) -> std::optional<int64_t> {
    ++asked[partition];
    auto last = produced.last_offset.find(partition);
    if (last == produced.last_offset.end()) return std::nullopt;
    return last->second + 1 - kTail;
  };
  auto consumer = KafkaConsumer::Create(options);
  BOOST_REQUIRE_MESSAGE(consumer, ErrorText(consumer));
  std::map<int32_t, std::vector<int64_t>> offsets;
  const size_t tail_messages = kTail * produced.last_offset.size();
  size_t received = 0;
  std::vector<KafkaMessage> batch;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Reads until the tails have arrived, then once more to catch anything beyond them.
  for (bool last_poll = false; !last_poll;) {
    last_poll = received >= tail_messages || std::chrono::steady_clock::now() >= deadline;
    batch.clear();
    auto polled = consumer.value()->Poll(batch, 1000, std::chrono::milliseconds(300));
    BOOST_REQUIRE_MESSAGE(polled, ErrorText(polled));
    for (const KafkaMessage& m : batch) offsets[m.partition()].push_back(m.offset());
    received += batch.size();
  }
  BOOST_CHECK(consumer.value()->Close().ok());
  BOOST_CHECK_EQUAL(asked.size(), produced.last_offset.size());
  for (const auto& [partition, last] : produced.last_offset) {
    std::vector<int64_t> expected;
    for (int64_t offset = last + 1 - kTail; offset <= last; ++offset) expected.push_back(offset);
    BOOST_CHECK_MESSAGE(offsets[partition] == expected, "partition " << partition);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace keymeter
