// ingest: request events per second from Kafka through the projector into RocksDB, end to end
// (state committed), against a bare librdkafka consumer reading the same topic and discarding,
// measured in the same run on the same machine.
//
//   bench_ingest [--quick] [--events N] [--brokers H:P] [--rounds R] [--no-overlap]
//   (--no-overlap: each batch written before the next is applied; for before/after figures)
//
// Workload: loadgen's (10,000 accounts, 100,000 keys, a third children, Zipf popularity) on a
// fresh 4-partition topic. Rounds (3; --quick 1): the bare consumer, then keymeter from a fresh
// store, read the topic in turn; the round with the median ratio is reported and every round
// beside it, so that a neighbour's burst on this shared machine skews one round, not the figure.
// Prints one JSON object.
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "cli/loadgen_workload.h"
#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"

using namespace keymeter;
using bench::Clock;
using bench::Seconds;

namespace {

struct Args {
  bool quick = false;
  int64_t events = 10'000'000;
  std::string brokers = "127.0.0.1:19092";
  bool overlap = true;  // PipelineOptions' default, as keymeter serve runs
  int rounds = 3;
};

Args Parse(int argc, char** argv) {
  Args a;
  if (const char* b = std::getenv("KEYMETER_BROKERS")) a.brokers = b;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") a.quick = true, a.events = 300'000, a.rounds = 1;
    else if (arg == "--events" && i + 1 < argc) a.events = std::atoll(argv[++i]);
    else if (arg == "--brokers" && i + 1 < argc) a.brokers = argv[++i];
    else if (arg == "--rounds" && i + 1 < argc) a.rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--no-overlap") a.overlap = false;
    else {
      std::fprintf(stderr,
                   "usage: bench_ingest [--quick] [--events N] [--brokers H:P] [--rounds R] "
                   "[--no-overlap]\n");
      std::exit(2);
    }
  }
  return a;
}

// One round: the bare consumer, then keymeter from a fresh store, on the same topic.
struct Round {
  double baseline_rate = 0, baseline_cpu_us = 0;
  double keymeter_rate = 0, cpu_us = 0, cores_busy = 0, join_s = 0;
  int64_t first_batch = 0;
  ProjectorStats stats;
  double ratio() const { return keymeter_rate / baseline_rate; }
};

Round RunRound(const Args& args, const std::string& topic, int64_t total, int round) {
  Round r;
  const double baseline_cpu_start = bench::CpuSeconds();
  const double baseline_s = bench::BareConsumerSeconds(args.brokers, topic, total);
  r.baseline_cpu_us = 1e6 * (bench::CpuSeconds() - baseline_cpu_start) / double(total);
  r.baseline_rate = double(total) / baseline_s;

  const std::string group = "bench-" + topic + "-" + std::to_string(round);
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("keymeter-" + group)).string();
  std::filesystem::remove_all(dir);
  PipelineOptions options{.data_dir = dir, .brokers = args.brokers, .topic = topic,
                          .group = group, .dlq_topic = topic + ".dlq"};
  options.projector.overlap_commits = args.overlap;
  auto pipeline = std::move(Pipeline::Open(options).value());
  const auto start = Clock::now();
  pipeline->Start();
  auto applied = [&] {
    int64_t n = 0;
    for (const auto& [p, rec] : pipeline->projector().Partitions()) n += rec.next_offset;
    return n;
  };
  // The group join (a few seconds with a classic consumer group) is reported apart: the
  // baseline assigns partitions directly.
  // The rate counts only what was committed after the first commit (the first batch's work is
  // inside join_s), so it is neither inflated by a large first batch nor charged for the join.
  while ((r.first_batch = applied()) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  r.join_s = Seconds(start);
  const auto first = Clock::now();
  const double cpu_start = bench::CpuSeconds();
  while (applied() < total) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double ingest_s = Seconds(first);
  const double cpu_s = bench::CpuSeconds() - cpu_start;
  pipeline->Stop();
  r.stats = pipeline->projector().stats();
  pipeline.reset();
  std::filesystem::remove_all(dir);
  // A first batch that held everything: then only the whole time, join included, can be used.
  r.keymeter_rate = r.first_batch < total ? double(total - r.first_batch) / ingest_s
                                          : double(total) / r.join_s;
  r.cpu_us = 1e6 * cpu_s / double(std::max<int64_t>(total - r.first_batch, 1));
  r.cores_busy = cpu_s / ingest_s;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  std::random_device rd;
  const std::string topic = "keymeter.bench.ingest." + std::to_string(rd());
  LoadgenOptions lo;
  if (args.quick) lo.accounts = 2'000, lo.keys = 20'000;
  Loadgen gen(lo);

  auto producer = std::move(KafkaProducer::Create({.brokers = args.brokers}).value());
  int64_t total = 0;
  auto produce = [&](const std::string& envelope, const std::string& account) {
    Status s = producer->Produce(topic, account, std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()));
    if (!s.ok()) {
      std::fprintf(stderr, "produce: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    ++total;
  };
  for (const auto& [envelope, account] : gen.SetupEnvelopes()) produce(envelope, account);
  const auto produce_start = Clock::now();
  for (int64_t i = 0; i < args.events; ++i) {
    auto [envelope, account] = gen.NextRequest();
    produce(envelope, account);
  }
  if (!producer->Flush(std::chrono::minutes(5)).ok()) return 1;
  const double produce_s = Seconds(produce_start);

  std::vector<Round> rounds;
  for (int i = 0; i < args.rounds; ++i) rounds.push_back(RunRound(args, topic, total, i));
  std::string by_round;
  for (const Round& r : rounds) {
    char row[256];
    std::snprintf(row, sizeof(row),
                  "%s{\"keymeter_events_per_s\":%.0f,\"baseline_events_per_s\":%.0f,"
                  "\"ratio\":%.3f,\"cpu_us_per_event\":%.2f}",
                  by_round.empty() ? "" : ",", r.keymeter_rate, r.baseline_rate, r.ratio(),
                  r.cpu_us);
    by_round += row;
  }
  const Round& m = bench::MedianRound(rounds);
  const ProjectorStats& stats = m.stats;
  std::printf(
      "{\"bench\":\"ingest\",\"quick\":%s,\"topic\":\"%s\",\"events\":%lld,\"accounts\":%d,\"keys\":%d,"
      "\"partitions\":4,\"keymeter_events_per_s\":%.0f,\"baseline\":\"bare librdkafka consumer, "
      "same topic\",\"baseline_events_per_s\":%.0f,\"ratio\":%.3f,\"goal_ratio\":0.6,"
      "\"produce_events_per_s\":%.0f,\"group_join_s\":%.2f,\"first_batch_events\":%lld,\"batches\":%llu,\"dead_letters\":%zu,"
      "\"overlap_commits\":%s,\"cpu_us_per_event\":%.2f,\"cores_busy\":%.2f,\"baseline_cpu_us_per_event\":%.2f,"
      "\"projector_thread_s\":{\"poll\":%.2f,\"apply\":%.2f,\"write_wait\":%.2f},"
      "\"rounds\":%d,\"by_round\":[%s]}\n",
      args.quick ? "true" : "false", topic.c_str(), (long long)total, lo.accounts, lo.keys,
      m.keymeter_rate, m.baseline_rate, m.ratio(), double(args.events) / produce_s, m.join_s,
      (long long)m.first_batch, (unsigned long long)stats.batches, stats.dead_letters.size(),
      args.overlap ? "true" : "false", m.cpu_us, m.cores_busy, m.baseline_cpu_us,
      double(stats.poll_time.count()) / 1e6, double(stats.apply_time.count()) / 1e6,
      double(stats.write_wait_time.count()) / 1e6, args.rounds, by_round.c_str());
  return 0;
}
