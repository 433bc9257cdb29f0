// `keymeter loadgen`: realistic gateway traffic — Zipf-popular keys of accounts with parents and
// members, a product mix and a status mix (about 2.5% 404 and 2.5% 503) — into a running
// keymeter over HTTP, or straight into its Kafka topic.
//
//   keymeter loadgen --setup --url http://HOST:PORT --operator-token T [--accounts N] [--keys N]
//                    [--population FILE] [events...]
//   keymeter loadgen --population FILE [events...]
//   events: (--url http://HOST:PORT | --brokers H:P [--topic T]) [--rate R]
//           [--count N | --duration D] [--seed S]
//
// --setup creates --accounts accounts and --keys keys through the API (POST /v1/accounts,
// POST /v1/keys, active) in Loadgen's shape: every account has a root key, about a third of the
// keys are children of a root of their account. With --population FILE it saves what it made
// (account ids, key ids, parents, products: cli/loadgen_population.h); no admin token and no
// plain key is written anywhere, since request events name keys by id. Without --setup,
// --population FILE is read instead, and no API call is made.
//
// Events: with --brokers, FlatBuffers request envelopes are produced to --topic (default
// keymeter.events) keyed by account id, as a gateway publishing to Kafka does; otherwise they
// are POSTed to --url's /v1/events as NDJSON (batches of up to 1000). Event time is now. At
// --rate events per second (0: as fast as the target takes them), until --count events are sent
// or --duration ("30s", "5m") is over; with neither, 10000 events.
//
// Prints one JSON line on stdout:
//   {"target":"http"|"kafka","accounts","keys","setup_seconds","events_sent","accepted",
//    "rejected","failed_batches","seconds","events_per_second"}
// RunLoadgen() returns 0 when every event was accepted (HTTP: 2xx and no rejected line; Kafka:
// acknowledged by the broker), 1 otherwise (setup or population failures are one line on
// stderr). Flag errors are CLI11's (exit code 2). Tokens and keys are never printed.
//
// Thread safety: RunLoadgen() runs once per process, on the main thread; setup uses a few
// threads of its own, each with its own connection.

#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct LoadgenCommandOptions {
  std::string url;
  bool setup = false;
  std::string operator_token;
  // POST /v1/events' credential; made with the operator token when empty (then --setup or
  // --operator-token is needed).
  std::string gateway_token;
  std::string population;  // file: written by --setup, read without it
  std::string brokers;     // events into Kafka when set
  std::string topic = "keymeter.events";
  int accounts = 10;
  int keys = 100;
  double rate = 0;       // events per second; 0 = unthrottled
  int64_t count = 0;     // 0 = until --duration (or 10000 without either)
  std::string duration;  // cli::ParseDuration's forms; empty = none
  uint64_t seed = 42;
};

// Adds the `loadgen` subcommand and its flags to `app`; parsing fills `options`.
CLI::App* AddLoadgenCommand(CLI::App& app, LoadgenCommandOptions* options);

// Runs the load; see the top of this file for the output and exit codes.
int RunLoadgen(const LoadgenCommandOptions& options);

}  // namespace keymeter
