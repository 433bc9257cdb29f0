#include "engine/authorize_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace keymeter {

AuthorizeProbe::AuthorizeProbe(Metrics& metrics, std::span<const Code> reasons)
    : decisions_(prometheus::BuildCounter()
                     .Name("keymeter_authorize_decisions_total")
                     .Help("authorize decisions, by reason (OK or the denial code).")
                     .Register(metrics.registry())) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001,
      0.00025,  0.0005,    0.001,    0.0025,  0.005,    0.01};
  latency_ = &prometheus::BuildHistogram()
                  .Name("keymeter_authorize_latency_seconds")
                  .Help("Time to decide one authorize from memory.")
                  .Register(metrics.registry())
                  .Add({}, kBuckets);
  other_ = &decisions_.Add({{"reason", "OTHER"}});
  by_reason_.fill(other_);
  for (Code reason : reasons) {
    by_reason_[size_t(reason)] = &decisions_.Add({{"reason", std::string(HttpName(reason))}});
  }
}

AuthorizeProbe::~AuthorizeProbe() = default;

void AuthorizeProbe::Decided(Code reason, std::chrono::nanoseconds latency) {
  (size_t(reason) < by_reason_.size() ? by_reason_[size_t(reason)] : other_)->Increment();
  latency_->Observe(std::chrono::duration<double>(latency).count());
}

}  // namespace keymeter
