// Helpers shared by the benchmark programs: clocks, the process's resident size, percentiles,
// the bare librdkafka consumer every Kafka benchmark is compared with, and a population of
// loadgen keys written straight into a store (through the embedded log and the projector, not
// one HTTP call per key).
//
// Thread safety: free functions; none keeps state.

#pragma once

#include <librdkafka/rdkafkacpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/loadgen_workload.h"
#include "engine/pipeline.h"
#include "schemas/clock.h"

namespace keymeter::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// CPU seconds (user + system) of the whole process so far, every thread.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

inline std::string Brokers() {
  const char* b = std::getenv("KEYMETER_BROKERS");
  return b != nullptr && *b != '\0' ? b : "127.0.0.1:19092";
}

inline std::string RandomSuffix() { return std::to_string(std::random_device{}()); }

// The p-quantile (0..1) of `v`, sorted in place; 0 for an empty vector.
template <class T>
double Percentile(std::vector<T>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return double(v[size_t(p * double(v.size() - 1))]);
}

// The round whose ratio is the median of `rounds` (the upper one of an even count): what a
// benchmark run in rounds reports. `R` has `double ratio() const`; `rounds` is not empty.
template <class R>
const R& MedianRound(const std::vector<R>& rounds) {
  std::vector<const R*> sorted;
  for (const R& r : rounds) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(),
            [](const R* a, const R* b) { return a->ratio() < b->ratio(); });
  return *sorted[sorted.size() / 2];
}

// A bare consumer: assigned every partition of `topic` from the beginning, reads until `total`
// messages arrived and discards them. Returns the seconds from assign() to the last message.
inline double BareConsumerSeconds(const std::string& brokers, const std::string& topic,
                                  int64_t total, int partitions = 4) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", "bench-baseline-" + topic + "-" + RandomSuffix(), err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < partitions; ++p) {
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  const auto start = Clock::now();
  consumer->assign(parts);
  int64_t seen = 0;
  while (seen < total) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() == RdKafka::ERR_NO_ERROR) ++seen;
  }
  const double s = Seconds(start);
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
  return s;
}

inline std::unique_ptr<Pipeline> OpenPipeline(const PipelineOptions& options) {
  auto opened = Pipeline::Open(options);
  if (!opened) {
    std::fprintf(stderr, "open %s: %s\n", options.data_dir.c_str(),
                 opened.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(opened.value());
}

// Publishes (envelope, account id) pairs in chunks; exits on an error.
inline void PublishAll(Pipeline& pipeline,
                       const std::vector<std::pair<std::string, std::string>>& envelopes) {
  for (size_t i = 0; i < envelopes.size(); i += 50'000) {
    const size_t n = std::min<size_t>(50'000, envelopes.size() - i);
    if (Status s = pipeline.PublishMany(std::span(envelopes).subspan(i, n)); !s.ok()) {
      std::fprintf(stderr, "publish: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
}

// Messages the projector applied and committed, over all partitions (offsets start at 0 on a
// fresh log or topic).
inline int64_t Applied(Pipeline& pipeline) {
  int64_t n = 0;
  for (const auto& [p, r] : pipeline.projector().Partitions()) n += r.next_offset;
  return n;
}

inline void WaitApplied(Pipeline& pipeline, int64_t messages) {
  while (Applied(pipeline) < messages) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// Applies `gen`'s setup envelopes (accounts and keys), then `extra`, to a fresh store in
// `options.data_dir` (embedded log unless options.brokers is set) and returns the pipeline,
// stopped, once all of them are committed. Returns the count of messages in the log.
inline std::unique_ptr<Pipeline> BuildPopulation(
    const PipelineOptions& options, const Loadgen& gen,
    const std::vector<std::pair<std::string, std::string>>& extra = {},
    int64_t* messages = nullptr) {
  std::unique_ptr<Pipeline> pipeline = OpenPipeline(options);
  std::vector<std::pair<std::string, std::string>> setup = gen.SetupEnvelopes();
  setup.insert(setup.end(), extra.begin(), extra.end());
  PublishAll(*pipeline, setup);
  pipeline->Start();
  WaitApplied(*pipeline, int64_t(setup.size()));
  pipeline->Stop();
  if (messages != nullptr) *messages = int64_t(setup.size());
  return pipeline;
}

}  // namespace keymeter::bench
