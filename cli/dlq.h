// `keymeter dlq`: the dead-letter queue of a running keymeter, through its operator API
// (GET /v1/dead-letters, POST /v1/dead-letters/redrive), so the embedded log and Kafka work alike
// and a cluster's whole DLQ topic is one call away (docs/reliability.md, the DLQ runbook).
//
//   keymeter dlq list    [--reason R] [--account A] [--from T] [--to T] [--limit N] [--all]
//   keymeter dlq show    ID
//   keymeter dlq redrive (ID... | --reason R [--account A] [--from T] [--to T] [--limit N])
//   common: --url http://HOST:PORT (KEYMETER_URL, default http://127.0.0.1:8080)
//           --operator-token T (KEYMETER_OPERATOR_TOKEN)
//
// list prints one dead letter per line (NDJSON: id, reason, detail, source, partition, offset,
// time, account_id, op, key_id, request_id, redrivable), --all following every page; show
// prints one dead letter with its decoded event (a line of `keymeter log`); redrive prints
// {"redriven":[...],"skipped":[...]}. A summary goes to stderr.
//
// RunDlq() returns the exit code: 0 on success; 1 when the server can't be reached or answers
// an error (its code and message on stderr); flag errors are usage errors (exit 2).
//
// Thread safety: RunDlq() runs once per process, on the main thread.

#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct DlqOptions {
  std::string action;  // list | show | redrive
  std::string url = "http://127.0.0.1:8080";
  std::string operator_token;
  std::vector<std::string> ids;
  std::string reason, account, from, to;
  size_t limit = 0;  // 0: the server's default (list) or all selected (redrive, up to 1,000)
  bool all = false;
};

CLI::App* AddDlqCommand(CLI::App& app, DlqOptions* options);

int RunDlq(const DlqOptions& options);

}  // namespace keymeter
