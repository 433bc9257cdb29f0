// ServeCluster: `keymeter serve` in Kafka mode as a member of the cluster of its consumer group
// (DESIGN §6, docs/scale.md). Its member id is its group.instance.id; it advertises --advertise,
// else the address the server listens on (a wildcard address replaced by the host's name).
// When the cluster can't be joined at startup (the broker away), serve goes on as a process of
// its own and keeps trying every 2 s in the background.
//
// Thread safety: constructed and Leave()d by serve's main thread; the retries run on a thread
// of their own, which publishes the Cluster through ServeContext::cluster.

#pragma once

#include <memory>
#include <string>
#include <thread>

#include "api/context.h"
#include "cli/serve.h"
#include "cluster/cluster.h"

namespace keymeter {

class Metrics;
class Pipeline;
class ProjectorProbe;

class ServeCluster {
 public:
  ServeCluster(const ServeOptions& options, Pipeline& pipeline, Metrics& metrics,
               ProjectorProbe& probe, std::string listening, ServeContext& context);
  ~ServeCluster();
  ServeCluster(const ServeCluster&) = delete;
  ServeCluster& operator=(const ServeCluster&) = delete;

  // Stops trying to join, and says goodbye on the members topic if it had joined. Idempotent.
  void Leave();

 private:
  Result<std::unique_ptr<Cluster>> Join();

  const ServeOptions& options_;
  Pipeline& pipeline_;
  Metrics& metrics_;
  ProjectorProbe& probe_;
  const std::string listening_;
  ServeContext& context_;
  std::unique_ptr<Cluster> cluster_;  // set by the constructor or the retry thread
  std::jthread retry_;
};

}  // namespace keymeter
