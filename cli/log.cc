#include "cli/log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "cli/common.h"
#include "cli/replay_source.h"
#include "consumers/embedded_log.h"
#include "consumers/file_source.h"
#include "consumers/kafka_source.h"
#include "consumers/log_line.h"
#include "projections/column_families.h"
#include "schemas/civil_time.h"
#include "schemas/envelope.h"

namespace keymeter {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kKafkaQueryTimeout{15'000};
constexpr std::chrono::seconds kStallTimeout{60};
constexpr int64_t kNoEnd = INT64_MAX;

volatile std::sig_atomic_t g_interrupted = 0;

// Whether `env` passes the filters (an op "about" a key: see log.h).
bool Matches(const LogOptions& o, const fb::Envelope& env) {
  if (!o.account.empty() && Str(env.account_id()) != o.account) return false;
  if (!o.ops.empty() &&
      std::find(o.ops.begin(), o.ops.end(), OpName(env.op_type())) == o.ops.end()) {
    return false;
  }
  if (o.key.empty()) return true;
  if (Str(KeyIdOf(env)) == o.key) return true;
  if (env.actor() != nullptr && Str(env.actor()->key_id()) == o.key) return true;
  if (const fb::RequestEvent* r = env.op_as_RequestEvent()) return Str(r->key_id()) == o.key;
  if (const fb::ParentSet* p = env.op_as_ParentSet()) return Str(p->parent_key_id()) == o.key;
  if (const fb::KeyIssued* k = env.op_as_KeyIssued()) return Str(k->parent_key_id()) == o.key;
  return false;
}

bool Filtered(const LogOptions& o) {
  return !o.account.empty() || !o.key.empty() || !o.ops.empty();
}

class LogCommand {
 public:
  explicit LogCommand(const LogOptions& options) : options_(options) {}

  int Run() {
    if (Status s = Open(); !s.ok()) return cli::FailWith(s.message());
    if (!options_.output.empty()) {
      out_ = std::fopen(options_.output.c_str(), "wb");
      if (out_ == nullptr) return cli::FailWith("cannot write --output " + options_.output);
    }
    std::signal(SIGINT, [](int) { g_interrupted = 1; });
    std::signal(SIGTERM, [](int) { g_interrupted = 1; });
    std::signal(SIGPIPE, SIG_IGN);
    Status s = Loop();
    if (out_ != stdout) std::fclose(out_);
    if (!s.ok()) return cli::FailWith(s.message());
    fmt::print(stderr, "keymeter log: {} lines of {} messages read from {} partitions\n", printed_,
               read_, end_.size());
    return 0;
  }

 private:
  Status Open() {
    if (!options_.brokers.empty()) return OpenKafka();
    if (!options_.data_dir.empty()) return OpenEmbedded();
    return OpenFile();
  }

  // The range of each partition from its natural bounds and --partition, --from, --to offsets.
  void Bound(const std::map<int32_t, int64_t>& start, const std::map<int32_t, int64_t>& end) {
    for (const auto& [p, e] : end) {
      if (!options_.partitions.empty() &&
          std::find(options_.partitions.begin(), options_.partitions.end(), p) ==
              options_.partitions.end()) {
        start_[p] = e;  // a source reading it starts at its end: nothing is read for nothing
        continue;
      }
      int64_t first = start.contains(p) ? start.at(p) : 0;
      if (options_.from_at.offset) first = std::max(first, *options_.from_at.offset);
      int64_t last = options_.follow ? kNoEnd : e;
      if (options_.to_at.offset) last = std::min(last, *options_.to_at.offset);
      start_[p] = first;
      end_[p] = last;
      if (first >= last) done_.insert(p);
    }
  }

  std::optional<int64_t> StartOf(int32_t partition) const {
    auto it = start_.find(partition);
    if (it == start_.end()) return std::nullopt;
    return it->second;
  }

  Status OpenKafka() {
    KafkaSourceOptions o;
    o.brokers = options_.brokers;
    o.topic = options_.topic;
    o.group_id = "keymeter-log-" + cli::RandomSuffix();
    o.client_id = "keymeter-log";
    o.stored_offset = [this](int32_t p) { return StartOf(p); };
    Result<std::unique_ptr<KafkaSource>> made = KafkaSource::Create(o);
    if (!made) return made.error();
    Result<ReplayBounds> bounds =
        KafkaReplayBounds(*made.value(), options_.from_at.time, kKafkaQueryTimeout);
    if (!bounds) {
      return Status(bounds.error().code(),
                    fmt::format("cannot read the partitions of topic {} on {}: {}",
                                options_.topic, options_.brokers, bounds.error().message()));
    }
    Bound(bounds.value().start, bounds.value().end);
    source_ = std::move(made.value());
    return Status::Ok();
  }

  Status OpenEmbedded() {
    Result<std::unique_ptr<Store>> store = cli::OpenStoreForReading(options_.data_dir);
    if (!store) return store.error();
    store_ = std::move(store.value());
    Result<std::unique_ptr<EmbeddedLog>> log =
        EmbeddedLog::Open(store_->db(), store_->cfs()[Cf::kLog], {.partitions = 0});
    if (!log) return Status(log.error().code(), options_.data_dir + ": " + log.error().message());
    embedded_ = std::move(log.value());
    std::map<int32_t, int64_t> end;
    for (int32_t p = 0; p < embedded_->partitions(); ++p) end[p] = embedded_->EndOffset(p);
    Bound({}, end);
    source_ = std::make_unique<EmbeddedLogSource>(*embedded_,
                                                  [this](int32_t p) { return StartOf(p); });
    return Status::Ok();
  }

  Status OpenFile() {
    Result<ReplayBounds> bounds = FileReplayBounds(options_.file, FileFormat::kAuto);
    if (!bounds) return Status(Code::kIoError, "cannot read --file " + options_.file);
    Bound(bounds.value().start, bounds.value().end);
    FileSourceOptions o;
    o.path = options_.file;
    o.stored_offset = [this](int32_t p) { return StartOf(p); };
    Result<std::unique_ptr<FileSource>> made = FileSource::Open(std::move(o));
    if (!made) return Status(Code::kIoError, "cannot read --file " + options_.file);
    file_ = made.value().get();
    source_ = std::move(made.value());
    return Status::Ok();
  }

  // Prints `m` when it is in range and passes the filters; marks its partition done at its end.
  Status Take(const SourceMessage& m) {
    auto end = end_.find(m.partition);
    if (end == end_.end() || done_.contains(m.partition) || m.offset < start_.at(m.partition)) {
      return Status::Ok();
    }
    if (m.offset >= end->second ||
        (options_.to_at.time && m.log_time_us != 0 && m.log_time_us > *options_.to_at.time)) {
      done_.insert(m.partition);
      return Status::Ok();
    }
    ++read_;
    if (m.offset + 1 >= end->second) done_.insert(m.partition);
    if (options_.from_at.time && m.log_time_us != 0 && m.log_time_us < *options_.from_at.time) {
      return Status::Ok();
    }
    const fb::Envelope* env = VerifyEnvelope(m.payload);
    if (env == nullptr ? Filtered(options_) : !Matches(options_, *env)) return Status::Ok();
    std::string line = EncodeLogLine(
        {.partition = m.partition, .offset = m.offset, .log_time_us = m.log_time_us,
         .payload = m.payload});
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
      if (errno == EPIPE) {
        g_interrupted = 1;  // the reader went away (| head): not a failure
        return Status::Ok();
      }
      return Status(Code::kIoError, "writing the log: " + std::string(std::strerror(errno)));
    }
    ++printed_;
    return Status::Ok();
  }

  Status Loop() {
    std::vector<SourceMessage> batch;
    Clock::time_point last_progress = Clock::now();
    std::string last_warning;
    while (!g_interrupted && (options_.follow || done_.size() < end_.size())) {
      if (file_ != nullptr && source_->AtEnd()) break;
      Result<size_t> n = source_->Poll(&batch, 4096, std::chrono::milliseconds(200));
      if (!n) {
        if (n.error().message() != last_warning) spdlog::warn("log: {}", n.error().ToString());
        last_warning = n.error().message();
        if (n.error().code() != Code::kKafkaError) return n.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      } else if (n.value() > 0) {
        last_progress = Clock::now();
      }
      for (const SourceMessage& m : batch) {
        if (Status s = Take(m); !s.ok()) return s;
      }
      source_->Release();
      if (!options_.follow && Clock::now() - last_progress > kStallTimeout) {
        return Status(Code::kReplayStalled,
                      fmt::format("no message for {} s, short of the range's end{}",
                                  kStallTimeout.count(),
                                  last_warning.empty() ? "" : "; last error: " + last_warning));
      }
      if (options_.follow) std::fflush(out_);
    }
    std::fflush(out_);
    return Status::Ok();
  }

  const LogOptions& options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EmbeddedLog> embedded_;
  std::unique_ptr<Source> source_;
  FileSource* file_ = nullptr;
  std::map<int32_t, int64_t> start_, end_;
  std::set<int32_t> done_;
  std::FILE* out_ = stdout;
  uint64_t read_ = 0;
  uint64_t printed_ = 0;
};

// "2026-11-25T10:00:00Z" or a non-negative integer offset.
LogBound ParsePosition(const std::string& flag, const std::string& text) {
  LogBound at;
  if (text.empty()) return at;
  int64_t offset = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (ec == std::errc() && ptr == text.data() + text.size() && offset >= 0) {
    at.offset = offset;
    return at;
  }
  Result<TimeUs> t = ParseRfc3339(text);
  if (!t) throw CLI::ValidationError(flag, "an RFC 3339 time or an offset, not " + text);
  at.time = t.value();
  return at;
}

}  // namespace

CLI::App* AddLogCommand(CLI::App& app, LogOptions* options) {
  CLI::App* log = app.add_subcommand(
      "log", "Print the event log as NDJSON, one message a line (what replay --file reads)");
  log->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  CLI::Option* brokers =
      log->add_option("--brokers", options->brokers, "Kafka bootstrap servers H:P[,H:P]");
  CLI::Option* topic =
      log->add_option("--topic", options->topic, "Kafka topic of the events")->capture_default_str();
  CLI::Option* follow =
      log->add_flag("--follow", options->follow, "Keep printing what arrives (Kafka), until ^C");
  CLI::Option* data_dir =
      log->add_option("--data-dir", options->data_dir, "Read the embedded log of this store");
  CLI::Option* file = log->add_option(
      "--file", options->file, "Read a file: length-prefixed envelopes or NDJSON");
  log->add_option("--partition", options->partitions, "Only this partition (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  log->add_option("--from", options->from,
                  "RFC 3339 log time or offset: start each partition there (inclusive)");
  log->add_option("--to", options->to,
                  "RFC 3339 log time (inclusive) or offset (exclusive): stop each partition there");
  log->add_option("--account", options->account, "Only this account's messages");
  log->add_option("--key", options->key, "Only messages about this key id");
  log->add_option("--op", options->ops, "Only this op, e.g. KeyIssued or RequestEvent (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  log->add_option("--output", options->output, "Write the lines here instead of stdout");
  brokers->excludes(data_dir)->excludes(file);
  data_dir->excludes(file);
  topic->needs(brokers);
  follow->needs(brokers);
  log->footer(
      "Exactly one of --brokers, --data-dir or --file. Exit codes: 0 done, 1 runtime failure, "
      "2 usage.\nExample: keymeter log --brokers 127.0.0.1:19092 --account acme --from "
      "2026-11-01T00:00:00Z > acme.ndjson; keymeter replay --data-dir /tmp/r --file acme.ndjson");
  log->callback([options] {
    if (options->brokers.empty() && options->data_dir.empty() && options->file.empty()) {
      throw CLI::RequiredError("--brokers, --data-dir or --file");
    }
    options->from_at = ParsePosition("--from", options->from);
    options->to_at = ParsePosition("--to", options->to);
    for (const std::string& op : options->ops) {
      bool known = false;
      for (fb::Op o : fb::EnumValuesOp()) known = known || (o != fb::Op::NONE && op == OpName(o));
      if (!known) throw CLI::ValidationError("--op", "no op is named " + op);
    }
  });
  return log;
}

int RunLog(const LogOptions& options) { return LogCommand(options).Run(); }

}  // namespace keymeter
