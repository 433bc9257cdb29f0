// keymeter: the one binary (DESIGN §3, CLI). Each subcommand lives in engine/cli_<name>.cc.
//
// Exit codes: 0 success (and --help), 1 a runtime failure the subcommand reports, 2 a usage
// error (unknown flag, missing or malformed value, no subcommand).

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/checksum.h"
#include "cli/demo.h"
#include "cli/dlq.h"
#include "cli/export.h"
#include "cli/loadgen.h"
#include "cli/log.h"
#include "cli/replay.h"
#include "cli/serve.h"

#ifndef KEYMETER_VERSION
#define KEYMETER_VERSION "dev"
#endif

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries only what a command prints for its user.
  spdlog::set_default_logger(spdlog::stderr_color_mt("keymeter"));

  CLI::App app("keymeter: usage accounting for parent and child API keys", "keymeter");
  app.set_version_flag("--version", "keymeter " KEYMETER_VERSION);
  // At most one; "none" is reported after parsing, so that an unknown word is named as such.
  app.require_subcommand(0, 1);

  keymeter::ServeOptions serve_options;
  CLI::App* serve = keymeter::AddServeCommand(app, &serve_options);
  keymeter::ReplayOptions replay_options;
  CLI::App* replay = keymeter::AddReplayCommand(app, &replay_options);
  keymeter::ExportOptions export_options;
  CLI::App* exporter = keymeter::AddExportCommand(app, &export_options);
  keymeter::ChecksumOptions checksum_options;
  CLI::App* checksum = keymeter::AddChecksumCommand(app, &checksum_options);
  keymeter::LogOptions log_options;
  CLI::App* log = keymeter::AddLogCommand(app, &log_options);
  keymeter::DlqOptions dlq_options;
  CLI::App* dlq = keymeter::AddDlqCommand(app, &dlq_options);
  keymeter::DemoOptions demo_options;
  CLI::App* demo = keymeter::AddDemoCommand(app, &demo_options);
  keymeter::LoadgenCommandOptions loadgen_options;
  CLI::App* loadgen = keymeter::AddLoadgenCommand(app, &loadgen_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (serve->parsed()) return keymeter::RunServe(serve_options);
  if (replay->parsed()) return keymeter::RunReplay(replay_options);
  if (exporter->parsed()) return keymeter::RunExport(export_options);
  if (checksum->parsed()) return keymeter::RunChecksum(checksum_options);
  if (log->parsed()) return keymeter::RunLog(log_options);
  if (dlq->parsed()) return keymeter::RunDlq(dlq_options);
  if (demo->parsed()) return keymeter::RunDemo(demo_options);
  if (loadgen->parsed()) return keymeter::RunLoadgen(loadgen_options);
  const int code = app.exit(CLI::RequiredError("A subcommand (serve, replay, export, checksum, log)"));
  return code == 0 ? 0 : 2;
}
