#include "engine/metrics.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace keymeter {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

Metrics::~Metrics() = default;

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace keymeter
