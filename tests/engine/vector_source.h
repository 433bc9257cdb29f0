// A Source over messages held in memory, partitions interleaved by a seeded shuffle, starting
// each partition at the projector's stored offset. For projector tests.
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "consumers/source.h"

namespace keymeter::testing {

struct LogMessage {
  int32_t partition = 0;
  std::string payload;
  TimeUs log_time_us = 0;
};

class VectorSource : public Source {
 public:
  // `log` lists each partition's messages in order; offsets are their index in the partition.
  VectorSource(const std::vector<LogMessage>& log, StoredOffsetFn stored, unsigned seed = 1)
      : rng_(seed) {
    for (const LogMessage& m : log) partitions_[m.partition].push_back(m);
    for (auto& [p, messages] : partitions_) next_[p] = stored(p).value_or(0);
  }

  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds) override {
    out->clear();
    while (out->size() < max && !AtEnd()) {
      // Pick a partition with messages left, at random: the interleaving differs by seed.
      std::vector<int32_t> open;
      for (auto& [p, messages] : partitions_) {
        if (next_[p] < int64_t(messages.size())) open.push_back(p);
      }
      const int32_t p = open[rng_() % open.size()];
      const LogMessage& m = partitions_[p][size_t(next_[p])];
      out->push_back(SourceMessage{
          .partition = p, .offset = next_[p],
          .payload = std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()),
          .log_time_us = m.log_time_us});
      ++next_[p];
    }
    return out->size();
  }

  bool AtEnd() const override {
    for (const auto& [p, messages] : partitions_) {
      if (next_.at(p) < int64_t(messages.size())) return false;
    }
    return true;
  }

  std::string name() const override { return "vector"; }

 private:
  std::mt19937 rng_;
  std::map<int32_t, std::vector<LogMessage>> partitions_;
  std::map<int32_t, int64_t> next_;
};

}  // namespace keymeter::testing
