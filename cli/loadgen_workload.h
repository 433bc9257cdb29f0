// Loadgen: realistic gateway traffic for benchmarks, the demo and `keymeter loadgen`.
//
// A population of accounts, each with root keys and children (team members), key popularity
// following a Zipf law (a few keys make most requests), a product mix and a status mix. It
// yields the lifecycle envelopes that create the population, then request events, all as the
// log would carry them (FlatBuffers envelopes keyed by account id).
//
// Deterministic for a seed; secrets are derived from the seed (benchmarks only: real keys come
// from secrets.h).
//
// Thread safety: not thread-safe.

#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "schemas/ids.h"

namespace keymeter {

struct LoadgenOptions {
  int accounts = 10'000;
  int keys = 100'000;            // in all; a third of them children by default
  double child_fraction = 1.0 / 3;
  double zipf_s = 1.1;           // popularity skew
  uint64_t seed = 42;
  TimeUs start_us = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z
  TimeUs step_us = 10;           // event time advances this much per request
  double error_rate = 0.05;      // share of 4xx/5xx statuses
};

struct LoadgenKey {
  std::string id;       // 8 characters
  std::string key;      // the full 24-character key
  std::string account;  // account id
  std::string parent;   // empty for a root
};

class Loadgen {
 public:
  explicit Loadgen(const LoadgenOptions& options);

  const std::vector<LoadgenKey>& keys() const { return keys_; }
  const std::vector<std::string>& accounts() const { return accounts_; }

  // The envelopes that create every account and key (roots before their children), with the
  // account id each is keyed by.
  std::vector<std::pair<std::string, std::string>> SetupEnvelopes() const;

  // The next request event: a Zipf-popular key, its account id; advances event time.
  std::pair<std::string, std::string> NextRequest();
  // The index into keys() of a Zipf-popular key.
  size_t PickKey();
  TimeUs now() const { return now_; }

 private:
  LoadgenOptions options_;
  std::vector<std::string> accounts_;
  std::vector<LoadgenKey> keys_;
  std::vector<double> zipf_cdf_;      // by popularity rank
  std::vector<size_t> rank_to_key_;   // popularity rank -> index into keys_
  std::mt19937_64 rng_;
  TimeUs now_;
  uint64_t sequence_ = 0;
};

}  // namespace keymeter
