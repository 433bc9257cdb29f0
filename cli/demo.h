// `keymeter demo`: a running keymeter to try by hand (DESIGN §3, CLI).
//
//   keymeter demo [--listen HOST:PORT] [--data-dir DIR] [--requests N]
//
// Starts `keymeter serve` (this same binary) as a child process on --listen, with a fresh
// random operator token, and seeds it through the HTTP API as a user would: an account, a parent
// key with a quota and a config, three members (one pending, one suspended, one active with
// allowed sources) and N request events spread over the last three days. Then prints the URL,
// the operator and admin tokens, every key and curl lines that work as printed, and serves until
// SIGINT or SIGTERM, which it forwards to the child.
//
// Without --data-dir the store lives in a fresh temporary directory, removed on exit; a given
// --data-dir is kept. Tokens and keys are printed on stdout, for the user who asked for them,
// and written nowhere else.
//
// RunDemo() returns the exit code: 0 after a signal and a clean stop of the child; 1 when the
// address is taken, the child does not start or dies, or seeding fails (one line on stderr).
//
// Thread safety: RunDemo() runs once per process, on the main thread, before any other thread
// exists (it blocks SIGINT/SIGTERM and waits for them itself).

#pragma once

#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct DemoOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir;  // empty = a fresh temporary directory, removed on exit
  int requests = 3000;   // request events to seed
};

// Adds the `demo` subcommand and its flags to `app`; parsing fills `options`.
CLI::App* AddDemoCommand(CLI::App& app, DemoOptions* options);

// Runs the demo until SIGINT/SIGTERM; see the top of this file for the exit codes.
int RunDemo(const DemoOptions& options);

}  // namespace keymeter
