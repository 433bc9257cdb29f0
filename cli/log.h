// `keymeter log`: prints the event log as NDJSON, one message a line in the format of
// consumers/log_line.h (every field of docs/events.md; digests as hex, never a secret). What it
// prints, `keymeter replay --file` reads back: a whole log printed and replayed gives the store
// the log gave (same checksum).
//
//   keymeter log (--brokers H:P [--topic T] [--follow] | --data-dir DIR | --file PATH)
//                [--partition N]... [--from TIME|OFFSET] [--to TIME|OFFSET]
//                [--account ID] [--key KEY_ID] [--op NAME]... [--output FILE]
//
// Sources: a Kafka topic (a throwaway consumer group that commits nothing), the embedded log of
// a data dir (opened read-only, so `keymeter serve` may be running on it; what was logged when
// it was opened), or a file of length-prefixed envelopes or NDJSON (auto-detected).
// Range, per partition: --from and --to take an RFC 3339 time (the message's log time: Kafka's
// timestamp, the embedded log's append time) or an offset. --from is inclusive; --to a time
// stops at the first message logged after it, --to an offset before that offset (exclusive,
// like a Kafka end offset). Without --to the range ends where each partition ended when the
// command started; --follow (Kafka) keeps printing what arrives after, until interrupted.
// Filters: --account (the envelope's account), --key (a key op on that key, a request by it, a
// parent set to it, or an op a member made with it), --op (repeatable). Messages that do not
// decode are printed (error form) only when no filter is given.
//
// Output: the lines on stdout (or --output), a summary on stderr. RunLog() returns the exit
// code: 0 when the range was printed (or the reader of stdout went away); 1 for a runtime
// failure (source unreadable, broker unreachable, no message for 60 s short of the range's
// end), with a one-line message on stderr; flag errors are usage errors (exit 2).
//
// Thread safety: RunLog() runs once per process, on the main thread.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schemas/ids.h"

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

// A --from or --to value: a time or an offset.
struct LogBound {
  std::optional<TimeUs> time;
  std::optional<int64_t> offset;
};

struct LogOptions {
  std::string brokers;  // Kafka when set
  std::string topic = "keymeter.events";
  std::string data_dir;  // the embedded log when set
  std::string file;      // a file when set
  bool follow = false;
  std::vector<int32_t> partitions;  // empty: all
  std::string from, to;             // as given; parsed into from_at, to_at
  LogBound from_at, to_at;
  std::string account;
  std::string key;
  std::vector<std::string> ops;
  std::string output;  // stdout when empty
};

// Adds the `log` subcommand to `app`; parsing fills and checks `options`.
CLI::App* AddLogCommand(CLI::App& app, LogOptions* options);

int RunLog(const LogOptions& options);

}  // namespace keymeter
