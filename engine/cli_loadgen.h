// `keymeter loadgen`: drives a running keymeter over HTTP with Loadgen's workload.
//
//   keymeter loadgen --url http://HOST:PORT --setup --operator-token T [--accounts N]
//                    [--keys N] [--rate R] [--count N | --duration D] [--seed S]
//
// --setup (required for now: there is no way yet to load an existing population) creates
// --accounts accounts and --keys keys through the API (POST /v1/accounts, POST /v1/keys) in
// Loadgen's shape: every account has a root key, about a third of the keys are children. Then it
// POSTs request events as NDJSON (batches of up to 1000, timed now) for Zipf-popular keys, at
// --rate events per second (0: as fast as the server takes them), until --count events are sent
// or --duration (e.g. "30s", "5m") is over; with neither, 10000 events.
//
// Prints one JSON line on stdout:
//   {"accounts","keys","setup_seconds","events_sent","accepted","rejected","failed_batches",
//    "seconds","events_per_second"}
// RunLoadgen() returns 0 when every call was answered 2xx, 1 otherwise (the summary is still
// printed when events were sent; setup failures are one line on stderr). Flag errors are
// CLI11's (exit code 2). Tokens and keys are never printed.
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
