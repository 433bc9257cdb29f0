// AttemptLimiter: counts failed credential attempts (wrong admin token, operator token or member
// key) per client address, so that a token cannot be guessed by brute force.
//
// Contract:
// - A window opens at an address's first failure and lasts `window`. Once `max_failures`
//   failures are recorded in it, BlockedFor() is positive until the window ends: the API then
//   answers 429 TOO_MANY_ATTEMPTS to every credential from that address, right or wrong, so a
//   guess that happens to be right teaches nothing. `max_failures` = 0 disables the limit.
// - Memory is bounded: at most `max_addresses` addresses are tracked. Recording a failure for a
//   new address when full first drops every expired window, then the window that opened first.
// - Successes are not recorded; time is passed in (steady clock) so tests need no sleeping.
//
// Thread safety: thread-safe (one mutex; each call is O(1) except the sweep when full, O(n)).

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"

namespace keymeter {

class AttemptLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    uint32_t max_failures = 10;  // per address and window; 0 = no limit
    std::chrono::seconds window{60};
    size_t max_addresses = 10'000;
  };

  explicit AttemptLimiter(Options options) : options_(options) {}
  AttemptLimiter(const AttemptLimiter&) = delete;
  AttemptLimiter& operator=(const AttemptLimiter&) = delete;

  // Whole seconds (at least 1) until `address` may present a credential again; 0 when it may
  // now.
  int64_t BlockedFor(std::string_view address, Clock::time_point now) const;

  // One failed attempt from `address` at `now`.
  void RecordFailure(std::string_view address, Clock::time_point now);

  // Addresses currently tracked (expired windows included until swept).
  size_t tracked() const;

 private:
  struct Window {
    Clock::time_point start;
    uint32_t failures = 0;
  };
  void MakeRoom(Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keymeter
