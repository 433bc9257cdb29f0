// A storage fault (RocksDB writes failing, injected through a FileSystemWrapper) stops the
// projector from advancing, shows on readiness, and heals when the fault clears, with no
// partial batch visible: the final state equals a clean replay.
#define BOOST_TEST_MODULE storage_fault
#include <boost/test/unit_test.hpp>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <thread>

#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"
#include "schemas/envelope.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;
using namespace std::chrono_literals;

namespace {

// Every write of every file fails while `fail` is set, as on a full disk.
class FaultyFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* fail)
      : FSWritableFileOwnerWrapper(std::move(file)), fail_(fail) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (*fail_) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return target()->Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    if (*fail_) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return target()->Append(data, o, v, d);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (*fail_) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return target()->Sync(o, d);
  }

 private:
  const std::atomic<bool>* fail_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem(const std::atomic<bool>* fail)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), fail_(fail) {}
  const char* Name() const override { return "FaultyFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* d) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, d);
    if (s.ok()) *result = std::make_unique<FaultyFile>(std::move(*result), fail_);
    return s;
  }

 private:
  const std::atomic<bool>* fail_;
};

std::map<int32_t, int64_t> Produce(const std::string& topic, const std::vector<LogMessage>& log) {
  auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
  std::map<int32_t, int64_t> counts;
  for (const LogMessage& m : log) {
    const fb::Envelope* env = VerifyEnvelope(
        std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()));
    if (env == nullptr) continue;  // keep it simple: only decodable messages here
    const std::string account = env->account_id()->str();
    BOOST_REQUIRE(producer->Produce(topic, account, std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()), m.log_time_us / 1000).ok());
    ++counts[KafkaPartitionFor(account, 4)];
  }
  BOOST_REQUIRE(producer->Flush(30s).ok());
  return counts;
}

int64_t Applied(Pipeline& p) {
  int64_t n = 0;
  for (const auto& [part, r] : p.projector().Partitions()) n += r.next_offset;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_write_fault_stops_the_projector_and_it_heals) {
  const std::string topic = "keymeter.test.fault." + RandomHex();
  BOOST_REQUIRE(CreateTopic(topic, 4).ok());
  Workload w = MakeWorkload(5, 20, 2000, [](const std::string& a) { return KafkaPartitionFor(a, 4); });
  const size_t half = w.log.size() / 2;
  std::vector<LogMessage> first(w.log.begin(), w.log.begin() + half);
  std::vector<LogMessage> second(w.log.begin() + half, w.log.end());

  std::atomic<bool> fail{false};
  auto fs = std::make_shared<FaultyFileSystem>(&fail);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  TempDir tmp;
  PipelineOptions options{.data_dir = tmp.sub("live"), .brokers = Brokers(), .topic = topic,
                          .group = "fault-" + RandomHex(), .dlq_topic = topic + ".dlq"};
  options.store.env = env.get();
  auto pipeline = std::move(Pipeline::Open(options).value());
  pipeline->Start();

  std::map<int32_t, int64_t> end = Produce(topic, first);
  int64_t total = 0;
  for (const auto& [p, n] : end) total += n;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       Applied(*pipeline) < total && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  BOOST_REQUIRE(Applied(*pipeline) == total);

  fail = true;
  for (const auto& [p, n] : Produce(topic, second)) end[p] += n, total += n;
  std::this_thread::sleep_for(2s);
  const int64_t stuck = Applied(*pipeline);
  auto [ready, reason] = pipeline->Readiness();
  BOOST_TEST(!ready);
  BOOST_TEST_MESSAGE("while failing: " << reason);
  BOOST_TEST(reason.find("IO") != std::string::npos);
  std::this_thread::sleep_for(1s);
  BOOST_TEST(Applied(*pipeline) == stuck);  // offsets do not advance while writes fail
  BOOST_TEST(stuck < total);

  fail = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       Applied(*pipeline) < total && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  BOOST_REQUIRE(Applied(*pipeline) == total);
  pipeline->Stop();
  const std::string live = pipeline->store().Checksum().value();
  pipeline.reset();

  auto replay = std::move(Pipeline::Open({.data_dir = tmp.sub("replay"), .brokers = Brokers(),
                                          .topic = topic, .group = "replay-" + RandomHex(),
                                          .dlq_topic = topic + ".dlq"})
                              .value());
  replay->Start();
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       Applied(*replay) < total && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  replay->Stop();
  BOOST_TEST(replay->store().Checksum().value() == live);
}
