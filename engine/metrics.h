// Metrics: the process's Prometheus registry, and the HTTP probe that reports into it.
//
// Each module reports through a small probe whose methods name domain events; only the
// probes' .cc files include prometheus-cpp (STYLE.md). Metrics owns the registry the probes
// register their families in and renders it for GET /metrics in the text exposition format
// 0.0.4 (valid for `promtool check metrics`).
//
// HttpProbe reports:
//   keymeter_http_requests_total{route,status}          counter
//   keymeter_http_request_duration_seconds{route}       histogram, 50 µs .. 2.5 s
// `route` is the matched pattern ("/v1/keys/{id}"), never the raw path (bounded cardinality,
// and paths may carry keys); requests no route matched are labelled "unmatched".
//
// Thread safety: Metrics::Serialize(), HttpProbe::RequestServed() and
// AuthorizeProbe::Decided() are thread-safe.
// Probes must not outlive the Metrics they were made from.

#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <span>
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

namespace keymeter {

class Metrics {
 public:
  // The content type of Serialize()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4";

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // For probes (in their .cc files) to add their metric families.
  prometheus::Registry& registry() { return *registry_; }

  // Every metric, in the Prometheus text format.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

class HttpProbe {
 public:
  explicit HttpProbe(Metrics& metrics);
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

// AuthorizeProbe reports every `authorize` decision (engine/authorizer.h):
//   keymeter_authorize_decisions_total{reason}   counter; reason "OK" or the denial code
//   keymeter_authorize_latency_seconds           histogram of the in-memory decision, 1 µs .. 10 ms
// The reasons are registered up front, so Decided() takes no lock; a reason not in the list
// given to the constructor is counted as "OTHER".
class AuthorizeProbe {
 public:
  AuthorizeProbe(Metrics& metrics, std::span<const std::string_view> reasons);
  ~AuthorizeProbe();
  AuthorizeProbe(const AuthorizeProbe&) = delete;
  AuthorizeProbe& operator=(const AuthorizeProbe&) = delete;

  void Decided(std::string_view reason, std::chrono::nanoseconds latency);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Counter* other_ = nullptr;
  // Read-only after construction.
  absl::flat_hash_map<std::string, prometheus::Counter*> by_reason_;
};

}  // namespace keymeter
