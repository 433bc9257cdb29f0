// What the `keymeter` subcommands share: parsing of flag values (dates, months, durations;
// RFC 3339 times are consumers/ndjson.h's ParseRfc3339), opening an existing store for
// reading, and the one-line failure report. Names live in keymeter::cli.
//
// Parsers return nullopt for anything malformed or out of range; they accept exactly the forms
// documented here, so a typo is a usage error rather than a silently different period.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.h"
#include "schemas/ids.h"

namespace keymeter::cli {

// "YYYY-MM-DD" → the start of that UTC day.
std::optional<TimeUs> ParseDate(std::string_view text);


// A non-negative duration: an integer followed by "s", "m", "h" or "d" ("90s", "15m", "1h",
// "2d"), or "0". Returns microseconds.
std::optional<TimeUs> ParseDuration(std::string_view text);

// Opens the keymeter store in `data_dir` read-only (it may be in use by `keymeter serve`).
// Errors, with a message that says what to do: NO-DATA-DIR (missing, or not a directory),
// NOT-A-STORE (no RocksDB database in it), or Store::Open's (IO-ERROR).
Result<std::unique_ptr<Store>> OpenStoreForReading(const std::string& data_dir);

// OK when `data_dir` is missing or an empty directory, where a fresh store may be built.
// Errors: DATA-DIR-NOT-EMPTY (also for a file), saying to give a new or empty directory.
Status CheckFreshDataDir(const std::string& data_dir);

// 16 random hex digits (throwaway consumer group names).
std::string RandomSuffix();

// Prints "keymeter: <message>" on stderr (after flushing stdout) and returns exit code 1.
int FailWith(std::string_view message);

// The unsigned value of environment variable `name`, or nullopt when unset; a value that is not
// a non-negative integer (up to 2^40) is warned about and ignored.
std::optional<uint64_t> EnvUnsigned(const char* name);
// KEYMETER_BILLING_LATENESS_SECONDS in microseconds, else the default (one hour): billing's
// "complete" and the projector's month close (serve and replay must agree for equal checksums).
TimeUs BillingLatenessUs();
// KEYMETER_FUTURE_TOLERANCE_SECONDS in microseconds, else five minutes: how far past its log time
// an event may be dated before it is FUTURE-TIMESTAMP (serve and replay must agree).
TimeUs FutureToleranceUs();

}  // namespace keymeter::cli
