// `keymeter serve`: opens the store in --data-dir, loads the projections and answers HTTP on
// --listen until SIGINT or SIGTERM (DESIGN §3, CLI).
//
//   keymeter serve --data-dir DIR --listen HOST:PORT [--brokers H:P --topic T --group G
//                  --dlq-topic D]
//                  [--http-threads N] [--read-only] [--operator-token T] [--config FILE]
//
// Every flag may also come from its KEYMETER_* variable (KEYMETER_DATA_DIR, KEYMETER_LISTEN,
// KEYMETER_BROKERS, KEYMETER_TOPIC, KEYMETER_GROUP, KEYMETER_DLQ_TOPIC, KEYMETER_HTTP_THREADS,
// KEYMETER_READ_ONLY, KEYMETER_OPERATOR_TOKEN, KEYMETER_CONFIG) or from the TOML file of --config
// (cli/serve_config.h). Precedence per setting: flag > environment > file > default; a flag
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

#include "api/context.h"
#include "api/webhook_sender.h"
#include "schemas/ids.h"

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct ServeOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";
  std::string brokers;  // empty = embedded log
  std::string topic = "keymeter.events";
  std::string group = "keymeter";
  std::string dlq_topic = "keymeter.dlq";  // Kafka mode: where dead letters go
  size_t http_threads = 0;  // 0 = hardware threads
  bool read_only = false;   // open the store read-only; refuse writes
  std::string config;       // --config: the TOML file, applied while parsing (serve_config.h)
  // Kafka mode: the base URL other members of the cluster reach this one at (--advertise,
  // KEYMETER_ADVERTISE); empty = "http://<the address the server listens on>".
  std::string advertise;
  // Kafka mode: how many other members tail each partition as a standby (--standby-replicas).
  int standby_replicas = 1;
  // Kafka mode: the group session (--session-timeout-ms): how long a dead member keeps its
  // partitions. The broker's group.min.session.timeout.ms must allow it.
  int32_t session_timeout_ms = 3000;
  // Kafka mode: seconds after which a partition none of this member's consumers reads any more
  // is dropped from memory and store (--drop-partition-after); 0 keeps every partition.
  int64_t drop_partition_after_s = 300;
  // The API's options: the operator token's SHA-256 from --operator-token /
  // KEYMETER_OPERATOR_TOKEN, the rest from KEYMETER_COMMAND_TIMEOUT_MS,
  // KEYMETER_BILLING_LATENESS_SECONDS and KEYMETER_AUTH_FAILURES_PER_MINUTE (docs/api.md).
  ApiOptions api;
  // Webhook deliveries and the keymeter.alerts topic (--webhook-*, --alerts-topic).
  WebhookSenderOptions webhooks;

  bool embedded() const { return brokers.empty(); }
};

// Adds the `serve` subcommand, its flags and their environment variables to `app`; parsing
// fills `options`. Returns the subcommand (main checks ->parsed()).
CLI::App* AddServeCommand(CLI::App& app, ServeOptions* options);

// Serves until SIGINT/SIGTERM; see the top of this file for the exit codes.
int RunServe(const ServeOptions& options);


}  // namespace keymeter
