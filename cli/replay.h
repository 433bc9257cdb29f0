// `keymeter replay`: rebuilds a fresh store from the event log — a Kafka topic or a file — up to
// the end the log had when the replay started, or up to a point in time (DESIGN §1, analysts).
//
//   keymeter replay --data-dir NEW_DIR
//                   (--brokers H:P --topic T [--from TIME] | --file PATH [--format F])
//                   [--until TIME]
//
// Kafka: a throwaway consumer group (keymeter-replay-<random>) reads every partition from its
// first offset, or from the first message whose Kafka timestamp is at or after --from
// (offsetsForTimes; the state before it is then missing, so its keys are unknown), up to the
// high watermarks queried when the replay starts; messages produced later are not read. The
// store follows "kafka/<topic>", the source `keymeter serve --topic <topic>` uses, so serve can
// open it (--read-only, or carry on following the topic from where the replay stopped).
// File (consumers/file_source.h): NDJSON request events or length-prefixed envelopes ("fb");
// "auto" tells them apart by the first byte. The store follows "file".
// --until (RFC 3339): per partition, the first message whose event time is after it and all
// that follow are not applied (cli/replay_source.h has the exact rule).
// Dead letters are kept in the new store (column family "dlq"), never sent to a DLQ topic.
//
// Output: progress on stderr (a bar redrawn in place on a terminal, a plain line every 5 s
// otherwise), then one summary line on stdout.
//
// RunReplay() returns the exit code: 0 once the store holds the bounded log; 1 for a runtime
// failure (NEW_DIR not empty, topic or file unreadable, broker unreachable, a storage error),
// with a one-line message on stderr. A failure mid-replay leaves a partial store: delete it
// and run again. Flag errors (missing, conflicting, malformed values) are usage errors, which
// main.cc turns into exit code 2.
//
// Thread safety: RunReplay() runs once per process, on the main thread.

#pragma once

#include <optional>
#include <string>

#include "schemas/ids.h"

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct ReplayOptions {
  std::string data_dir;
  std::string brokers;  // Kafka mode when set
  std::string topic = "keymeter.events";
  std::string file;             // file mode when set
  std::string format = "auto";  // auto | ndjson | fb
  std::string from;             // RFC 3339, Kafka only
  std::string until;            // RFC 3339
  std::string log_time;         // RFC 3339, file only: the log time of its messages
  // Parsed from `from`, `until` and `log_time` when the command line is.
  std::optional<TimeUs> from_us;
  std::optional<TimeUs> until_us;
  std::optional<TimeUs> log_time_us;

  bool kafka() const { return !brokers.empty(); }
};

// Adds the `replay` subcommand to `app`; parsing fills and checks `options`.
CLI::App* AddReplayCommand(CLI::App& app, ReplayOptions* options);

int RunReplay(const ReplayOptions& options);

}  // namespace keymeter
