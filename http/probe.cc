#include "http/probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace keymeter::http {

HttpProbe::HttpProbe(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("keymeter_http_requests_total")
                    .Help("HTTP responses sent, by route pattern and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("keymeter_http_request_duration_seconds")
                    .Help("Time from a complete HTTP request to its response being ready.")
                    .Register(registry)) {}

HttpProbe::~HttpProbe() = default;

void HttpProbe::RequestServed(std::string_view route, int status,
                              std::chrono::nanoseconds latency) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5};
  if (route.empty()) route = "unmatched";
  const double seconds = std::chrono::duration<double>(latency).count();
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* histogram = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = routes_.find(absl::string_view(route.data(), route.size()));
    if (it == routes_.end()) {
      RouteMetrics fresh;
      fresh.duration = &duration_.Add({{"route", std::string(route)}}, kBuckets);
      it = routes_.emplace(std::string(route), std::move(fresh)).first;
    }
    RouteMetrics& m = it->second;
    histogram = m.duration;
    auto c = m.by_status.find(status);
    if (c == m.by_status.end()) {
      c = m.by_status
              .emplace(status, &requests_.Add({{"route", std::string(route)},
                                               {"status", std::to_string(status)}}))
              .first;
    }
    counter = c->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

}  // namespace keymeter::http
