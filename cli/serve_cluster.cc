#include "cli/serve_cluster.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "cli/common.h"
#include "engine/pipeline.h"
#include "engine/projector_probe.h"

namespace keymeter {

ServeCluster::ServeCluster(const ServeOptions& options, Pipeline& pipeline, Metrics& metrics,
                           ProjectorProbe& probe, std::string listening, ServeContext& context)
    : options_(options),
      pipeline_(pipeline),
      metrics_(metrics),
      probe_(probe),
      listening_(std::move(listening)),
      context_(context) {
  if (!options_.api.operator_token_hash) {
    spdlog::warn("cluster: no operator token, so no cluster secret: this member forwards nothing "
                 "and answers every request from its own partitions; give every member the same "
                 "KEYMETER_OPERATOR_TOKEN");
  }
  Result<std::unique_ptr<Cluster>> joined = Join();
  if (joined) {
    cluster_ = std::move(joined).value();
    context_.cluster.store(cluster_.get(), std::memory_order_release);
    return;
  }
  spdlog::warn("cluster: cannot join yet ({}); answering alone, trying again every 2 s",
               joined.error().ToString());
  retry_ = std::jthread([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      for (int i = 0; i < 20 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (stop.stop_requested()) return;
      Result<std::unique_ptr<Cluster>> again = Join();
      if (!again) continue;
      cluster_ = std::move(again).value();
      context_.cluster.store(cluster_.get(), std::memory_order_release);
      spdlog::info("cluster: joined");
      return;
    }
  });
}

ServeCluster::~ServeCluster() { Leave(); }

void ServeCluster::Leave() {
  if (retry_.joinable()) {
    retry_.request_stop();
    retry_.join();
  }
  if (cluster_ != nullptr) cluster_->Stop();
}

Result<std::unique_ptr<Cluster>> ServeCluster::Join() {
  const ServeOptions& options = options_;
  std::string url = options.advertise;
  if (url.empty()) {
    std::string address = listening_;
    if (address.starts_with("0.0.0.0:") || address.starts_with("[::]:")) {
      char host[256] = {};
      if (gethostname(host, sizeof(host) - 1) == 0) {
        address = std::string(host) + address.substr(address.rfind(':'));
      }
    }
    url = "http://" + address;
  }
  ClusterOptions c;
  c.membership = {.brokers = options.brokers,
                  .events_topic = options.topic,
                  .group = options.group,
                  .member_id = pipeline_.instance_id(),
                  .url = url};
  c.operator_token_hash = options.api.operator_token_hash;
  c.standby_replicas = options.standby_replicas;
  c.lags = [&probe = probe_] { return probe.Lags(); };
  if (auto n = cli::EnvUnsigned("KEYMETER_CLUSTER_KEY_CACHE")) {
    c.max_cached_keys = std::max<uint64_t>(*n, 1);
  }
  return Cluster::Start(std::move(c), pipeline_, metrics_);
}

}  // namespace keymeter
