// replay: events per second of `keymeter replay` rebuilding a fresh store from a Kafka topic,
// against the bare librdkafka consumer of bench_ingest reading the same topic and discarding,
// measured in the same run on the same machine.
//
//   bench_replay [--quick] [--topic T --messages N] [--events N] [--keymeter PATH] [--rounds R]
//
// With --topic (bench/run passes the ingest bench's: loadgen's workload, 10,000 accounts,
// 100,000 keys, 10M request events, 4 partitions) the topic is replayed as is; without, one is
// produced first (--events request events of loadgen's workload; --quick 300,000 on 20,000
// keys). The figure is the replay process's wall time from spawn to exit (store creation,
// consumer-group join, every batch committed) and, apart, the rate the replay itself prints.
// Rounds (3; --quick 1), as in bench_ingest: the bare consumer then the replay, in turn; the
// round with the median ratio is reported, every round beside it. Prints one JSON object.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "consumers/kafka_producer.h"

using namespace keymeter;
using namespace keymeter::bench;

namespace {

struct Round {
  double baseline_rate = 0, replay_rate = 0, replay_s = 0;
  int64_t replayed = 0;
  std::string own_rate;  // what the replay printed
  uint64_t store_bytes = 0;
  double ratio() const { return replay_rate / baseline_rate; }
};

// The bare consumer, then `keymeter replay` into a fresh dir; nullopt when the replay failed.
std::optional<Round> RunRound(const std::string& keymeter, const std::string& brokers,
                              const std::string& topic, int64_t messages,
                              const std::string& dir) {
  Round r;
  r.baseline_rate = double(messages) / BareConsumerSeconds(brokers, topic, messages);
  const std::string command = keymeter + " replay --data-dir " + dir + " --brokers " + brokers +
                              " --topic " + topic + " 2>/dev/null";
  const auto start = Clock::now();
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) {
    std::fprintf(stderr, "bench_replay: cannot run %s\n", keymeter.c_str());
    return std::nullopt;
  }
  std::string summary;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, out) != nullptr) summary += buf;
  const int rc = pclose(out);
  r.replay_s = Seconds(start);
  std::error_code ec;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (f.is_regular_file(ec)) r.store_bytes += f.file_size(ec);
  }
  std::filesystem::remove_all(dir, ec);
  std::smatch m;
  if (rc != 0 || !std::regex_search(summary, m, std::regex(R"(replay done: (\d+) messages in ([0-9.]+) s \((\d+) messages/s\))"))) {
    std::fprintf(stderr, "bench_replay: keymeter replay failed (%d): %s\n", rc, summary.c_str());
    return std::nullopt;
  }
  r.replayed = std::atoll(m[1].str().c_str());
  r.replay_rate = double(r.replayed) / r.replay_s;
  r.own_rate = m[3].str();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string topic,
      keymeter = (std::filesystem::path(argv[0]).parent_path().parent_path() / "cli" / "keymeter")
                     .string();
  int64_t messages = 0, events = 10'000'000;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true, events = 300'000, rounds = 1;
    else if (a == "--topic" && i + 1 < argc) topic = argv[++i];
    else if (a == "--messages" && i + 1 < argc) messages = std::atoll(argv[++i]);
    else if (a == "--events" && i + 1 < argc) events = std::atoll(argv[++i]);
    else if (a == "--keymeter" && i + 1 < argc) keymeter = argv[++i];
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else {
      return std::fprintf(stderr, "usage: bench_replay [--quick] [--topic T --messages N] "
                                  "[--events N] [--keymeter PATH] [--rounds R]\n"), 2;
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

  std::vector<Round> done;
  for (int i = 0; i < rounds; ++i) {
    const std::string dir = (std::filesystem::temp_directory_path() /
                             ("keymeter-bench-replay-" + suffix + "-" + std::to_string(i)))
                                .string();
    std::optional<Round> r = RunRound(keymeter, brokers, topic, messages, dir);
    if (!r) return 1;
    done.push_back(*r);
  }
  std::string by_round;
  for (const Round& r : done) {
    char row[200];
    std::snprintf(row, sizeof(row),
                  "%s{\"keymeter_events_per_s\":%.0f,\"baseline_events_per_s\":%.0f,\"ratio\":%.3f}",
                  by_round.empty() ? "" : ",", r.replay_rate, r.baseline_rate, r.ratio());
    by_round += row;
  }
  const Round& m = MedianRound(done);
  std::printf(
      "{\"bench\":\"replay\",\"quick\":%s,\"topic\":\"%s\",\"messages\":%lld,\"replayed\":%lld,"
      "\"keys\":%s,\"partitions\":4,\"keymeter_events_per_s\":%.0f,\"replay_seconds\":%.2f,"
      "\"replay_own_events_per_s\":%s,\"baseline\":\"bare librdkafka consumer, same topic\","
      "\"baseline_events_per_s\":%.0f,\"ratio\":%.3f,\"goal_ratio\":0.6,\"store_bytes\":%llu,"
      "\"rounds\":%d,\"by_round\":[%s]}\n",
      quick ? "true" : "false", topic.c_str(), (long long)messages, (long long)m.replayed,
      keys > 0 ? std::to_string(keys).c_str() : "null", m.replay_rate, m.replay_s,
      m.own_rate.c_str(), m.baseline_rate, m.ratio(), (unsigned long long)m.store_bytes, rounds,
      by_round.c_str());
  return 0;
}
