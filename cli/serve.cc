#include "cli/serve.h"

#include <fmt/format.h>
#include <pthread.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "api/forwarding.h"
#include "api/gateway.h"
#include "api/routes.h"
#include "cli/common.h"
#include "cli/serve_cluster.h"
#include "cli/serve_config.h"
#include "cli/serve_webhooks.h"
#include "engine/authorize_probe.h"
#include "engine/authorizer.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/projector_probe.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "engine/store.h"
#include "http/probe.h"
#include "http/server.h"

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
  apply("--dlq-topic", file.dlq_topic, options->dlq_topic);
  apply("--advertise", file.advertise, options->advertise);
  apply("--standby-replicas", file.standby_replicas, options->standby_replicas);
  apply("--session-timeout-ms", file.session_timeout_ms, options->session_timeout_ms);
  apply("--drop-partition-after", file.drop_partition_after, options->drop_partition_after_s);
  apply("--http-threads", file.http_threads, options->http_threads);
  apply("--read-only", file.read_only, options->read_only);
  ApplyWebhookConfig(serve, file, &options->webhooks);
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
      options->api.operator_token_hash.reset();
    } else {
      options->api.operator_token_hash = Sha256(*file.operator_token);
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
  serve->add_option("--dlq-topic", options->dlq_topic, "Kafka topic of the dead letters")
      ->envname("KEYMETER_DLQ_TOPIC")
      ->capture_default_str();
  serve
      ->add_option("--http-threads", options->http_threads,
                   "HTTP worker threads, 0..1024 (0: one per hardware thread)")
      ->check(CLI::Range(0, 1024))
      ->envname("KEYMETER_HTTP_THREADS")
      ->capture_default_str();
  serve
      ->add_option("--advertise", options->advertise,
                   "Kafka mode: the URL other members reach this one at (default http://<listen>)")
      ->envname("KEYMETER_ADVERTISE");
  serve
      ->add_option("--standby-replicas", options->standby_replicas,
                   "Kafka mode: members that tail each partition besides its owner, 0..16")
      ->check(CLI::Range(0, 16))
      ->envname("KEYMETER_STANDBY_REPLICAS")
      ->capture_default_str();
  serve
      ->add_option("--session-timeout-ms", options->session_timeout_ms,
                   "Kafka mode: the group session, 1000..300000 (the broker's "
                   "group.min.session.timeout.ms must allow it; Kafka's default is 6000)")
      ->check(CLI::Range(1000, 300000))
      ->envname("KEYMETER_SESSION_TIMEOUT_MS")
      ->capture_default_str();
  serve
      ->add_option("--drop-partition-after", options->drop_partition_after_s,
                   "Kafka mode: seconds before a partition this member neither owns nor stands "
                   "by is dropped from memory and store, 0..604800 (0: never)")
      ->check(CLI::Range(int64_t(0), int64_t(604800)))
      ->envname("KEYMETER_DROP_PARTITION_AFTER_SECONDS")
      ->capture_default_str();
  serve->add_flag("--read-only", options->read_only, "Open the store read-only; refuse writes")
      ->envname("KEYMETER_READ_ONLY");
  // Only the token's SHA-256 is kept; an empty value leaves the operator endpoints disabled.
  serve
      ->add_option_function<std::string>(
          "--operator-token",
          [options](const std::string& token) {
            if (token.empty()) {
              options->api.operator_token_hash.reset();
            } else {
              options->api.operator_token_hash = Sha256(token);
            }
          },
          "Bearer token of the operator endpoints (POST /v1/accounts, GET /v1/billing/usage)")
      ->envname("KEYMETER_OPERATOR_TOKEN");
  serve
      ->add_option("--config", options->config,
                   "TOML file with any serve setting (data_dir, listen, brokers, topic, group, "
                   "dlq_topic, http_threads, read_only, operator_token, advertise, "
                   "standby_replicas, session_timeout_ms, drop_partition_after, webhook_*, "
                   "alerts_topic); flags and "
                   "KEYMETER_* win over it")
      ->envname("KEYMETER_CONFIG");
  AddWebhookOptions(serve, &options->webhooks);
  serve->callback([serve, options] {
    if (!options->config.empty()) ApplyConfigFile(*serve, options);
    if (options->data_dir.empty()) {
      throw CLI::RequiredError("--data-dir (or KEYMETER_DATA_DIR, or data_dir in --config)");
    }
  });
  return serve;
}

namespace {

// The pipeline's options: the serve flags, and the memory bounds from KEYMETER_BLOCK_CACHE_MB,
// KEYMETER_WRITE_BUFFER_MB and KEYMETER_DEDUPE_MAX_ENTRIES (docs/api.md, tunables).
PipelineOptions PipelineOptionsOf(const ServeOptions& options) {
  PipelineOptions p;
  p.data_dir = options.data_dir;
  p.brokers = options.brokers;
  p.topic = options.topic;
  p.group = options.group;
  p.dlq_topic = options.dlq_topic;
  p.read_only = options.read_only;
  p.standbys = !options.embedded() && !options.read_only && options.standby_replicas > 0;
  p.session_timeout_ms = options.session_timeout_ms;
  p.drop_partition_after = std::chrono::seconds(options.drop_partition_after_s);
  p.store.create_if_missing = !options.read_only;
  if (auto mb = cli::EnvUnsigned("KEYMETER_BLOCK_CACHE_MB")) p.store.block_cache_bytes = *mb << 20;
  if (auto mb = cli::EnvUnsigned("KEYMETER_WRITE_BUFFER_MB")) {
    p.store.write_buffer_bytes = *mb << 20;
  }
  if (auto n = cli::EnvUnsigned("KEYMETER_DEDUPE_MAX_ENTRIES")) {
    p.projector.dedupe_max_entries = *n;
  }
  p.projector.month_close_lateness_us = cli::BillingLatenessUs();
  p.projector.future_tolerance_us = cli::FutureToleranceUs();
  if (auto days = cli::EnvUnsigned("KEYMETER_DLQ_RETENTION_DAYS")) {
    p.dlq_retention_us = TimeUs(std::clamp<uint64_t>(*days, 1, 3650)) * kMicrosPerDay;
  }
  return p;
}

// The API's options: the operator token from the flags, the rest from KEYMETER_* variables
// (a number that does not parse keeps the default, with a warning in the log; a trusted proxy
// that does not parse is an error: trusting the wrong peer would let clients pick their address).
Result<ApiOptions> ApiOptionsOf(const ServeOptions& options) {
  ApiOptions o = options.api;
  if (const char* proxies = std::getenv("KEYMETER_TRUSTED_PROXIES")) {
    for (std::string_view rest = proxies; !rest.empty();) {
      const size_t comma = rest.find(',');
      const std::string_view item = http::TrimWhitespace(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (item.empty()) continue;
      std::optional<Cidr> block = Cidr::Parse(item);
      if (!block) {
        return Status(Code::kInvalidCidr, fmt::format("KEYMETER_TRUSTED_PROXIES: '{}' is not an "
                                                      "IP address or CIDR block",
                                                      item));
      }
      o.trusted_proxies.push_back(*block);
    }
  }
  if (auto v = cli::EnvUnsigned("KEYMETER_COMMAND_TIMEOUT_MS")) {
    o.command_timeout = std::chrono::milliseconds(*v);
  }
  o.billing_lateness_us = cli::BillingLatenessUs();
  if (auto v = cli::EnvUnsigned("KEYMETER_AUTH_FAILURES_PER_MINUTE")) {
    o.auth_failures_per_minute = uint32_t(std::min<uint64_t>(*v, UINT32_MAX));
  }
  if (auto v = cli::EnvUnsigned("KEYMETER_REFUSED_COMMANDS_PER_MINUTE")) {
    o.refused_commands_per_minute = uint32_t(std::min<uint64_t>(*v, UINT32_MAX));
  }
  if (auto v = cli::EnvUnsigned("KEYMETER_MAX_EVENT_UNITS")) {
    o.max_event_units = uint32_t(std::clamp<uint64_t>(*v, 1, UINT32_MAX));
  }
  return o;
}

http::ServerOptions ServerOptionsOf(const ServeOptions& options, http::HttpProbe& probe,
                                    const http::Router& router, ServeContext& context) {
  http::ServerOptions s;
  s.listen = options.listen;
  s.threads = options.http_threads;
  // Writes wait for their outcome and event posts for the log: they run on a pool of their
  // own, so authorize (an inline route) never waits behind them for an I/O thread.
  // In a cluster a request may be forwarded to its owner: a round trip, off the I/O thread.
  s.offload = [&router, &context](const http::Request& request) {
    return !router.RunsInline(request) || MayForward(context, request);
  };
  if (auto n = cli::EnvUnsigned("KEYMETER_HTTP_OFFLOAD_THREADS")) {
    s.offload_threads = std::clamp<uint64_t>(*n, 1, 1024);
  }
  if (auto n = cli::EnvUnsigned("KEYMETER_MAX_CONNECTIONS")) s.max_connections = *n;
  if (auto n = cli::EnvUnsigned("KEYMETER_MAX_CONNECTIONS_PER_PEER")) {
    s.max_connections_per_peer = *n;
  }
  s.body_limit = [default_limit = s.max_body_bytes](std::string_view method, std::string_view path,
                                                    std::string_view content_type) {
    return GatewayBodyLimit(method, path, content_type).value_or(default_limit);
  };
  s.on_served = [&probe](std::string_view route, int status, std::chrono::nanoseconds latency) {
    probe.RequestServed(route, status, latency);
  };
  return s;
}

// Blocks SIGINT and SIGTERM in the calling thread, so that every thread started after it
// (RocksDB's, the server's) inherits the mask and the signals wait for sigwait().
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

}  // namespace

int RunServe(const ServeOptions& options) {
  const sigset_t stop_signals = BlockStopSignals();
  if (!options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return FailStartup(
          fmt::format("cannot create data dir {}: {}", options.data_dir, ec.message()));
    }
  }
  // Exact quotas (engine/reservations.h): applied request events release their reservations.
  // Declared before the pipeline, whose projector thread calls into it, so it outlives it.
  Result<ApiOptions> api_options = ApiOptionsOf(options);
  if (!api_options) return FailStartup(api_options.error().message());
  ReservationOptions reservation_options;
  if (auto n = cli::EnvUnsigned("KEYMETER_MAX_RESERVATIONS")) {
    reservation_options.max_reservations = *n;
  }
  if (auto n = cli::EnvUnsigned("KEYMETER_MAX_RESERVATIONS_PER_ACCOUNT")) {
    reservation_options.max_per_account = *n;
  }
  Reservations reservations(reservation_options);
  Result<std::unique_ptr<Pipeline>> opened = Pipeline::Open(PipelineOptionsOf(options));
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
  http::HttpProbe http_probe(metrics.registry());
  AuthorizeProbe authorize_probe(metrics, AllAuthorizeReasons());
  ProjectorProbe projector_probe(metrics);
  pipeline.projector().set_probe(&projector_probe);
  Authorizer authorizer(pipeline.projector().state_mutex(), pipeline.directory(), pipeline.quota(),
                        reservations, &authorize_probe);
  authorizer.set_freshness(&pipeline.projector());
  http::Router router;
  ServeContext context{std::move(api_options).value(),
                       pipeline.store(),
                       pipeline.directory(),
                       router,
                       metrics,
                       pipeline};
  context.readiness = [&pipeline, &context] {
    std::pair<bool, std::string> ready = pipeline.Readiness();
    const Cluster* cluster = context.cluster.load(std::memory_order_acquire);
    if (ready.first && cluster != nullptr && !cluster->Joined())
      return std::pair<bool, std::string>(false, "joining the cluster");
    return ready;
  };
  context.authorizer = &authorizer;
  context.projector_probe = &projector_probe;
  RegisterRoutes(context);
  pipeline.Start();

  Result<std::unique_ptr<http::Server>> server =
      http::Server::Start(ServerOptionsOf(options, http_probe, router, context),
                          WithForwarding(context, router.AsHandler()));
  if (!server) {
    // The projector thread uses the probes and metrics above: stop it before they go.
    pipeline.Stop();
    return FailStartup(server.error().message());
  }
  // In Kafka mode this process is a member of a cluster (DESIGN §6), advertising the address
  // the server got.
  std::unique_ptr<ServeCluster> cluster;
  if (!options.embedded() && !options.read_only) {
    cluster = std::make_unique<ServeCluster>(options, pipeline, metrics, projector_probe,
                                             server.value()->address(), context);
  }
  // The alerts in the outbox of the partitions this process owns go out (api/webhook_sender.h).
  std::unique_ptr<WebhookSender> sender;
  if (!options.read_only && options.webhooks.senders > 0) {
    sender = std::make_unique<WebhookSender>(context, options.webhooks);
    sender->Start();
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
  if (cluster != nullptr) cluster->Leave();  // the other members stop sending requests here
  server.value()->Stop();
  if (sender != nullptr) sender->Stop();
  spdlog::info("HTTP stopped; letting the current batch commit");
  pipeline.Stop();
  spdlog::info("keymeter stopped");
  return 0;
}

}  // namespace keymeter
