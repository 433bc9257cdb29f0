// `keymeter replay`, `checksum` and `export` as real processes against a real broker: a replay
// of a topic equals the live store that followed it; a replay --until T equals the log as of T
// (projected here, in process) and agrees with the live store on every hour before T; a file
// replay equals the same log projected in process; export's month rows are ReadUsage's sums and
// say whether the month is complete; `serve --read-only` serves a replayed store.
#define BOOST_TEST_MODULE replay
#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "consumers/file_source.h"
#include "consumers/kafka_producer.h"
#include "engine/partition_state.h"
#include "engine/pipeline.h"
#include "schemas/clock.h"
#include "schemas/envelope.h"
#include "tests/cli/cli_fixture.h"
#include "tests/consumers/kafka_fixture.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr int kPartitions = 4;
constexpr auto kRunFor = 120s;  // the most a `keymeter` run may print for (Keymeter)
const TimeUs kMarch = DaysFromCivil(2026, 3, 1) * kMicrosPerDay;
const TimeUs kApril = DaysFromCivil(2026, 4, 1) * kMicrosPerDay;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::map<int32_t, int64_t> Produce(const std::string& topic, const Workload& w) {
  auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
  std::map<int32_t, std::string> key_of;  // an account of each partition, to key junk with
  for (const LogMessage& m : w.log) {
    if (const fb::Envelope* env = VerifyEnvelope(Bytes(m.payload))) {
      key_of.emplace(m.partition, env->account_id()->str());
    }
  }
  std::map<int32_t, int64_t> counts;
  for (const LogMessage& m : w.log) {
    BOOST_REQUIRE(
        producer->Produce(topic, key_of.at(m.partition), Bytes(m.payload), m.log_time_us / 1000)
            .ok());
    ++counts[m.partition];
  }
  BOOST_REQUIRE(producer->Flush(60s).ok());
  BOOST_REQUIRE(producer->delivery_failures() == 0u);
  return counts;
}

// The log as of `until` by replay's rule: per partition, up to the first message whose event
// time (the log time when the projector would call it FUTURE-TIMESTAMP) is after `until`.
std::vector<LogMessage> AsOf(const std::vector<LogMessage>& log, TimeUs until) {
  std::set<int32_t> stopped;
  std::vector<LogMessage> out;
  for (const LogMessage& m : log) {
    if (stopped.contains(m.partition)) continue;
    if (const fb::Envelope* env = VerifyEnvelope(Bytes(m.payload))) {
      TimeUs t = env->op_type() == fb::Op::RequestEvent ? env->op_as_RequestEvent()->time_us()
                                                        : env->time_us();
      if (m.log_time_us > 0 && t > m.log_time_us + 5 * 60 * kMicrosPerSecond) t = m.log_time_us;
      if (t > until) {
        stopped.insert(m.partition);
        continue;
      }
    }
    out.push_back(m);
  }
  return out;
}

// Projects `log` in process, as projector_test does, and returns the checksum.
std::string ProjectInProcess(const std::vector<LogMessage>& log, const std::string& path) {
  auto store = std::move(Store::Open({.path = path}).value());
  KeyDirectory directory(store->cfs());
  QuotaWindows quota;
  EmbeddedDeadLetterSink dlq;
  Projector projector(*store, directory, quota, dlq, {});
  BOOST_REQUIRE(projector.Open("vector", 0).ok());
  VectorSource source(log, [&](int32_t p) { return projector.StoredOffset(p); });
  while (!source.AtEnd()) BOOST_REQUIRE(projector.RunBatch(source).has_value());
  return store->Checksum().value();
}

std::map<std::string, Counters> AllUsage(const std::string& path) {
  auto store = std::move(Store::Open({.path = path, .read_only = true}).value());
  return AllUsageCells(store->db(), store->cfs()[Cf::kUsage]).value();
}

// Granularity and bucket start of a usage key (projections/usage.h).
std::pair<char, TimeUs> BucketOf(const std::string& key) {
  const size_t zero = key.find('\0', 2);
  return {key[1], TimeUs(GetBigEndian64(std::string_view(key).substr(zero + 1, 8)))};
}

std::vector<std::vector<std::string>> CsvRows(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_CASE(replay_checksum_and_export_agree_with_the_live_store) {
  const auto started = Clock::now();
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.replay." + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  BOOST_REQUIRE(CreateTopic("keymeter.test.replay-dlq." + suffix, 1).ok());
  // 40 accounts, 2 s apart per step from 2026-03-31T23:30Z to about 2026-04-01T01:43Z, with late
  // events landing up to 3 days back in March.
  const Workload w = MakeWorkload(
      13, 40, 4000, [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  const std::map<int32_t, int64_t> produced = Produce(topic, w);

  TempDir tmp;
  const std::string live = tmp.sub("live");
  std::string live_checksum;
  std::optional<TimeUs> watermark;
  {
    auto pipeline = std::move(Pipeline::Open({.data_dir = live,
                                              .brokers = Brokers(),
                                              .topic = topic,
                                              .group = "live-" + suffix,
                                              .dlq_topic = "keymeter.test.replay-dlq." + suffix})
                                  .value());
    pipeline->Start();
    auto done = [&] {
      std::map<int32_t, PartitionRecord> parts = pipeline->projector().Partitions();
      for (const auto& [p, n] : produced) {
        if (!parts.contains(p) || parts[p].next_offset < n) return false;
      }
      return true;
    };
    for (auto deadline = Clock::now() + 60s; !done() && Clock::now() < deadline;) {
      std::this_thread::sleep_for(100ms);
    }
    pipeline->Stop();
    BOOST_REQUIRE_MESSAGE(done(), "the live pipeline did not reach the end of the topic");
    BOOST_REQUIRE(pipeline->projector().stats().requests_applied == w.expected.accepted);
    live_checksum = pipeline->store().Checksum().value();
    watermark = pipeline->projector().Watermark();
  }
  BOOST_REQUIRE(watermark.has_value());
  BOOST_TEST_MESSAGE("live store built after " << (Clock::now() - started) / 1s << " s");

  // A replay of the whole topic is the live store, checksum for checksum.
  const Run replay = Keymeter(
      {"replay", "--data-dir", tmp.sub("replay"), "--brokers", Brokers(), "--topic", topic}, tmp,
      kRunFor);
  BOOST_REQUIRE_MESSAGE(replay.code == 0, replay.err);
  BOOST_CHECK_MESSAGE(
      replay.out.find("replay done: " + std::to_string(w.log.size()) + " messages") == 0u,
      replay.out);
  BOOST_TEST_MESSAGE(replay.err << replay.out);
  BOOST_TEST(replay.err.find("keymeter: replaying " + std::to_string(w.log.size()) +
                             " messages of topic " + topic) != std::string::npos);
  BOOST_TEST(replay.err.find('\r') == std::string::npos);  // no in-place redraws in a pipe
  const Run sum = Keymeter({"checksum", "--data-dir", tmp.sub("replay")}, tmp, kRunFor);
  BOOST_TEST(sum.code == 0);
  BOOST_TEST(sum.out == live_checksum + "\n");
  const std::string live_sum = Keymeter({"checksum", "--data-dir", live}, tmp, kRunFor).out;
  BOOST_TEST(live_sum == live_checksum + "\n");
  // Partition by partition too: the whole line, then one line per partition of the topic.
  const std::string live_parts =
      Keymeter({"checksum", "--data-dir", live, "--partitions"}, tmp, kRunFor).out;
  BOOST_TEST(live_parts.rfind(live_checksum + "\npartition 0 ", 0) == 0u, live_parts);
  BOOST_TEST(std::count(live_parts.begin(), live_parts.end(), '\n') == 5);
  BOOST_TEST(Keymeter({"checksum", "--data-dir", tmp.sub("replay"), "--partitions"}, tmp, kRunFor)
                 .out == live_parts);

  // `keymeter log` prints the topic as NDJSON; replaying that file is the live store again.
  const Run printed =
      Keymeter({"log", "--brokers", Brokers(), "--topic", topic, "--output", tmp.sub("log.ndjson")},
               tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(printed.code == 0, printed.err);
  BOOST_TEST(printed.err.find("keymeter log: " + std::to_string(w.log.size()) + " lines of " +
                              std::to_string(w.log.size()) + " messages read from 4 partitions") !=
                 std::string::npos,
             printed.err);
  const Run from_log = Keymeter(
      {"replay", "--data-dir", tmp.sub("from-log"), "--file", tmp.sub("log.ndjson")}, tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(from_log.code == 0, from_log.err);
  BOOST_TEST(Keymeter({"checksum", "--data-dir", tmp.sub("from-log"), "--partitions"}, tmp, kRunFor)
                 .out == live_parts);
  // Filters and a range: one account's key ops of partition 1 from offset 5 to 200.
  const std::string one_account = [&] {
    for (const LogMessage& m : w.log) {
      const fb::Envelope* env = VerifyEnvelope(Bytes(m.payload));
      if (m.partition == 1 && env != nullptr && env->op_type() == fb::Op::KeyIssued) {
        return env->account_id()->str();
      }
    }
    return std::string();
  }();
  const Run some = Keymeter({"log", "--brokers", Brokers(), "--topic", topic, "--partition", "1",
                             "--from", "5", "--to", "200", "--account", one_account, "--op",
                             "KeyIssued", "--op", "RequestEvent"},
                            tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(some.code == 0, some.err);
  size_t expected_lines = 0;
  {
    std::map<int32_t, int64_t> offset;
    for (const LogMessage& m : w.log) {
      const int64_t at = offset[m.partition]++;
      const fb::Envelope* env = VerifyEnvelope(Bytes(m.payload));
      if (m.partition == 1 && at >= 5 && at < 200 && env != nullptr &&
          env->account_id()->str() == one_account &&
          (env->op_type() == fb::Op::KeyIssued || env->op_type() == fb::Op::RequestEvent)) {
        ++expected_lines;
      }
    }
  }
  BOOST_TEST(expected_lines > 0u);
  BOOST_TEST(size_t(std::count(some.out.begin(), some.out.end(), '\n')) == expected_lines);
  BOOST_TEST(some.out.find("\"account_id\":\"" + one_account + "\"") != std::string::npos);
  BOOST_TEST(some.out.find("\"op\":\"RequestEvent\"") != std::string::npos);
  BOOST_TEST(some.out.find("\"partition\":0") == std::string::npos);

  // --until: the log as of T, and every hour bucket before T as in the live store.
  const TimeUs until = kApril + kMicrosPerHour;  // 2026-04-01T01:00:00Z
  const Run asof = Keymeter({"replay", "--data-dir", tmp.sub("until"), "--brokers", Brokers(),
                             "--topic", topic, "--until", "2026-04-01T01:00:00Z"},
                            tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(asof.code == 0, asof.err);
  BOOST_TEST_MESSAGE(asof.out);
  BOOST_CHECK_MESSAGE(asof.out.find("stopped 4 of 4 partitions") != std::string::npos, asof.out);
  const std::string until_sum =
      Keymeter({"checksum", "--data-dir", tmp.sub("until")}, tmp, kRunFor).out;
  BOOST_TEST(until_sum == ProjectInProcess(AsOf(w.log, until), tmp.sub("asof-reference")) + "\n");
  const std::map<std::string, Counters> live_usage = AllUsage(live);
  const std::map<std::string, Counters> until_usage = AllUsage(tmp.sub("until"));
  size_t compared = 0;
  for (const auto& [key, counters] : live_usage) {
    const auto [granularity, bucket] = BucketOf(key);
    if (granularity != 'h' || bucket < HourStart(w.log.front().log_time_us) ||
        bucket + kMicrosPerHour > until) {
      continue;
    }
    ++compared;
    BOOST_TEST((until_usage.contains(key) && until_usage.at(key) == counters));
  }
  BOOST_TEST(compared > 100u);
  for (const auto& [key, counters] : until_usage) BOOST_TEST(BucketOf(key).second <= until);
  BOOST_TEST(until_usage.size() < live_usage.size());

  // --from: each partition starts at its first message logged at or after it.
  const TimeUs from = kApril;
  size_t from_messages = 0;
  for (const LogMessage& m : w.log) from_messages += m.log_time_us >= from ? 1 : 0;
  const Run tail = Keymeter({"replay", "--data-dir", tmp.sub("from"), "--brokers", Brokers(),
                             "--topic", topic, "--from", "2026-04-01T00:00:00Z"},
                            tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(tail.code == 0, tail.err);
  BOOST_CHECK_MESSAGE(
      tail.out.find("replay done: " + std::to_string(from_messages) + " messages") == 0u, tail.out);

  // A file of length-prefixed envelopes replays like the same log projected in process (one
  // partition, no log times).
  std::vector<LogMessage> one_partition = w.log;
  {
    std::ofstream file(tmp.sub("log.kmev"), std::ios::binary);
    for (LogMessage& m : one_partition) {
      BOOST_REQUIRE(AppendLengthPrefixed(file, Bytes(m.payload)).ok());
      m.partition = 0;
      m.log_time_us = 0;
    }
  }
  const Run from_file = Keymeter(
      {"replay", "--data-dir", tmp.sub("file"), "--file", tmp.sub("log.kmev"), "--format", "fb"},
      tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(from_file.code == 0, from_file.err);
  const std::string file_sum =
      Keymeter({"checksum", "--data-dir", tmp.sub("file")}, tmp, kRunFor).out;
  BOOST_TEST(file_sum == ProjectInProcess(one_partition, tmp.sub("file-reference")) + "\n");

  // export --month of a closed month: ReadUsage's month cells, complete, the store's watermark.
  const Run march = Keymeter({"export", "--data-dir", live, "--month", "2026-03"}, tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(march.code == 0, march.err);
  const auto rows = CsvRows(march.out);
  BOOST_REQUIRE(rows.size() == 41u);  // header + 40 accounts
  BOOST_TEST(rows[0].size() == 20u);
  BOOST_TEST(rows[0][0] == "period_start");
  {
    auto store = std::move(Store::Open({.path = live, .read_only = true}).value());
    for (size_t i = 1; i < rows.size(); ++i) {
      const std::vector<std::string>& r = rows[i];
      BOOST_REQUIRE(r.size() == 20u);
      BOOST_TEST(r[0] == "2026-03-01T00:00:00Z");
      BOOST_TEST(r[1] == "2026-04-01T00:00:00Z");
      Counters c = ReadUsageCell(store->db(), store->cfs()[Cf::kUsage], UsageScope::kAccount,
                                 Granularity::kMonth, r[2], kMarch)
                       .value();
      BOOST_TEST(c.requests > 0u);
      BOOST_TEST(r[6] == std::to_string(c.requests));
      BOOST_TEST(r[7] == std::to_string(c.units));
      BOOST_TEST(r[8] == std::to_string(c.errors_4xx));
      BOOST_TEST(r[9] == std::to_string(c.errors_5xx));
      BOOST_TEST(r[10] == std::to_string(c.bytes_in));
      BOOST_TEST(r[11] == std::to_string(c.bytes_out));
      BOOST_TEST(r[12] == FormatRfc3339(*watermark));
      BOOST_TEST(r[13] == "true");
    }
  }
  // The same days summed from day buckets give the same numbers.
  const auto days =
      CsvRows(Keymeter({"export", "--data-dir", live, "--from", "2026-03-28", "--to", "2026-03-31"},
                       tmp, kRunFor)
                  .out);
  BOOST_REQUIRE(days.size() == rows.size());
  for (size_t i = 1; i < rows.size(); ++i) {
    BOOST_TEST(std::vector(days[i].begin() + 2, days[i].end()) ==
               std::vector(rows[i].begin() + 2, rows[i].end()));
  }
  // An open month says so.
  const Run april = Keymeter(
      {"export", "--data-dir", live, "--month", "2026-04", "--by", "key", "--format", "ndjson"},
      tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(april.code == 0, april.err);
  BOOST_TEST(april.out.find("\"complete\":false") != std::string::npos);
  BOOST_TEST(april.out.find("\"complete\":true") == std::string::npos);
  BOOST_TEST(april.err.find("not complete") != std::string::npos);

  // `serve --read-only` serves the replayed store.
  auto server =
      Spawn({"serve", "--data-dir", tmp.sub("replay"), "--listen", "127.0.0.1:0", "--read-only"},
            tmp.sub("serve.err"));
  const uint16_t port = PortOf(server->ReadLine(30s));
  BOOST_TEST(WaitHealthy(port).has_value());
  ::kill(server->pid, SIGTERM);
  BOOST_TEST(server->Wait(15s) == 0);

  // `keymeter log --follow` prints what arrives after it started, until it is stopped.
  auto follow = Spawn({"log", "--brokers", Brokers(), "--topic", topic, "--follow", "--op",
                       "AccountConfigSet"},
                      tmp.sub("follow.err"));
  std::this_thread::sleep_for(3s);  // it has read the topic (nothing of that op in it)
  {
    auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
    const std::string op = BuildAccountConfigSet(
        {"follow-" + suffix, NowUs(), fb::ActorKind::AccountAdmin, "", one_account}, true);
    BOOST_REQUIRE(producer->Produce(topic, one_account, Bytes(op), NowUs() / 1000).ok());
    BOOST_REQUIRE(producer->Flush(30s).ok());
  }
  const std::string line = follow->ReadLine(30s);
  BOOST_TEST(line.find("\"command_id\":\"follow-" + suffix + "\"") != std::string::npos, line);
  BOOST_TEST(line.find("\"data\":{\"require_confirmation\":true}") != std::string::npos, line);
  ::kill(follow->pid, SIGTERM);
  BOOST_TEST(follow->Wait(15s) == 0);
  BOOST_TEST_MESSAGE("done after " << (Clock::now() - started) / 1s << " s");
}

// A file has no log time: replay measures FUTURE-TIMESTAMP against its own start, so a year-2100
// event is dead-lettered as it would be from a topic, and never moves the watermark (which
// retention measures from).
BOOST_AUTO_TEST_CASE(a_far_future_event_in_a_file_is_dead_lettered) {
  TempDir tmp;
  const TimeUs now = NowUs();
  EnvelopeHeader h{.time_us = now, .actor = fb::ActorKind::Operator, .account_id = "acctFile"};
  RequestFields future{.key_id = "FileKey1", .account_id = "acctFile",
                       .time_us = DaysFromCivil(2100, 1, 1) * kMicrosPerDay};
  RequestFields today = future;
  today.request_id[0] = 1;
  today.time_us = now - kMicrosPerSecond;
  {
    std::ofstream file(tmp.sub("future.kmev"), std::ios::binary);
    for (const std::string& e :
         {BuildAccountCreated(h, "file", Sha256("t"), false),
          BuildKeyIssued(h, "FileKey1", Sha256("k"), "k", "", fb::KeyStatus::Active),
          BuildRequestEvent(future), BuildRequestEvent(today)}) {
      BOOST_REQUIRE(AppendLengthPrefixed(file, Bytes(e)).ok());
    }
  }
  const Run run = Keymeter({"replay", "--data-dir", tmp.sub("db"), "--file",
                            tmp.sub("future.kmev"), "--format", "fb"},
                           tmp, kRunFor);
  BOOST_REQUIRE_MESSAGE(run.code == 0, run.err);
  BOOST_TEST(run.out.find("1 requests applied, 2 ops, 0 duplicates, 1 dead letters") !=
                 std::string::npos,
             run.out);
  auto store = std::move(Store::Open({.path = tmp.sub("db"), .read_only = true}).value());
  const std::optional<TimeUs> watermark = StoreWatermark(*store).value();
  BOOST_TEST((watermark && *watermark == today.time_us));
}
