#include "cli/export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "engine/request_export.h"
#include "schemas/civil_time.h"
#include "engine/process_memory.h"

namespace keymeter {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Writes `write`'s output to stdout, or to `path` through a temporary file renamed on success.
Status WriteOutput(const std::string& path, const std::function<void(std::FILE*)>& write) {
  if (path.empty()) {
    write(stdout);
    return std::fflush(stdout) == 0 && !std::ferror(stdout)
               ? Status::Ok()
               : Status(Code::kIoError, fmt::format("writing stdout: {}", std::strerror(errno)));
  }
  const std::string temporary = fmt::format("{}.tmp-{}", path, ::getpid());
  std::unique_ptr<std::FILE, FileCloser> out(std::fopen(temporary.c_str(), "wb"));
  if (out == nullptr) {
    return Status(Code::kIoError,
                  fmt::format("cannot write --output {}: {}", path, std::strerror(errno)));
  }
  write(out.get());
  const bool ok =
      std::fflush(out.get()) == 0 && !std::ferror(out.get()) && ::fsync(::fileno(out.get())) == 0;
  const int saved = errno;
  out.reset();
  std::error_code ec;
  if (ok) std::filesystem::rename(temporary, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(temporary, ec);
    return Status(Code::kIoError, fmt::format("cannot write --output {}: {}", path,
                                              ok ? ec.message() : std::strerror(saved)));
  }
  return Status::Ok();
}

std::string PeriodName(const ExportOptions& o) {
  return o.month.empty() ? fmt::format("{} to {}", o.from, o.to) : o.month;
}

}  // namespace

CLI::App* AddExportCommand(CLI::App& app, ExportOptions* options) {
  CLI::App* exp = app.add_subcommand(
      "export", "Write usage rows of a month or a range of days as CSV or NDJSON, for billing");
  exp->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  exp->add_option("--data-dir", options->data_dir, "Directory of the store; required")
      ->envname("KEYMETER_DATA_DIR");
  CLI::Option* month =
      exp->add_option("--month", options->month, "Calendar month YYYY-MM (UTC): month buckets");
  CLI::Option* from =
      exp->add_option("--from", options->from, "First day YYYY-MM-DD (UTC): day buckets summed");
  CLI::Option* to = exp->add_option("--to", options->to, "Last day YYYY-MM-DD, included");
  exp->add_option("--by", options->by, "One row per account, root key, key, or key and product")
      ->check(CLI::IsMember({"account", "root", "key", "product"}))
      ->capture_default_str();
  exp->add_option("--format", options->format, "csv or ndjson")
      ->check(CLI::IsMember({"csv", "ndjson"}))
      ->capture_default_str();
  CLI::Option* output =
      exp->add_option("--output", options->output, "Write to FILE (atomically) instead of stdout");
  CLI::Option* requests = exp->add_flag(
      "--requests", options->requests,
      "Request-level rows from the request log (time, account, key, request id, product, units, "
      "status, bytes, latency, ip, gateway) instead of usage rows");
  exp->add_option("--account", options->account, "With --requests: only this account")
      ->needs(requests);
  exp->add_option("--key", options->key, "With --requests: only this key (its 8-character id)")
      ->needs(requests);
  exp->add_option("--output-dir", options->output_dir,
                  "With --requests: one file per UTC day in DIR (requests-YYYY-MM-DD.csv|ndjson)")
      ->needs(requests)
      ->excludes(output);
  // The projector closes months by the same lateness (KEYMETER_BILLING_LATENESS_SECONDS).
  if (auto v = cli::EnvUnsigned("KEYMETER_BILLING_LATENESS_SECONDS")) {
    options->lateness = std::to_string(*v) + "s";
  }
  exp->add_option("--lateness", options->lateness,
                  "Allowed lateness: complete once the watermark is this far past the period's "
                  "end (e.g. 1h, 30m, 2d, 0; default KEYMETER_BILLING_LATENESS_SECONDS, else 1h)")
      ->capture_default_str();
  month->excludes(from);
  month->excludes(to);
  from->needs(to);
  to->needs(from);
  exp->footer(
      "Exactly one of --month or --from/--to. Exit codes: 0 written, 1 runtime failure, 2 usage."
      "\nExample: keymeter export --data-dir /var/lib/keymeter --month 2026-03 --by key");
  exp->callback([options] {
    if (options->data_dir.empty()) throw CLI::RequiredError("--data-dir (or KEYMETER_DATA_DIR)");
    ExportQuery& q = options->query;
    if (!options->month.empty()) {
      const std::optional<TimeUs> start = ParseMonth(options->month);
      if (!start) {
        throw CLI::ValidationError("--month", "expected YYYY-MM, got '" + options->month + "'");
      }
      q.from_us = *start;
      q.to_us = NextMonthStart(*start);
      q.month = true;
    } else if (!options->from.empty()) {
      const std::optional<TimeUs> first = cli::ParseDate(options->from);
      const std::optional<TimeUs> last = cli::ParseDate(options->to);
      if (!first)
        throw CLI::ValidationError("--from", "expected YYYY-MM-DD, got '" + options->from + "'");
      if (!last)
        throw CLI::ValidationError("--to", "expected YYYY-MM-DD, got '" + options->to + "'");
      if (*first > *last) throw CLI::ValidationError("--from", "is after --to");
      q.from_us = *first;
      q.to_us = *last + kMicrosPerDay;
    } else {
      throw CLI::RequiredError("--month, or --from and --to");
    }
    const std::optional<TimeUs> lateness = cli::ParseDuration(options->lateness);
    if (!lateness) {
      throw CLI::ValidationError(
          "--lateness",
          "expected a duration like 1h, 30m, 90s, 2d or 0, got '" + options->lateness + "'");
    }
    q.lateness_us = *lateness;
    q.by = ParseExportBy(options->by).value_or(ExportBy::kAccount);
    if (!options->key.empty() && !KeyId::Parse(options->key)) {
      throw CLI::ValidationError("--key", "expected a key id (8 characters of [A-Za-z0-9])");
    }
  });
  return exp;
}

namespace {

// The rows of `q` (a CSV header first) into `out`.
Result<uint64_t> WriteRequests(std::FILE* out, const Store& store, const KeyDirectory& directory,
                               const RequestExportQuery& q) {
  if (!q.ndjson) std::fputs(RequestCsvHeader().c_str(), out);
  return ExportRequests(store, directory, q, [out](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), out);
    return Status::Ok();
  });
}

// `keymeter export --requests`: to stdout, FILE, or one file per day in --output-dir.
int RunRequestExport(const ExportOptions& options, const Store& store,
                     const KeyDirectory& directory) {
  const bool ndjson = options.format == "ndjson";
  RequestExportQuery q{.from_us = options.query.from_us,
                       .to_us = options.query.to_us,
                       .account_id = options.account,
                       .ndjson = ndjson};
  if (!options.key.empty()) q.key = KeyId::Parse(options.key);
  // One output and the whole range, or one file per day, each written whole and renamed.
  std::vector<std::pair<std::string, RequestExportQuery>> outputs;
  if (options.output_dir.empty()) {
    outputs.emplace_back(options.output, q);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (ec) {
      return cli::FailWith(
          fmt::format("cannot make --output-dir {}: {}", options.output_dir, ec.message()));
    }
    for (TimeUs d = q.from_us; d < q.to_us; d += kMicrosPerDay) {
      RequestExportQuery day = q;
      day.from_us = d;
      day.to_us = d + kMicrosPerDay;
      outputs.emplace_back(fmt::format("{}/requests-{}.{}", options.output_dir,
                                       FormatRfc3339(d).substr(0, 10), ndjson ? "ndjson" : "csv"),
                           day);
    }
  }
  uint64_t rows = 0;
  size_t files = 0;
  for (const auto& [path, query] : outputs) {
    Result<uint64_t> written_rows = uint64_t(0);
    Status written = WriteOutput(path, [&, &query = query](std::FILE* out) {
      written_rows = WriteRequests(out, store, directory, query);
    });
    if (!written.ok()) return cli::FailWith(written.message());
    if (!written_rows) {
      return cli::FailWith(fmt::format("cannot read the request log of {}: {}", options.data_dir,
                                       written_rows.error().ToString()));
    }
    rows += written_rows.value();
    // A day without requests gets no file: a header alone would tell DuckDB's type sniffing
    // nothing, and a glob whose first files are such would read every column as text.
    if (!options.output_dir.empty() && written_rows.value() == 0) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    } else {
      ++files;
    }
  }
  // The peak resident set shows the export's memory does not grow with the range.
  fmt::print(stderr, "keymeter: exported {} requests of {}{}; peak RSS {} MiB\n", rows,
             PeriodName(options),
             options.output_dir.empty()
                 ? ""
                 : fmt::format(" into {} ({} files; days without requests have none)",
                               options.output_dir, files),
             PeakResidentBytes() >> 20);
  return 0;
}

}  // namespace

int RunExport(const ExportOptions& options) {
  Result<std::unique_ptr<Store>> store = cli::OpenStoreForReading(options.data_dir);
  if (!store) return cli::FailWith(store.error().message());
  KeyDirectory directory(store.value()->cfs());
  if (Status s = directory.Load(store.value()->db()); !s.ok()) {
    return cli::FailWith(
        fmt::format("cannot load the keys of {}: {}", options.data_dir, s.ToString()));
  }
  if (options.requests) return RunRequestExport(options, *store.value(), directory);
  Result<UsageExport> usage = CollectUsage(*store.value(), directory, options.query);
  if (!usage) {
    return cli::FailWith(
        fmt::format("cannot read the usage of {}: {}", options.data_dir, usage.error().ToString()));
  }
  const UsageExport& e = usage.value();
  const bool csv = options.format == "csv";
  Status written = WriteOutput(options.output, [&](std::FILE* out) {
    if (csv) std::fputs(CsvHeader().c_str(), out);
    for (const ExportRow& row : e.rows) {
      const std::string line = csv ? CsvRow(e, row) : NdjsonRow(e, row);
      std::fwrite(line.data(), 1, line.size(), out);
    }
  });
  if (!written.ok()) return cli::FailWith(written.message());
  fmt::print(stderr, "keymeter: exported {} rows of {} by {}; watermark {}, {}\n", e.rows.size(),
             PeriodName(options), options.by,
             e.watermark ? FormatRfc3339(*e.watermark) : "none (no request applied yet)",
             e.complete ? "complete" : "not complete (usage may still change)");
  return 0;
}

}  // namespace keymeter
