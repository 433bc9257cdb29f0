// The ops endpoints (docs/api.md, Ops): liveness, readiness, the Prometheus metrics and the API's
// OpenAPI description.
//
//   GET /healthz  → 200 {"status":"ok"}
//   GET /readyz   → 200 {"ready":true} or 503 {"ready":false,"reason":"..."} (ServeContext's
//                   readiness: caught up with the log, the broker reachable)
//   GET /metrics  → the Prometheus text format; RocksDB's live data and memory, the heap, the
//                   resident set and the Kafka clients replaced are refreshed first
//   GET /v1/openapi.yaml → docs/openapi.yaml, the API's description (api/openapi.h)
//
// Thread safety: the handlers run on any HTTP worker thread; everything they reach is
// thread-safe (Metrics, Store's properties, ServeContext::readiness).

#pragma once

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

void RegisterOpsRoutes(http::Router& router, ServeContext& context);

}  // namespace keymeter
