#include "api/ops.h"

#include <string>

#include "api/openapi.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/process_memory.h"
#include "engine/projector_probe.h"
#include "engine/store.h"
#include "http/json.h"

namespace keymeter {

namespace {

// keymeter_memory_bytes by part: RocksDB's own memory, the heap in use and the resident set.
void RefreshMemoryGauges(const Store& store, ProjectorProbe& probe) {
  const Store::Memory rocksdb = store.MemoryUsage();
  probe.MemoryBytes("rocksdb_block_cache", rocksdb.block_cache);
  probe.MemoryBytes("rocksdb_memtables", rocksdb.memtables);
  probe.MemoryBytes("rocksdb_table_readers", rocksdb.table_readers);
  probe.MemoryBytes("heap_in_use", HeapInUseBytes());
  probe.MemoryBytes("resident", ResidentBytes());
}

}  // namespace

void RegisterOpsRoutes(http::Router& router, ServeContext& context) {
  router.Add(
      "GET", "/healthz",
      [](const http::Request&, http::Response& response) {
        http::SetJson(response, 200, R"({"status":"ok"})");
      },
      http::Router::Lane::kInline);
  router.Add("GET", "/readyz", [&context](const http::Request&, http::Response& response) {
    const auto [ready, reason] = context.readiness();
    http::JsonWriter json;
    json.BeginObject().Key("ready").Bool(ready);
    if (!ready) json.Key("reason").String(reason);
    json.EndObject();
    http::SetJson(response, ready ? 200 : 503, json.Take());
  }, http::Router::Lane::kInline);
  router.Add("GET", "/metrics", [&context](const http::Request&, http::Response& response) {
    response.content_type = std::string(Metrics::kContentType);
    if (context.projector_probe != nullptr) {
      context.projector_probe->LiveDataBytes(context.store.LiveDataBytes());
      RefreshMemoryGauges(context.store, *context.projector_probe);
      const Pipeline::KafkaClientsReplaced replaced = context.pipeline.kafka_clients_replaced();
      context.projector_probe->KafkaClientsReplaced(replaced.consumers, replaced.producers);
      context.projector_probe->PartitionsDropped(context.pipeline.partitions_dropped());
    }
    response.body = context.metrics.Serialize();
  });
  RegisterOpenApiRoute(router);
}

}  // namespace keymeter
