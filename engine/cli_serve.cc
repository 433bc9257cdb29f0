#include "engine/cli_serve.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "engine/api_gateway.h"
#include "engine/authorizer.h"
#include "engine/cli_common.h"
#include "engine/api_admin.h"
#include "engine/api_console.h"
#include "engine/api_member.h"
#include "engine/api_operator.h"
#include "engine/http_server.h"
#include "engine/json.h"
#include "engine/pipeline.h"
#include "engine/process_memory.h"
#include "engine/projector_probe.h"
#include "engine/secrets.h"
#include "engine/serve_config.h"
#include "engine/reservations.h"
#include "engine/store.h"
#include "projections/key_directory.h"

namespace keymeter {

namespace {

int FailStartup(std::string_view what) {
  fmt::print(stderr, "keymeter: {}\n", what);
  spdlog::error("{}", what);
  return 1;
}

std::string ModeDescription(const ServeOptions& options) {
  if (options.embedded()) return "embedded log";
  return fmt::format("kafka {} topic {} group {}", options.brokers, options.topic, options.group);
}

// Applies the --config file to the settings that neither a flag nor the environment gave
// (flag > env > file > default). Throws CLI::ValidationError (exit 2) for a bad file.
void ApplyConfigFile(const CLI::App& serve, ServeOptions* options) {
  Result<ServeConfigFile> loaded = LoadServeConfig(options->config);
  if (!loaded) throw CLI::ValidationError("--config", loaded.error().message());
  const ServeConfigFile& file = loaded.value();
  // True when the option was not given on the command line nor by its variable.
  auto unset = [&serve](const char* flag) { return serve.get_option(flag)->count() == 0; };
  auto apply = [&](const char* flag, const auto& value, auto& target) {
    if (value && unset(flag)) target = *value;
  };
  apply("--data-dir", file.data_dir, options->data_dir);
  apply("--listen", file.listen, options->listen);
  apply("--brokers", file.brokers, options->brokers);
  apply("--topic", file.topic, options->topic);
  apply("--group", file.group, options->group);
  apply("--http-threads", file.http_threads, options->http_threads);
  apply("--read-only", file.read_only, options->read_only);
  if (file.operator_token && !file.operator_token->empty()) {
    std::error_code ec;
    const std::filesystem::perms mode = std::filesystem::status(options->config, ec).permissions();
    using std::filesystem::perms;
    if (!ec && (mode & (perms::group_read | perms::others_read)) != perms::none) {
      spdlog::warn("config file {} holds operator_token and is readable by other users; "
                   "chmod 600 it, or use KEYMETER_OPERATOR_TOKEN",
                   options->config);
    }
  }
  if (file.operator_token && unset("--operator-token")) {
    if (file.operator_token->empty()) {
      options->operator_token_hash.reset();
    } else {
      options->operator_token_hash = Sha256(*file.operator_token);
    }
  }
}

}  // namespace

CLI::App* AddServeCommand(CLI::App& app, ServeOptions* options) {
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve authorize and the HTTP API; embedded log unless --brokers is given");
  // A flag given twice takes its last value, so wrappers (scripts/run) can pass defaults that
  // the user's own flags then override.
  serve->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // Required, but checked after parsing so that an unknown flag is the error reported first.
  serve
      ->add_option("--data-dir", options->data_dir,
                   "Directory of the store (created if missing); required")
      ->envname("KEYMETER_DATA_DIR");
  serve->add_option("--listen", options->listen, "HOST:PORT to serve HTTP on (port 0: any free)")
      ->envname("KEYMETER_LISTEN")
      ->capture_default_str();
  serve->add_option("--brokers", options->brokers, "Kafka bootstrap servers H:P[,H:P]")
      ->envname("KEYMETER_BROKERS");
  serve->add_option("--topic", options->topic, "Kafka topic of the events")
      ->envname("KEYMETER_TOPIC")
      ->capture_default_str();
  serve->add_option("--group", options->group, "Kafka consumer group")
      ->envname("KEYMETER_GROUP")
      ->capture_default_str();
  serve
      ->add_option("--http-threads", options->http_threads,
                   "HTTP worker threads, 0..1024 (0: one per hardware thread)")
      ->check(CLI::Range(0, 1024))
      ->envname("KEYMETER_HTTP_THREADS")
      ->capture_default_str();
  serve->add_flag("--read-only", options->read_only, "Open the store read-only; refuse writes")
      ->envname("KEYMETER_READ_ONLY");
  // Only the token's SHA-256 is kept; an empty value leaves the operator endpoints disabled.
  serve
      ->add_option_function<std::string>(
          "--operator-token",
          [options](const std::string& token) {
            if (token.empty()) {
              options->operator_token_hash.reset();
            } else {
              options->operator_token_hash = Sha256(token);
            }
          },
          "Bearer token of the operator endpoints (POST /v1/accounts, GET /v1/billing/usage)")
      ->envname("KEYMETER_OPERATOR_TOKEN");
  serve
      ->add_option("--config", options->config,
                   "TOML file with any of these settings (data_dir, listen, brokers, topic, group, "
                   "http_threads, read_only, operator_token); flags and KEYMETER_* win over it")
      ->envname("KEYMETER_CONFIG");
  serve->callback([serve, options] {
    if (!options->config.empty()) ApplyConfigFile(*serve, options);
    if (options->data_dir.empty()) {
      throw CLI::RequiredError("--data-dir (or KEYMETER_DATA_DIR, or data_dir in --config)");
    }
  });
  return serve;
}

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
  router.Add("GET", "/healthz", [](const http::Request&, http::Response& response) {
    http::SetJson(response, 200, R"({"status":"ok"})");
  });
  router.Add("GET", "/readyz", [&context](const http::Request&, http::Response& response) {
    const auto [ready, reason] = context.readiness();
    http::JsonWriter json;
    json.BeginObject().Key("ready").Bool(ready);
    if (!ready) json.Key("reason").String(reason);
    json.EndObject();
    http::SetJson(response, ready ? 200 : 503, json.Take());
  });
  router.Add("GET", "/metrics", [&context](const http::Request&, http::Response& response) {
    response.content_type = std::string(Metrics::kContentType);
    if (context.projector_probe != nullptr) {
      uint64_t total = 0;
      for (rocksdb::ColumnFamilyHandle* cf : context.store.cfs().handles) {
        uint64_t live = 0;
        if (context.store.db()->GetIntProperty(cf, "rocksdb.estimate-live-data-size", &live)) {
          total += live;
        }
      }
      context.projector_probe->LiveDataBytes(total);
      RefreshMemoryGauges(context.store, *context.projector_probe);
      const Pipeline::KafkaClientsReplaced replaced = context.pipeline.kafka_clients_replaced();
      context.projector_probe->KafkaClientsReplaced(replaced.consumers, replaced.producers);
    }
    response.body = context.metrics.Serialize();
  });
}

int RunServe(const ServeOptions& options) {
  // Block the stop signals before any thread (RocksDB's, the server's) starts, so they all
  // inherit the mask and the signals wait for sigwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (!options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return FailStartup(
          fmt::format("cannot create data dir {}: {}", options.data_dir, ec.message()));
    }
  }
  PipelineOptions pipeline_options;
  pipeline_options.data_dir = options.data_dir;
  pipeline_options.brokers = options.brokers;
  pipeline_options.topic = options.topic;
  pipeline_options.group = options.group;
  pipeline_options.read_only = options.read_only;
  pipeline_options.store.create_if_missing = !options.read_only;
  // Memory bounds (docs/api.md, tunables).
  if (auto mb = cli::EnvUnsigned("KEYMETER_BLOCK_CACHE_MB")) {
    pipeline_options.store.block_cache_bytes = *mb << 20;
  }
  if (auto mb = cli::EnvUnsigned("KEYMETER_WRITE_BUFFER_MB")) {
    pipeline_options.store.write_buffer_bytes = *mb << 20;
  }
  if (auto n = cli::EnvUnsigned("KEYMETER_DEDUPE_MAX_ENTRIES")) {
    pipeline_options.projector.dedupe_max_entries = *n;
  }
  // Exact quotas (engine/reservations.h): applied request events release their reservations.
  // Declared before the pipeline, whose projector thread calls into it, so it outlives it.
  Reservations reservations;
  Result<std::unique_ptr<Pipeline>> opened = Pipeline::Open(pipeline_options);
  if (!opened) {
    return FailStartup(
        fmt::format("cannot open data dir {}: {}", options.data_dir, opened.error().ToString()));
  }
  Pipeline& pipeline = *opened.value();
  pipeline.projector().set_request_listener(
      [&reservations](KeyId root, KeyId key, const RequestIdBytes& id) {
        reservations.OnRequestApplied(root, key, id);
      });

  Metrics metrics;
  HttpProbe probe(metrics);
  AuthorizeProbe authorize_probe(metrics, AllAuthorizeReasons());
  ProjectorProbe projector_probe(metrics);
  pipeline.projector().set_probe(&projector_probe);
  Authorizer authorizer(pipeline.projector().state_mutex(), pipeline.directory(), pipeline.quota(),
                        reservations, &authorize_probe);
  http::Router router;
  ServeContext context{options, pipeline.store(), pipeline.directory(), router, metrics, pipeline};
  context.readiness = [&pipeline] { return pipeline.Readiness(); };
  context.authorizer = &authorizer;
  context.projector_probe = &projector_probe;
  RegisterOpsRoutes(router, context);
  RegisterAdminRoutes(router, context);
  RegisterMemberRoutes(router, context);
  RegisterOperatorRoutes(router, context);
  RegisterGatewayRoutes(router, context);
  RegisterConsoleRoutes(router);
  pipeline.Start();

  http::ServerOptions server_options;
  server_options.listen = options.listen;
  server_options.threads = options.http_threads;
  server_options.body_limit = [default_limit = server_options.max_body_bytes](
                                  std::string_view method, std::string_view path) {
    return GatewayBodyLimit(method, path).value_or(default_limit);
  };
  server_options.on_served = [&probe](std::string_view route, int status,
                                      std::chrono::nanoseconds latency) {
    probe.RequestServed(route, status, latency);
  };
  Result<std::unique_ptr<http::Server>> server =
      http::Server::Start(std::move(server_options), router.AsHandler());
  if (!server) {
    // The projector thread uses the probes and metrics above: stop it before they go.
    pipeline.Stop();
    return FailStartup(server.error().message());
  }

  const std::string line =
      fmt::format("keymeter listening on http://{} (data dir {}, {})", server.value()->address(),
                  options.data_dir, ModeDescription(options));
  spdlog::info("{}", line);
  fmt::print("{}\n", line);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("{} received: draining HTTP connections", strsignal(signal_number));
  server.value()->Stop();
  spdlog::info("HTTP stopped; letting the current batch commit");
  pipeline.Stop();
  spdlog::info("keymeter stopped");
  return 0;
}

}  // namespace keymeter
