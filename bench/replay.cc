// replay: events per second of `keymeter replay` rebuilding a fresh store from a Kafka topic,
// against the bare librdkafka consumer of bench_ingest reading the same topic and discarding,
// measured in the same run on the same machine.
//
//   bench_replay [--quick] [--topic T --messages N] [--events N] [--keymeter PATH]
//
// With --topic (bench/run passes the ingest bench's: loadgen's workload, 10,000 accounts,
// 100,000 keys, 10M request events, 4 partitions) the topic is replayed as is; without, one is
// produced first (--events request events of loadgen's workload; --quick 300,000 on 20,000
// keys). The figure is the replay process's wall time from spawn to exit (store creation,
// consumer-group join, every batch committed) and, apart, the rate the replay itself prints.
// Prints one JSON object.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "bench/bench_util.h"
#include "consumers/kafka_producer.h"

using namespace keymeter;
using namespace keymeter::bench;

int main(int argc, char** argv) {
  bool quick = false;
  std::string topic,
      keymeter = (std::filesystem::path(argv[0]).parent_path().parent_path() / "cli" / "keymeter")
                     .string();
  int64_t messages = 0, events = 10'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true, events = 300'000;
    else if (a == "--topic" && i + 1 < argc) topic = argv[++i];
    else if (a == "--messages" && i + 1 < argc) messages = std::atoll(argv[++i]);
    else if (a == "--events" && i + 1 < argc) events = std::atoll(argv[++i]);
    else if (a == "--keymeter" && i + 1 < argc) keymeter = argv[++i];
    else {
      return std::fprintf(stderr, "usage: bench_replay [--quick] [--topic T --messages N] "
                                  "[--events N] [--keymeter PATH]\n"), 2;
    }
  }
  if (!topic.empty() && messages <= 0) {
    return std::fprintf(stderr, "bench_replay: --topic needs --messages\n"), 2;
  }
  const std::string brokers = Brokers();
  const std::string suffix = RandomSuffix();
  int keys = 0;
  if (topic.empty()) {
    topic = "keymeter.bench.replay." + suffix;
    LoadgenOptions lo;
    if (quick) lo.accounts = 2'000, lo.keys = 20'000;
    keys = lo.keys;
    Loadgen gen(lo);
    auto producer = std::move(KafkaProducer::Create({.brokers = brokers}).value());
    auto produce = [&](const std::string& envelope, const std::string& account) {
      if (!producer->Produce(topic, account, std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size())).ok()) {
        std::fprintf(stderr, "bench_replay: produce failed\n");
        std::exit(1);
      }
      ++messages;
    };
    for (const auto& [envelope, account] : gen.SetupEnvelopes()) produce(envelope, account);
    for (int64_t i = 0; i < events; ++i) {
      auto [envelope, account] = gen.NextRequest();
      produce(envelope, account);
    }
    if (!producer->Flush(std::chrono::minutes(5)).ok()) return 1;
  }

  const double baseline_s = BareConsumerSeconds(brokers, topic, messages);

  const std::string dir =
      (std::filesystem::temp_directory_path() / ("keymeter-bench-replay-" + suffix)).string();
  const std::string command = keymeter + " replay --data-dir " + dir + " --brokers " + brokers +
                              " --topic " + topic + " 2>/dev/null";
  const auto start = Clock::now();
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return std::fprintf(stderr, "bench_replay: cannot run %s\n", keymeter.c_str()), 1;
  std::string summary;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, out) != nullptr) summary += buf;
  const int rc = pclose(out);
  const double replay_s = Seconds(start);
  std::error_code ec;
  uint64_t store_bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (f.is_regular_file(ec)) store_bytes += f.file_size(ec);
  }
  std::filesystem::remove_all(dir, ec);
  std::smatch m;
  if (rc != 0 || !std::regex_search(summary, m, std::regex(R"(replay done: (\d+) messages in ([0-9.]+) s \((\d+) messages/s\))"))) {
    return std::fprintf(stderr, "bench_replay: keymeter replay failed (%d): %s\n", rc, summary.c_str()), 1;
  }
  const int64_t replayed = std::atoll(m[1].str().c_str());
  const double replay_rate = double(replayed) / replay_s;
  const double baseline_rate = double(messages) / baseline_s;
  std::printf(
      "{\"bench\":\"replay\",\"quick\":%s,\"topic\":\"%s\",\"messages\":%lld,\"replayed\":%lld,"
      "\"keys\":%s,\"partitions\":4,\"keymeter_events_per_s\":%.0f,\"replay_seconds\":%.2f,"
      "\"replay_own_events_per_s\":%s,\"baseline\":\"bare librdkafka consumer, same topic\","
      "\"baseline_events_per_s\":%.0f,\"ratio\":%.3f,\"goal_ratio\":0.6,\"store_bytes\":%llu}\n",
      quick ? "true" : "false", topic.c_str(), (long long)messages, (long long)replayed,
      keys > 0 ? std::to_string(keys).c_str() : "null",
      replay_rate, replay_s, m[3].str().c_str(), baseline_rate, replay_rate / baseline_rate,
      (unsigned long long)store_bytes);
  return 0;
}
