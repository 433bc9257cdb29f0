// Metrics: the process's Prometheus registry.
//
// Each module reports through a small probe whose methods name domain events; only the
// probes' .cc files include prometheus-cpp (STYLE.md). Metrics owns the registry the probes
// register their families in (engine/authorize_probe.h, engine/projector_probe.h,
// http/probe.h) and renders it for GET /metrics in the text exposition format 0.0.4 (valid for
// `promtool check metrics`).
//
// Thread safety: Serialize() is thread-safe. Probes must not outlive the Metrics they were
// made from.

#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
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

}  // namespace keymeter
