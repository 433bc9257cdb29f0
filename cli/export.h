// `keymeter export`: usage rows for billing jobs and analysts, from a store's usage projection
// (cli/usage_export.h has the rows, the columns and the formats).
//
//   keymeter export --data-dir DIR (--month YYYY-MM | --from YYYY-MM-DD --to YYYY-MM-DD)
//                   [--by account|root|key|product] [--format csv|ndjson] [--output FILE]
//                   [--lateness DURATION]
//   keymeter export --requests --data-dir DIR (--month | --from --to) [--account ID] [--key ID]
//                   [--format csv|ndjson] [--output FILE | --output-dir DIR]
//
// --requests writes request-level rows from the request log instead (engine/request_export.h):
// to stdout or FILE, or with --output-dir one file per UTC day, requests-YYYY-MM-DD.csv (or
// .ndjson), each written whole under a temporary name then renamed; a day without requests gets
// no file (a header alone would leave DuckDB's type sniffing nothing to go on). Memory stays bounded whatever the range (the summary line
// on stderr gives the peak RSS; request_export_test checks 30 days of 1M requests take no more
// than one day). The request log keeps what its retention (30 days by default) left.
//
// --month reads the month's buckets; --from/--to (both days included) sums day buckets. Every
// row carries the store's watermark and whether the period is complete (watermark >= its end
// + --lateness, default 1h): a billing job bills a month only once complete is true.
// The store is opened read-only, so `keymeter serve` may be running on it. Rows go to stdout,
// or to FILE, written whole under a temporary name then renamed, so a reader never sees half
// of it. A summary line (rows, watermark, complete) goes to stderr.
//
// RunExport() returns the exit code: 0 once written; 1 when DIR is missing or unreadable or
// FILE cannot be written (a one-line message on stderr). Flag errors — a malformed month or
// date, --month with --from, --from without --to, --from after --to — are usage errors, which
// main.cc turns into exit code 2.
//
// Thread safety: RunExport() runs once per process, on the main thread.

#pragma once

#include <string>

#include "cli/usage_export.h"

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct ExportOptions {
  std::string data_dir;
  std::string month;  // YYYY-MM
  std::string from;   // YYYY-MM-DD
  std::string to;     // YYYY-MM-DD, included
  std::string by = "account";
  std::string format = "csv";
  std::string output;  // empty = stdout
  std::string lateness = "1h";
  bool requests = false;    // --requests: request-level rows
  std::string account;      // --requests: one account
  std::string key;          // --requests: one key
  std::string output_dir;   // --requests: one file per day
  // Made from the flags above when the command line is parsed.
  ExportQuery query;
};

// Adds the `export` subcommand to `app`; parsing fills and checks `options`.
CLI::App* AddExportCommand(CLI::App& app, ExportOptions* options);

int RunExport(const ExportOptions& options);

}  // namespace keymeter
