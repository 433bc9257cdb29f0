// AuthorizeProbe: the metrics of every `authorize` decision (engine/authorizer.h).
//
// Thread safety: Decided() is thread-safe and takes no lock. Must not outlive its Metrics.

#pragma once

#include <array>
#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "engine/metrics.h"
#include "schemas/status.h"

namespace prometheus {
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace keymeter {

// AuthorizeProbe reports every `authorize` decision (engine/authorizer.h):
//   keymeter_authorize_decisions_total{reason}   counter; reason "OK" or the denial code
//   keymeter_authorize_latency_seconds           histogram of the in-memory decision, 1 µs .. 10 ms
// The reasons are registered up front, so Decided() takes no lock; a reason not in the list
// given to the constructor is counted as "OTHER".
class AuthorizeProbe {
 public:
  AuthorizeProbe(Metrics& metrics, std::span<const Code> reasons);
  ~AuthorizeProbe();
  AuthorizeProbe(const AuthorizeProbe&) = delete;
  AuthorizeProbe& operator=(const AuthorizeProbe&) = delete;

  void Decided(Code reason, std::chrono::nanoseconds latency);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Counter* other_ = nullptr;
  // Read-only after construction: the counter of each code (`other_` for the codes not given).
  std::array<prometheus::Counter*, size_t(Code::kCount)> by_reason_{};
};

}  // namespace keymeter
