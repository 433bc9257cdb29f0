#include "engine/cli_loadgen.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/cli_common.h"
#include "engine/http_client.h"
#include "engine/loadgen.h"
#include "engine/secrets.h"

namespace keymeter {

namespace {

using Clock = std::chrono::steady_clock;
using HostPort = std::pair<std::string, uint16_t>;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Creates the accounts of `gen` and their keys (roots before children), a few accounts per
// thread. Returns the server's key id for each of gen.keys(), in the same order.
Result<std::vector<std::string>> Setup(const HostPort& at, const std::string& operator_token,
                                       const Loadgen& gen) {
  std::vector<std::string> ids(gen.keys().size());
  std::unordered_map<std::string, size_t> account_index;
  for (size_t a = 0; a < gen.accounts().size(); ++a) account_index[gen.accounts()[a]] = a;
  std::vector<std::vector<size_t>> keys_of(gen.accounts().size());  // in gen.keys() order
  for (size_t k = 0; k < gen.keys().size(); ++k) {
    keys_of[account_index.at(gen.keys()[k].account)].push_back(k);
  }
  std::mutex mu;
  Status first_error;  // guarded by mu
  auto worker = [&](size_t first, size_t stride) {
    http::Client client(at.first, at.second);
    std::unordered_map<std::string, std::string> server_id;  // loadgen id -> server id
    for (size_t a = first; a < keys_of.size(); a += stride) {
      auto fail = [&](Status s) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = std::move(s);
      };
      auto call = [&](std::string_view target, std::string_view bearer,
                      const std::string& body) -> Result<std::string> {
        Result<http::ClientReply> r = client.Send("POST", target, bearer, body);
        if (!r) return r.error();
        if (r.value().status != 201) {
          return Status("LOADGEN-SETUP-FAILED", fmt::format("POST {} answered {}: {}", target,
                                                            r.value().status, r.value().body));
        }
        return std::move(r.value().body);
      };
      Result<std::string> account =
          call("/v1/accounts", operator_token,
               fmt::format(R"({{"name":"loadgen {}"}})", gen.accounts()[a]));
      if (!account) return fail(account.error());
      const std::string admin = http::JsonString(account.value(), "/admin_token").value_or("");
      for (size_t k : keys_of[a]) {
        const LoadgenKey& key = gen.keys()[k];
        const std::string parent = key.parent.empty() ? "" : server_id[key.parent];
        Result<std::string> issued = call(
            "/v1/keys", admin,
            fmt::format(R"({{"label":"loadgen {}","parent":"{}","status":"active"}})", key.id,
                        parent));
        if (!issued) return fail(issued.error());
        server_id[key.id] = ids[k] = http::JsonString(issued.value(), "/key_id").value_or("");
      }
      std::lock_guard lock(mu);
      if (!first_error.ok()) return;
    }
  };
  const size_t threads = std::min<size_t>(8, keys_of.size());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker, t, threads);
  for (std::thread& t : pool) t.join();
  if (!first_error.ok()) return first_error;
  return ids;
}

std::string NowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

CLI::App* AddLoadgenCommand(CLI::App& app, LoadgenCommandOptions* options) {
  CLI::App* cmd = app.add_subcommand(
      "loadgen",
      "Create accounts and keys through the API, then POST request events at a rate. "
      "--setup is required for now (loading an existing population is not supported yet)");
  cmd->add_option("--url", options->url, "keymeter to drive: http://HOST:PORT")->required();
  cmd->add_flag("--setup", options->setup,
                "Create the accounts and keys first (required for now)");
  cmd->add_option("--operator-token", options->operator_token,
                  "Operator token of the server (for --setup)")
      ->envname("KEYMETER_OPERATOR_TOKEN");
  cmd->add_option("--accounts", options->accounts, "Accounts to create, 1..100000")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  cmd->add_option("--keys", options->keys, "Keys to create in all (a third children), >= accounts")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--rate", options->rate, "Events per second (0: unthrottled)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  auto* count = cmd->add_option("--count", options->count, "Events to send (default 10000)")
                    ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  cmd->add_option("--duration", options->duration, "Send for this long: 90s, 15m, 1h")
      ->excludes(count);
  cmd->add_option("--seed", options->seed, "Workload seed")->capture_default_str();
  cmd->callback([options] {
    if (!options->setup) {
      throw CLI::ValidationError("--setup", "is required for now (no existing population yet)");
    }
    if (options->operator_token.empty()) {
      throw CLI::RequiredError("--operator-token (or KEYMETER_OPERATOR_TOKEN) with --setup");
    }
    if (options->keys < options->accounts) {
      throw CLI::ValidationError("--keys", "must be at least --accounts (every account has a root)");
    }
    if (!http::ParseHostPort(options->url)) {
      throw CLI::ValidationError("--url", "wants http://HOST:PORT");
    }
    if (!options->duration.empty() && !cli::ParseDuration(options->duration)) {
      throw CLI::ValidationError("--duration", "wants e.g. 90s, 15m, 1h");
    }
  });
  return cmd;
}

int RunLoadgen(const LoadgenCommandOptions& options) {
  const HostPort at = *http::ParseHostPort(options.url);
  LoadgenOptions shape;
  shape.accounts = options.accounts;
  shape.keys = options.keys;
  shape.seed = options.seed;
  Loadgen gen(shape);
  const Clock::time_point setup_start = Clock::now();
  Result<std::vector<std::string>> ids = Setup(at, options.operator_token, gen);
  if (!ids) return cli::FailWith("setup failed: " + ids.error().ToString());
  const double setup_seconds = SecondsSince(setup_start);

  const int64_t count = options.count > 0 ? options.count : options.duration.empty() ? 10'000 : 0;
  const double duration_s =
      options.duration.empty() ? 0 : double(*cli::ParseDuration(options.duration)) / 1e6;
  const int64_t batch_max =
      options.rate > 0 ? std::clamp<int64_t>(int64_t(options.rate / 10), 1, 1000) : 1000;
  std::mt19937_64 rng(options.seed ^ std::random_device{}());
  const uint64_t run_id = rng();
  static const char* kProducts[] = {"whois", "dns", "ssl", "ip-geo"};
  http::Client client(at.first, at.second);
  int64_t sent = 0, accepted = 0, rejected = 0, failed_batches = 0;
  const Clock::time_point start = Clock::now();
  while (count > 0 ? sent < count : SecondsSince(start) < duration_s) {
    if (options.rate > 0) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(double(sent) / options.rate));
      std::this_thread::sleep_until(due);
    }
    const int64_t n = count > 0 ? std::min(batch_max, count - sent) : batch_max;
    const std::string time = NowRfc3339();
    std::string body;
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t roll = rng() % 1000;
      body += fmt::format(
          R"({{"request_id":"{:016x}{:016x}","key_id":"{}","time":"{}","product":"{}",)"
          R"("units":{},"status":{},"bytes_in":{},"bytes_out":{},"latency_us":{},)"
          R"("ip":"198.51.100.7","gateway":"loadgen"}})"
          "\n",
          run_id, uint64_t(sent + i), ids.value()[gen.PickKey()], time, kProducts[rng() % 4],
          1 + rng() % 3, roll < 25 ? 404 : roll < 50 ? 503 : 200, 200 + rng() % 800,
          500 + rng() % 5000, 1000 + rng() % 20000);
    }
    Result<http::ClientReply> reply =
        client.Send("POST", "/v1/events", "", body, "application/x-ndjson");
    sent += n;
    if (!reply || reply.value().status != 200) {
      ++failed_batches;
      continue;
    }
    const int64_t ok = http::JsonInt(reply.value().body, "/accepted").value_or(0);
    accepted += ok;
    rejected += n - ok;
  }
  const double seconds = SecondsSince(start);
  fmt::print(
      R"({{"accounts":{},"keys":{},"setup_seconds":{:.3f},"events_sent":{},"accepted":{},)"
      R"("rejected":{},"failed_batches":{},"seconds":{:.3f},"events_per_second":{:.1f}}})"
      "\n",
      options.accounts, options.keys, setup_seconds, sent, accepted, rejected, failed_batches,
      seconds, seconds > 0 ? double(sent) / seconds : 0.0);
  std::fflush(stdout);
  return failed_batches == 0 && rejected == 0 ? 0 : 1;
}

}  // namespace keymeter
