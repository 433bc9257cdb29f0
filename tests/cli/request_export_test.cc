// `keymeter export --requests` against a store a workload was replayed into: one file per UTC
// day, every applied request once, and DuckDB (from PyPI, in scripts/deps' venv) reads the CSV
// and the NDJSON files without options and finds the same counts and units the workload sent.
// Then 1,000,000 requests over 30 days: exported in bounded memory (the export reports its peak
// RSS, which must not grow with the range), and read by DuckDB. And the analyst's recipe,
// examples/analyst/report.sh, on the workload's log as `keymeter log` prints it.
#define BOOST_TEST_MODULE request_export
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>

#include <fstream>

#include "consumers/file_source.h"
#include "consumers/log_line.h"
#include "projections/time_buckets.h"
#include "bench/bench_util.h"
#include "tests/cli/cli_fixture.h"
#include "tests/engine/authorizer_fixture.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// The Python of scripts/deps' venv, where DuckDB is.
std::string VenvPython() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = cache != nullptr && *cache != '\0' ? std::string(cache)
                                                             : std::string(home ? home : "") + "/.cache";
  return base + "/keymeter/venv/bin/python";
}

// Runs `script` with DuckDB; its stdout.
std::string DuckDb(const TempDir& tmp, const std::string& script) {
  const std::string python = VenvPython();
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(python),
                        python << " is missing: run scripts/deps (it installs DuckDB there)");
  std::ofstream(tmp.sub("query.py")) << script;
  auto run = Spawn(python, {tmp.sub("query.py")}, tmp.sub("duckdb.err"));
  const std::string out = run->ReadAll(60s);
  BOOST_REQUIRE_MESSAGE(run->Wait(30s) == 0, run->Stderr());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_analysts_recipe_agrees_with_itself) {
  TempDir tmp;
  const Workload w = MakeWorkload(6, 3, 1500);
  {
    std::ofstream file(tmp.sub("log.ndjson"));
    std::map<int32_t, int64_t> offsets;
    for (const LogMessage& m : w.log) {
      std::vector<uint64_t> aligned((m.payload.size() + 7) / 8);
      std::memcpy(aligned.data(), m.payload.data(), m.payload.size());
      file << EncodeLogLine({.partition = m.partition,
                             .offset = offsets[m.partition]++,
                             .log_time_us = m.log_time_us,
                             .payload = {reinterpret_cast<const uint8_t*>(aligned.data()),
                                         m.payload.size()}})
           << "\n";
    }
  }
  const std::string python = VenvPython();
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(python), python << " is missing: run scripts/deps");
  auto run = Spawn("/bin/bash",
                   {std::string(KEYMETER_SOURCE_DIR) + "/examples/analyst/report.sh", "--month",
                    "2026-03", "--as-of", "2026-04-01T00:10:00Z", "--out", tmp.sub("report"),
                    "--file", tmp.sub("log.ndjson")},
                   tmp.sub("report.err"),
                   {std::string("KEYMETER=") + KEYMETER_BINARY, "PYTHON=" + python});
  const std::string out = run->ReadAll(120s);
  BOOST_REQUIRE_MESSAGE(run->Wait(60s) == 0, run->Stderr());
  BOOST_TEST_MESSAGE(out);
  // The month's usage and its request log tell the same story.
  uint64_t usage_requests = 0, usage_units = 0, logged = 0, logged_units = 0;
  BOOST_REQUIRE(std::sscanf(out.c_str(), "usage export: %lu requests, %lu units\nrequest log: %lu "
                            "requests, %lu units", &usage_requests, &usage_units, &logged,
                            &logged_units) == 4);
  BOOST_TEST(usage_requests > 1000u);
  BOOST_TEST(logged == usage_requests);
  BOOST_TEST(logged_units == usage_units);
  BOOST_TEST(out.find("top keys by units:\n  root ") != std::string::npos);
  BOOST_TEST(out.find("errors per day:\n  2026-03-") != std::string::npos);
  BOOST_TEST(std::filesystem::exists(tmp.sub("report/usage-2026-03.csv")));
}

BOOST_AUTO_TEST_CASE(one_file_per_day_that_duckdb_reads_as_is) {
  TempDir tmp;
  // 23:30 to 00:20 of 2026-03-31/04-01: requests on both days (late ones a few days back).
  const Workload w = MakeWorkload(4, 3, 1500);
  {
    std::ofstream file(tmp.sub("log.kmev"), std::ios::binary);
    for (const LogMessage& m : w.log) {
      BOOST_REQUIRE(AppendLengthPrefixed(file, std::span(reinterpret_cast<const uint8_t*>(
                                                              m.payload.data()),
                                                          m.payload.size()))
                        .ok());
    }
  }
  // The file's one log time is the workload's end, so that its day-ahead events are
  // FUTURE-TIMESTAMP as they were from the topic, and what is applied is what it expects.
  const Run replay =
      Keymeter({"replay", "--data-dir", tmp.sub("db"), "--file", tmp.sub("log.kmev"),
                "--log-time", FormatRfc3339(w.end_time)},
               tmp);
  BOOST_REQUIRE_MESSAGE(replay.code == 0, replay.err);
  uint64_t expected = 0;
  for (const auto& [account, n] : w.expected.requests_logged) expected += n;

  for (const std::string format : {"csv", "ndjson"}) {
    BOOST_TEST_CONTEXT(format) {
      const std::string dir = tmp.sub("out-" + format);
      const Run run = Keymeter({"export", "--requests", "--data-dir", tmp.sub("db"), "--from",
                                "2026-03-25", "--to", "2026-04-02", "--format", format,
                                "--output-dir", dir},
                               tmp);
      BOOST_REQUIRE_MESSAGE(run.code == 0, run.err);
      size_t files = 0;
      for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        BOOST_TEST(entry.path().filename().string().starts_with("requests-2026-"));
        ++files;
      }
      BOOST_TEST(files == 5u);  // the days with requests: 03-28 to 04-01
      BOOST_TEST(run.err.find("exported " + std::to_string(expected) + " requests") !=
                 std::string::npos, run.err);
      const std::string reader = format == "csv" ? "read_csv" : "read_json";
      const std::string out = DuckDb(tmp,
                                     "import duckdb\n"
                                     "r = duckdb.sql(\"select count(*), sum(units), "
                                     "count(distinct request_id), min(time) < max(time) from " +
                                         reader + "('" + dir + "/*." + format + "')\").fetchone()\n"
                                     "print(r[0], r[1], r[2], r[3])\n");
      uint64_t units = 0;
      for (const auto& [cell, counters] : w.expected.usage) {
        // Account × month cells ("am" + account + ...) hold every accepted request once.
        if (cell.size() > 2 && cell[0] == 'a' && cell[1] == 'm') units += counters.units;
      }
      BOOST_TEST_MESSAGE(format << ": duckdb says " << out);
      std::istringstream fields(out);
      uint64_t count = 0, sum = 0, distinct = 0;
      std::string ordered;
      fields >> count >> sum >> distinct >> ordered;
      BOOST_TEST(count == expected);
      BOOST_TEST(distinct == expected);  // every request once
      BOOST_TEST(sum == units);
      BOOST_TEST(ordered == "True");
    }
  }
  // One account, one key, to stdout.
  const std::string account = w.expected.requests_logged.begin()->first;
  const Run one = Keymeter({"export", "--requests", "--data-dir", tmp.sub("db"), "--month", "2026-03",
                            "--account", account},
                           tmp);
  BOOST_REQUIRE_MESSAGE(one.code == 0, one.err);
  BOOST_TEST(one.out.rfind("time,account_id,key_id,request_id,", 0) == 0u);
  BOOST_TEST(one.out.find(',' + account + ',') != std::string::npos);
  for (const auto& [other, n] : w.expected.requests_logged) {
    if (other != account) BOOST_TEST(one.out.find(',' + other + ',') == std::string::npos);
  }
  BOOST_TEST(Keymeter({"export", "--data-dir", tmp.sub("db"), "--month", "2026-03", "--account", account},
                      tmp)
                 .code == 2);  // --account needs --requests
}

namespace {

// The "peak RSS N MiB" of an export's summary line; -1 when absent.
long PeakMiB(const std::string& err) {
  const size_t at = err.find("peak RSS ");
  return at == std::string::npos ? -1 : std::stol(err.substr(at + 9));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_million_requests_over_thirty_days_in_bounded_memory) {
  TempDir tmp;
  constexpr int kKeys = 50;
  constexpr uint64_t kRequests = 1'000'000;
  const TimeUs now = NowUs();
  // 30 days back from now, in time order: none is late, none future, all within retention.
  const TimeUs first = DayStart(now) - 29 * kMicrosPerDay;
  uint64_t units = 0;
  {
    auto pipeline = OpenPipeline(tmp.sub("db"));
    pipeline->Start();
    Seeder seed(*pipeline);
    seed.Account("acctBig");
    std::vector<std::string> ids;
    for (int k = 0; k < kKeys; ++k) {
      ids.push_back(seed.Key("acctBig", fmt::format("Big{:05d}", k)).substr(0, kKeyIdLength));
    }
    const int64_t before = bench::Applied(*pipeline);
    std::mt19937_64 rng(5);
    std::vector<std::pair<std::string, std::string>> chunk;
    for (uint64_t i = 0; i < kRequests; ++i) {
      RequestFields r{.request_id = RandomRequestId(),
                      .key_id = ids[i % kKeys],
                      .account_id = "acctBig",
                      .time_us = first + TimeUs((now - first) * (double(i) / double(kRequests))),
                      .product = i % 3 ? "search" : "geo",
                      .units = uint32_t(1 + rng() % 4)};
      units += r.units;
      chunk.emplace_back(BuildRequestEvent(r), "acctBig");
      if (chunk.size() == 100'000) {
        BOOST_REQUIRE(pipeline->PublishMany(chunk).ok());
        chunk.clear();
      }
    }
    bench::WaitApplied(*pipeline, before + int64_t(kRequests));
    pipeline->Stop();
    BOOST_REQUIRE_EQUAL(pipeline->projector().stats().requests_applied, kRequests);
  }
  const std::string from = FormatRfc3339(first).substr(0, 10);
  const std::string to = FormatRfc3339(now).substr(0, 10);
  const Run day = Keymeter({"export", "--requests", "--data-dir", tmp.sub("db"), "--from", to,
                            "--to", to, "--output-dir", tmp.sub("one-day")},
                           tmp, 120s);
  BOOST_REQUIRE_MESSAGE(day.code == 0, day.err);
  const Run all = Keymeter({"export", "--requests", "--data-dir", tmp.sub("db"), "--from", from,
                            "--to", to, "--output-dir", tmp.sub("month")},
                           tmp, 300s);
  BOOST_REQUIRE_MESSAGE(all.code == 0, all.err);
  BOOST_TEST_MESSAGE("one day: " << day.err << "thirty days: " << all.err);
  BOOST_TEST(all.err.find("exported 1000000 requests") != std::string::npos, all.err);
  // Bounded: thirty days (about 80 MB of CSV) take no more memory than one.
  BOOST_REQUIRE(PeakMiB(day.err) > 0);
  BOOST_TEST(PeakMiB(all.err) <= PeakMiB(day.err) + 16, all.err);
  BOOST_TEST(PeakMiB(all.err) < 512);  // opening the store (its WAL into memtables) is most of it
  const std::string out =
      DuckDb(tmp, "import duckdb\n"
                  "r = duckdb.sql(\"select count(*), sum(units), count(distinct key_id) from "
                  "read_csv('" + tmp.sub("month") + "/*.csv')\").fetchone()\n"
                  "print(r[0], r[1], r[2])\n");
  std::istringstream fields(out);
  uint64_t count = 0, sum = 0, keys = 0;
  fields >> count >> sum >> keys;
  BOOST_TEST(count == kRequests);
  BOOST_TEST(sum == units);
  BOOST_TEST(keys == uint64_t(kKeys));
}
