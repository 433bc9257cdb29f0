// `keymeter serve`: opens the store in --data-dir, loads the projections and answers HTTP on
// --listen until SIGINT or SIGTERM (DESIGN §3, CLI).
//
//   keymeter serve --data-dir DIR --listen HOST:PORT [--brokers H:P --topic T --group G]
//                  [--http-threads N] [--read-only] [--operator-token T] [--config FILE]
//
// Every flag may also come from its KEYMETER_* variable (KEYMETER_DATA_DIR, KEYMETER_LISTEN,
// KEYMETER_BROKERS, KEYMETER_TOPIC, KEYMETER_GROUP, KEYMETER_HTTP_THREADS, KEYMETER_READ_ONLY,
// KEYMETER_OPERATOR_TOKEN, KEYMETER_CONFIG) or from the TOML file of --config
// (engine/serve_config.h). Precedence per setting: flag > environment > file > default; a flag
// given twice takes the last value. A bad config file (unknown key, wrong type) is a usage error
// naming the key. No --brokers = the embedded log.
//
// RunServe() returns the process exit code: 0 after a signal and a clean drain, 1 when the data
// dir cannot be opened or the address cannot be bound (with a one-line message on stderr).
// Flag errors are CLI11's (main.cc turns them into exit code 2).
//
// Thread safety: RunServe() runs once per process, on the main thread, before any other thread
// exists (it blocks SIGINT/SIGTERM for every thread and waits for them itself). Route handlers
// run on the HTTP worker threads and must only use what the ServeContext makes thread-safe.

#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/metrics.h"
#include "engine/router.h"
#include "schemas/ids.h"

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

class Authorizer;
class ApiContext;
class KeyDirectory;
class Pipeline;
class ProjectorProbe;
class Store;

struct ServeOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";
  std::string brokers;  // empty = embedded log
  std::string topic = "keymeter.events";
  std::string group = "keymeter";
  size_t http_threads = 0;  // 0 = hardware threads
  bool read_only = false;   // open the store read-only; refuse writes
  std::string config;       // --config: the TOML file, applied while parsing (serve_config.h)
  // SHA-256 of --operator-token / KEYMETER_OPERATOR_TOKEN (the plain token is not kept);
  // unset = the operator endpoints answer 401.
  std::optional<Digest> operator_token_hash;

  bool embedded() const { return brokers.empty(); }
};

// Everything a route handler may reach. Lives for the whole of RunServe(); the server is
// stopped before any of it is destroyed.
struct ServeContext {
  const ServeOptions& options;
  Store& store;
  KeyDirectory& directory;
  http::Router& router;
  Metrics& metrics;
  Pipeline& pipeline;
  // Answers GET /readyz: {ready, reason when not}. Replaced by the projector's catch-up
  // state once there is one; must be thread-safe.
  std::function<std::pair<bool, std::string>()> readiness = [] {
    return std::pair<bool, std::string>(true, "");
  };
  // State of the operator/admin/member/n1ed API (engine/api_context.h), made by the first
  // Register{Admin,Member,Operator}Routes() call.
  std::shared_ptr<ApiContext> api;
  // Decides GET/POST /v1/authorize (engine/api_gateway.h); thread-safe. Set by RunServe().
  Authorizer* authorizer = nullptr;
  // The projector's metrics; /metrics refreshes RocksDB's live data size through it.
  ProjectorProbe* projector_probe = nullptr;
};

// Adds the `serve` subcommand, its flags and their environment variables to `app`; parsing
// fills `options`. Returns the subcommand (main checks ->parsed()).
CLI::App* AddServeCommand(CLI::App& app, ServeOptions* options);

// Serves until SIGINT/SIGTERM; see the top of this file for the exit codes.
int RunServe(const ServeOptions& options);

// GET /healthz → 200 {"status":"ok"}; GET /readyz → 200 {"ready":true} or 503
// {"ready":false,"reason":"..."}; GET /metrics → the Prometheus text format.
void RegisterOpsRoutes(http::Router& router, ServeContext& context);

}  // namespace keymeter
