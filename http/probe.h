// HttpProbe: the metrics of every HTTP response, registered in a Prometheus registry.
//
//   keymeter_http_requests_total{route,status}          counter
//   keymeter_http_request_duration_seconds{route}       histogram, 50 µs .. 2.5 s
// `route` is the matched pattern ("/v1/keys/{id}"), never the raw path (bounded cardinality,
// and paths may carry keys); requests no route matched are labelled "unmatched".
//
// Thread safety: RequestServed() is thread-safe. Must not outlive the registry.

#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace keymeter::http {

class HttpProbe {
 public:
  explicit HttpProbe(prometheus::Registry& registry);
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // One response sent: `route` is the pattern ("" when none matched), `latency` the time from
  // the complete request to the response being ready.
  void RequestServed(std::string_view route, int status, std::chrono::nanoseconds latency);

 private:
  struct RouteMetrics {
    prometheus::Histogram* duration = nullptr;
    absl::flat_hash_map<int, prometheus::Counter*> by_status;
  };

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  std::mutex mu_;
  // The families' children, cached so the hot path does no label hashing.
  absl::flat_hash_map<std::string, RouteMetrics> routes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keymeter::http
