#include "cli/replay.h"

#include <fmt/format.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <thread>

#include "cli/common.h"
#include "cli/progress.h"
#include "cli/replay_source.h"
#include "consumers/file_source.h"
#include "consumers/kafka_source.h"
#include "consumers/ndjson.h"
#include "engine/projector.h"
#include "projections/time_buckets.h"
#include "schemas/clock.h"

namespace keymeter {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kKafkaQueryTimeout{15'000};
// No message for this long while partitions are short of their end: the replay gives up.
constexpr std::chrono::seconds kStallTimeout{60};

FileFormat FormatOf(const std::string& name) {
  if (name == "ndjson") return FileFormat::kNdjson;
  if (name == "fb") return FileFormat::kLengthPrefixed;
  return FileFormat::kAuto;
}

class Replay {
 public:
  explicit Replay(const ReplayOptions& options) : options_(options) {}

  int Run() {
    if (Status s = cli::CheckFreshDataDir(options_.data_dir); !s.ok())
      return cli::FailWith(s.message());
    if (options_.kafka()) {
      if (Status s = OpenKafka(); !s.ok()) return cli::FailWith(s.message());
    } else if (Status s = CountFile(); !s.ok()) {
      return cli::FailWith(s.message());
    }
    if (Status s = OpenStore(); !s.ok()) return cli::FailWith(s.message());
    if (!options_.kafka()) {
      if (Status s = OpenFile(); !s.ok()) return cli::FailWith(s.message());
    }
    ReplaySource source(options_.kafka() ? static_cast<Source&>(*kafka_) : *file_, bounds_);
    if (Status s = Loop(source); !s.ok()) {
      return cli::FailWith(fmt::format("{}; {} holds a partial store: delete it and run again",
                                       s.message(), options_.data_dir));
    }
    PrintSummary(source);
    return 0;
  }

 private:
  Status OpenKafka() {
    KafkaSourceOptions o;
    o.brokers = options_.brokers;
    o.topic = options_.topic;
    o.group_id = "keymeter-replay-" + cli::RandomSuffix();
    o.client_id = "keymeter-replay";
    // On (re)assignment: where this replay got to, else where it starts.
    o.stored_offset = [this](int32_t partition) -> std::optional<int64_t> {
      if (std::optional<int64_t> applied = projector_->StoredOffset(partition)) return applied;
      auto start = bounds_.start.find(partition);
      if (start == bounds_.start.end()) return std::nullopt;
      return start->second;
    };
    Result<std::unique_ptr<KafkaSource>> made = KafkaSource::Create(o);
    if (!made) return made.error();
    kafka_ = std::move(made.value());
    Result<ReplayBounds> bounds = KafkaReplayBounds(*kafka_, options_.from_us, kKafkaQueryTimeout);
    if (!bounds) {
      const bool no_topic = bounds.error().code() == Code::kKafkaNoTopic;
      return Status(
          bounds.error().code(),
          fmt::format("cannot read the partitions of topic {} on {}{}: {}", options_.topic,
                      options_.brokers, no_topic ? "" : " (is a broker listening there?)",
                      bounds.error().message()));
    }
    bounds_ = std::move(bounds.value());
    return Status::Ok();
  }

  Status CountFile() {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options_.file, ec)) {
      return Status(Code::kIoError, fmt::format("--file {} is not a readable file", options_.file));
    }
    Result<ReplayBounds> bounds = FileReplayBounds(options_.file, FormatOf(options_.format));
    if (!bounds) return Status(Code::kIoError, "cannot read --file " + options_.file);
    bounds_ = std::move(bounds.value());
    return Status::Ok();
  }

  Status OpenFile() {
    FileSourceOptions o;
    o.path = options_.file;
    o.format = FormatOf(options_.format);
    o.account_of = [this](std::string_view key_id) -> std::optional<std::string> {
      std::optional<KeyId> id = KeyId::Parse(key_id);
      const KeyState* key = id ? directory_->FindKey(*id) : nullptr;
      if (key == nullptr) return std::nullopt;
      return key->account_id;
    };
    o.dead_letters = &dead_letters_;
    o.stored_offset = [this](int32_t partition) { return projector_->StoredOffset(partition); };
    // A file has no log time: events too far ahead of it (--log-time, default the replay's
    // start) are FUTURE-TIMESTAMP, as from a topic, so a year-2100 event can't move the
    // watermark (and retention). Give --log-time to make two replays of a file decide alike.
    o.log_time_us = options_.log_time_us.value_or(NowUs());
    fmt::print(stderr, "keymeter: the file's log time is {}\n", FormatRfc3339(o.log_time_us));
    Result<std::unique_ptr<FileSource>> made = FileSource::Open(std::move(o));
    if (!made) return Status(Code::kIoError, "cannot read --file " + options_.file);
    file_ = std::move(made.value());
    return Status::Ok();
  }

  Status OpenStore() {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    if (ec) {
      return Status(Code::kIoError, fmt::format("cannot create --data-dir {}: {}",
                                                options_.data_dir, ec.message()));
    }
    // A fresh store built in one go: no WAL (a replay cut short is started again in a fresh
    // dir); Run() flushes it before it reports success.
    Result<std::unique_ptr<Store>> store = Store::Open({.path = options_.data_dir, .wal = false});
    if (!store) {
      return Status(store.error().code(), fmt::format("cannot create a store in {}: {}",
                                                      options_.data_dir, store.error().message()));
    }
    store_ = std::move(store.value());
    directory_ = std::make_unique<KeyDirectory>(store_->cfs());
    projector_ = std::make_unique<Projector>(*store_, *directory_, quota_, dead_letters_,
                                             ProjectorOptions{
                                                 .future_tolerance_us = cli::FutureToleranceUs(),
                                                 .month_close_lateness_us = cli::BillingLatenessUs(),
                                                 .overlap_commits = true});
    const std::string source = options_.kafka() ? "kafka/" + options_.topic : "file";
    bounds_.until = options_.until_us;
    bounds_.future_tolerance_us = cli::FutureToleranceUs();
    return projector_->Open(source, NowUs());
  }

  std::string UntilText() const {
    return FormatRfc3339(*options_.until_us, *options_.until_us % kMicrosPerSecond != 0);
  }

  uint64_t DeadLetters() const {
    uint64_t n = file_ ? file_->rejected() : 0;
    for (const auto& [reason, count] : projector_->stats().dead_letters) n += count;
    return n;
  }

  Status Loop(ReplaySource& source) {
    const std::string label =
        options_.kafka() ? "replay " + options_.topic : "replay " + options_.file;
    fmt::print(stderr, "keymeter: replaying {} messages of {} into {}{}\n", source.total(),
               options_.kafka() ? fmt::format("topic {} on {}", options_.topic, options_.brokers)
                                : options_.file,
               options_.data_dir, options_.until_us ? " up to " + UntilText() : "");
    progress_ = std::make_unique<ProgressReporter>(stderr, IsTerminal(STDERR_FILENO), label);
    Clock::time_point last_progress = Clock::now();
    uint64_t last_position = 0;
    std::string last_warning;
    while (!source.AtEnd()) {
      Result<size_t> n = projector_->RunBatch(source);
      if (!n) {
        const Status& error = n.error();
        if (error.code() != Code::kKafkaError) return error;
        if (error.message() != last_warning) spdlog::warn("replay: {}", error.ToString());
        last_warning = error.message();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      const uint64_t position = source.position();
      if (position != last_position) {
        last_position = position;
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > kStallTimeout) {
        std::string pending;
        for (const auto& [p, at] : source.Pending()) {
          pending += fmt::format("{}partition {} at offset {} of {}", pending.empty() ? "" : ", ",
                                 p, at.first, at.second);
        }
        return Status(
            Code::kReplayStalled,
            fmt::format("no message for {} s, short of the end: {}{}", kStallTimeout.count(),
                        pending, last_warning.empty() ? "" : "; last error: " + last_warning));
      }
      progress_->Update({.done = position,
                         .total = source.total(),
                         .dead_letters = DeadLetters(),
                         .processed = source.delivered()});
    }
    progress_->Finish();
    if (Status s = projector_->Drain(&source); !s.ok()) return s;  // the last batch is written
    // Dead letters the file source rejected after the last applied message.
    if (dead_letters_.buffered() > 0) {
      rocksdb::WriteBatch batch;
      dead_letters_.MoveInto(&batch, store_->cfs()[Cf::kDlq]);
      if (Status s = store_->Write(&batch); !s.ok()) return s;
    }
    return store_->Flush();
  }

  void PrintSummary(const ReplaySource& source) {
    const ProjectorStats& stats = projector_->stats();
    uint64_t ops = 0;
    for (const auto& [op, count] : stats.ops_applied) ops += count;
    const double seconds = progress_->elapsed_seconds();
    std::string line = fmt::format(
        "replay done: {} messages in {:.1f} s ({:.0f} messages/s): {} requests applied, {} ops, "
        "{} duplicates, {} dead letters; store {} follows {}",
        stats.messages, seconds, seconds > 0 ? double(stats.messages) / seconds : 0.0,
        stats.requests_applied, ops, stats.duplicates, DeadLetters(), options_.data_dir,
        options_.kafka() ? "kafka/" + options_.topic : "file");
    if (options_.until_us) {
      line += fmt::format("; --until {} stopped {} of {} partitions", UntilText(),
                          source.stopped_by_until().size(), bounds_.end.size());
    }
    fmt::print("{}\n", line);
    std::fflush(stdout);
  }

  const ReplayOptions& options_;
  ReplayBounds bounds_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KeyDirectory> directory_;
  QuotaWindows quota_;
  EmbeddedDeadLetterSink dead_letters_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<ProgressReporter> progress_;
  // Sources last: destroyed first, while the projector they ask for offsets still exists.
  std::unique_ptr<FileSource> file_;
  std::unique_ptr<KafkaSource> kafka_;
};

}  // namespace

CLI::App* AddReplayCommand(CLI::App& app, ReplayOptions* options) {
  CLI::App* replay = app.add_subcommand(
      "replay",
      "Rebuild a fresh store from a Kafka topic or a file, to the log's end or to --until");
  replay->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  replay->add_option("--data-dir", options->data_dir,
                     "New or empty directory for the rebuilt store; required");
  CLI::Option* brokers = replay->add_option("--brokers", options->brokers,
                                            "Kafka bootstrap servers H:P[,H:P] (replay a topic)");
  CLI::Option* topic = replay->add_option("--topic", options->topic, "Kafka topic of the events")
                           ->capture_default_str();
  CLI::Option* from = replay->add_option(
      "--from", options->from,
      "RFC 3339 time: start each partition at its first message logged at or after it (Kafka)");
  CLI::Option* file = replay->add_option(
      "--file", options->file, "Replay a file: NDJSON request events or length-prefixed envelopes");
  CLI::Option* format =
      replay->add_option("--format", options->format, "File format: auto, ndjson or fb")
          ->check(CLI::IsMember({"auto", "ndjson", "fb"}))
          ->capture_default_str();
  replay->add_option("--until", options->until,
                     "RFC 3339 time: apply no event whose time is after it");
  auto* log_time = replay->add_option(
      "--log-time", options->log_time,
      "RFC 3339 time: the log time of a file's messages, which FUTURE-TIMESTAMP is measured "
      "against (default: now)");
  brokers->excludes(file);
  topic->excludes(file);
  from->needs(brokers);
  format->needs(file);
  log_time->needs(file);
  replay->footer(
      "Exactly one of --brokers or --file. Exit codes: 0 done, 1 runtime failure (a failed replay "
      "leaves a partial store: delete it), 2 usage.\nExample: keymeter replay --data-dir "
      "/tmp/asof --brokers 127.0.0.1:19092 --topic keymeter.events --until "
      "2026-04-01T00:00:00Z");
  replay->callback([options] {
    if (options->data_dir.empty()) throw CLI::RequiredError("--data-dir");
    if (options->brokers.empty() && options->file.empty()) {
      throw CLI::RequiredError("--brokers (with --topic) or --file");
    }
    auto parse = [](const std::string& flag, const std::string& text) -> std::optional<TimeUs> {
      if (text.empty()) return std::nullopt;
      Result<TimeUs> t = ParseRfc3339(text);
      if (!t) {
        throw CLI::ValidationError(flag,
                                   t.error().message() + "; expected e.g. 2026-04-01T00:00:00Z");
      }
      return t.value();
    };
    options->from_us = parse("--from", options->from);
    options->until_us = parse("--until", options->until);
    options->log_time_us = parse("--log-time", options->log_time);
    if (options->from_us && options->until_us && *options->from_us > *options->until_us) {
      throw CLI::ValidationError("--from", "is after --until: nothing would be replayed");
    }
  });
  return replay;
}

int RunReplay(const ReplayOptions& options) { return Replay(options).Run(); }

}  // namespace keymeter
