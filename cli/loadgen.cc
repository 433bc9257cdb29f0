#include "cli/loadgen.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cli/common.h"
#include "cli/loadgen_population.h"
#include "cli/loadgen_workload.h"
#include "consumers/kafka_producer.h"
#include "http/client.h"
#include "schemas/clock.h"
#include "schemas/envelope_builder.h"

namespace keymeter {

namespace {

using Clock = std::chrono::steady_clock;
using HostPort = std::pair<std::string, uint16_t>;

constexpr const char* kProducts[] = {"whois", "dns", "ssl", "ip-geo"};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Creates the accounts of `gen` and their keys (roots before children), a few accounts per
// thread. Returns the population with the server's account and key ids.
Result<Population> Setup(const HostPort& at, const std::string& operator_token,
                         const Loadgen& gen) {
  std::vector<std::string> key_ids(gen.keys().size());
  std::vector<std::string> account_ids(gen.accounts().size());
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
          return Status(Code::kLoadgenSetupFailed, fmt::format("POST {} answered {}: {}", target,
                                                               r.value().status, r.value().body));
        }
        return std::move(r.value().body);
      };
      Result<std::string> account =
          call("/v1/accounts", operator_token,
               fmt::format(R"({{"name":"loadgen {}"}})", gen.accounts()[a]));
      if (!account) return fail(account.error());
      const std::string admin = http::JsonString(account.value(), "/admin_token").value_or("");
      account_ids[a] = http::JsonString(account.value(), "/account_id").value_or("");
      for (size_t k : keys_of[a]) {
        const LoadgenKey& key = gen.keys()[k];
        const std::string parent = key.parent.empty() ? "" : server_id[key.parent];
        Result<std::string> issued = call(
            "/v1/keys", admin,
            fmt::format(R"({{"label":"loadgen {}","parent":"{}","status":"active"}})", key.id,
                        parent));
        if (!issued) return fail(issued.error());
        server_id[key.id] = key_ids[k] = http::JsonString(issued.value(), "/key_id").value_or("");
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

  Population population;
  population.products.assign(std::begin(kProducts), std::end(kProducts));
  population.accounts = account_ids;
  std::unordered_map<std::string, std::string> id_of;  // loadgen id -> server id
  for (size_t k = 0; k < gen.keys().size(); ++k) id_of[gen.keys()[k].id] = key_ids[k];
  for (size_t k = 0; k < gen.keys().size(); ++k) {
    const LoadgenKey& key = gen.keys()[k];
    population.keys.push_back({key_ids[k], account_ids[account_index.at(key.account)],
                               key.parent.empty() ? "" : id_of.at(key.parent)});
  }
  return population;
}

// Request events over the population: Zipf-popular keys, its products, a status mix.
class EventMaker {
 public:
  EventMaker(const Population& population, uint64_t seed)
      : population_(population),
        zipf_(population.keys.size(), 1.1, seed),
        rng_(seed ^ std::random_device{}()),
        run_id_(rng_()) {}

  RequestFields Next(TimeUs now) {
    const PopulationKey& key = population_.keys[zipf_.Pick(rng_)];
    RequestFields r;
    const uint64_t seq = sequence_++;
    std::memcpy(r.request_id.data(), &run_id_, 8);
    std::memcpy(r.request_id.data() + 8, &seq, 8);
    r.key_id = key.key_id;
    r.account_id = key.account_id;
    r.time_us = now;
    r.product = population_.products[rng_() % population_.products.size()];
    r.units = 1 + uint32_t(rng_() % 3);
    const uint64_t roll = rng_() % 1000;
    r.status = roll < 25 ? 404 : roll < 50 ? 503 : 200;
    r.bytes_in = 200 + rng_() % 800;
    r.bytes_out = 500 + rng_() % 5000;
    r.latency_us = 1000 + uint32_t(rng_() % 20000);
    r.client_ip = "198.51.100.7";
    r.gateway_id = "loadgen";
    return r;
  }

 private:
  const Population& population_;
  ZipfPicker zipf_;
  std::mt19937_64 rng_;
  uint64_t run_id_;
  uint64_t sequence_ = 0;
};

struct BatchOutcome {
  int64_t accepted = 0;
  bool failed = false;  // the batch as a whole was not taken
};

// Where events go: one batch at a time.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual BatchOutcome Send(const std::vector<RequestFields>& batch) = 0;
};

std::string HexId(const std::array<uint8_t, 16>& bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// POST /v1/events, NDJSON.
class HttpSink : public EventSink {
 public:
  HttpSink(const HostPort& at, std::string gateway_token)
      : client_(at.first, at.second), token_(std::move(gateway_token)) {}
  BatchOutcome Send(const std::vector<RequestFields>& batch) override {
    std::string body;
    for (const RequestFields& r : batch) {
      body += fmt::format(
          R"({{"request_id":"{}","key_id":"{}","time_us":{},"product":"{}","units":{},)"
          R"("status":{},"bytes_in":{},"bytes_out":{},"latency_us":{},"ip":"{}","gateway":"{}"}})"
          "\n",
          HexId(r.request_id), r.key_id, r.time_us, r.product, r.units, r.status, r.bytes_in,
          r.bytes_out, r.latency_us, r.client_ip, r.gateway_id);
    }
    Result<http::ClientReply> reply =
        client_.Send("POST", "/v1/events", token_, body, "application/x-ndjson");
    if (!reply || reply.value().status != 200) return {0, true};
    return {http::JsonInt(reply.value().body, "/accepted").value_or(0), false};
  }

 private:
  http::Client client_;
  std::string token_;
};

// A gateway credential "loadgen" made with the operator token for this run, revoked when the
// run ends (no live token is left behind).
class RunGateway {
 public:
  RunGateway(const HostPort& at, std::string operator_token)
      : client_(at.first, at.second), operator_token_(std::move(operator_token)) {}
  ~RunGateway() {
    if (!id_.empty()) (void)client_.Send("DELETE", "/v1/gateways/" + id_, operator_token_);
  }
  // Creates it; its token.
  Result<std::string> Create() {
    Result<http::ClientReply> r =
        client_.Send("POST", "/v1/gateways", operator_token_, R"({"name":"loadgen"})");
    if (!r) return r.error();
    if (r.value().status != 201) {
      return Status(Code::kLoadgenSetupFailed, fmt::format("POST /v1/gateways answered {}: {}",
                                                           r.value().status, r.value().body));
    }
    id_ = http::JsonString(r.value().body, "/gateway_id").value_or("");
    return http::JsonString(r.value().body, "/token").value_or("");
  }

 private:
  http::Client client_;
  const std::string operator_token_;
  std::string id_;
};

// Request envelopes produced to the topic, keyed by account id; a batch is flushed before the
// next, so "accepted" counts what the broker acknowledged.
class KafkaSink : public EventSink {
 public:
  KafkaSink(std::unique_ptr<KafkaProducer> producer, std::string topic)
      : producer_(std::move(producer)), topic_(std::move(topic)) {}
  BatchOutcome Send(const std::vector<RequestFields>& batch) override {
    const uint64_t delivered_before = producer_->delivered();
    for (const RequestFields& r : batch) {
      const std::string envelope = BuildRequestEvent(r);
      Status s = producer_->Produce(
          topic_, r.account_id,
          std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()));
      if (!s.ok()) {
        (void)producer_->Flush(std::chrono::seconds(30));
        return {int64_t(producer_->delivered() - delivered_before), true};
      }
    }
    const Status flushed = producer_->Flush(std::chrono::seconds(30));
    return {int64_t(producer_->delivered() - delivered_before), !flushed.ok()};
  }

 private:
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
};

}  // namespace

CLI::App* AddLoadgenCommand(CLI::App& app, LoadgenCommandOptions* options) {
  CLI::App* cmd = app.add_subcommand(
      "loadgen",
      "Gateway traffic into keymeter: request events of Zipf-popular keys to POST /v1/events "
      "(--url) or to Kafka (--brokers). --setup first creates accounts and keys through the API "
      "(and saves them with --population FILE); without --setup, --population FILE is read");
  cmd->add_option("--url", options->url,
                  "keymeter's API, http://HOST:PORT: for --setup, and for events without --brokers");
  cmd->add_flag("--setup", options->setup, "Create the accounts and keys through the API first");
  cmd->add_option("--operator-token", options->operator_token,
                  "Operator token of the server (for --setup)")
      ->envname("KEYMETER_OPERATOR_TOKEN");
  cmd->add_option("--gateway-token", options->gateway_token,
                  "Gateway token for POST /v1/events (default: a new gateway, made with the "
                  "operator token)")
      ->envname("KEYMETER_GATEWAY_TOKEN");
  cmd->add_option("--population", options->population,
                  "File of the population (ids only, no secrets): written by --setup, read "
                  "without it");
  auto* brokers = cmd->add_option("--brokers", options->brokers,
                                  "Produce events to Kafka (H:P[,H:P]) instead of POSTing them");
  cmd->add_option("--topic", options->topic, "Kafka topic of the events")
      ->needs(brokers)
      ->capture_default_str();
  cmd->add_option("--accounts", options->accounts, "Accounts to create (--setup), 1..100000")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  cmd->add_option("--keys", options->keys,
                  "Keys to create in all (--setup; a third children), >= accounts")
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
    if (options->setup) {
      if (options->url.empty()) throw CLI::RequiredError("--url (the API to create keys with) with --setup");
      if (options->operator_token.empty()) {
        throw CLI::RequiredError("--operator-token (or KEYMETER_OPERATOR_TOKEN) with --setup");
      }
      if (options->keys < options->accounts) {
        throw CLI::ValidationError("--keys",
                                   "must be at least --accounts (every account has a root)");
      }
    } else if (options->population.empty()) {
      throw CLI::RequiredError(
          "--population FILE (from an earlier --setup --population FILE), or --setup");
    }
    if (options->url.empty() && options->brokers.empty()) {
      throw CLI::RequiredError("--url or --brokers (where to send the events)");
    }
    if (!options->url.empty() && !http::ParseHostPort(options->url)) {
      throw CLI::ValidationError("--url", "wants http://HOST:PORT");
    }
    if (options->brokers.empty() && options->gateway_token.empty() &&
        options->operator_token.empty()) {
      throw CLI::RequiredError("--gateway-token (or --operator-token to make one) for --url");
    }
    if (!options->duration.empty() && !cli::ParseDuration(options->duration)) {
      throw CLI::ValidationError("--duration", "wants e.g. 90s, 15m, 1h");
    }
  });
  return cmd;
}

int RunLoadgen(const LoadgenCommandOptions& options) {
  Population population;
  double setup_seconds = 0;
  if (options.setup) {
    const HostPort at = *http::ParseHostPort(options.url);
    LoadgenOptions shape;
    shape.accounts = options.accounts;
    shape.keys = options.keys;
    shape.seed = options.seed;
    const Loadgen gen(shape);
    const Clock::time_point setup_start = Clock::now();
    Result<Population> made = Setup(at, options.operator_token, gen);
    if (!made) return cli::FailWith("setup failed: " + made.error().ToString());
    population = std::move(made.value());
    setup_seconds = SecondsSince(setup_start);
    if (!options.population.empty()) {
      if (Status s = SavePopulation(options.population, population); !s.ok()) {
        return cli::FailWith("cannot save the population: " + s.ToString());
      }
    }
  } else {
    Result<Population> loaded = LoadPopulation(options.population);
    if (!loaded) return cli::FailWith(loaded.error().message());
    population = std::move(loaded.value());
  }

  std::unique_ptr<EventSink> sink;
  std::optional<RunGateway> gateway;  // outlives the sink: revoked once the run is over
  if (!options.brokers.empty()) {
    Result<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({.brokers = options.brokers});
    if (!producer) return cli::FailWith("kafka producer: " + producer.error().ToString());
    sink = std::make_unique<KafkaSink>(std::move(producer.value()), options.topic);
  } else {
    const HostPort at = *http::ParseHostPort(options.url);
    std::string token = options.gateway_token;
    if (token.empty()) {
      Result<std::string> made = gateway.emplace(at, options.operator_token).Create();
      if (!made) return cli::FailWith("cannot create a gateway: " + made.error().ToString());
      token = std::move(made.value());
    }
    sink = std::make_unique<HttpSink>(at, std::move(token));
  }

  const int64_t count = options.count > 0 ? options.count : options.duration.empty() ? 10'000 : 0;
  const double duration_s =
      options.duration.empty() ? 0 : double(*cli::ParseDuration(options.duration)) / 1e6;
  const int64_t batch_max =
      options.rate > 0 ? std::clamp<int64_t>(int64_t(options.rate / 10), 1, 1000) : 1000;
  EventMaker events(population, options.seed);
  int64_t sent = 0, accepted = 0, rejected = 0, failed_batches = 0;
  std::vector<RequestFields> batch;
  const Clock::time_point start = Clock::now();
  while (count > 0 ? sent < count : SecondsSince(start) < duration_s) {
    if (options.rate > 0) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(double(sent) / options.rate));
      std::this_thread::sleep_until(due);
    }
    const int64_t n = count > 0 ? std::min(batch_max, count - sent) : batch_max;
    const TimeUs now = NowUs();
    batch.clear();
    for (int64_t i = 0; i < n; ++i) batch.push_back(events.Next(now));
    const BatchOutcome outcome = sink->Send(batch);
    sent += n;
    if (outcome.failed) ++failed_batches;
    accepted += outcome.accepted;
    if (!outcome.failed) rejected += n - outcome.accepted;
  }
  const double seconds = SecondsSince(start);
  fmt::print(
      R"({{"target":"{}","accounts":{},"keys":{},"setup_seconds":{:.3f},"events_sent":{},)"
      R"("accepted":{},"rejected":{},"failed_batches":{},"seconds":{:.3f},)"
      R"("events_per_second":{:.1f}}})"
      "\n",
      options.brokers.empty() ? "http" : "kafka", population.accounts.size(),
      population.keys.size(), setup_seconds, sent, accepted, rejected, failed_batches, seconds,
      seconds > 0 ? double(sent) / seconds : 0.0);
  std::fflush(stdout);
  return failed_batches == 0 && rejected == 0 ? 0 : 1;
}

}  // namespace keymeter
