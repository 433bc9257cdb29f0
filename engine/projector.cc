#include "engine/projector.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <mutex>
#include <utility>

#include "consumers/decode.h"
#include "engine/projector_probe.h"
#include "schemas/envelope.h"
#include "schemas/thread_name.h"

namespace keymeter {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Projector::Projector(Store& store, KeyDirectory& directory, QuotaWindows& quota,
                     DeadLetterSink& dead_letters, ProjectorOptions options)
    : store_(store),
      directory_(directory),
      quota_(quota),
      dead_letters_(dead_letters),
      options_(options),
      batch_(std::make_unique<rocksdb::WriteBatch>()),
      idempotency_(store.db(), store.cfs()[Cf::kIdempotency]) {}

Projector::~Projector() {
  if (writing_.valid()) writing_.wait();
}

Result<size_t> Projector::RunBatch(Source& source) {
  if (broken_) return Status(Code::kProjectorStopped, "a commit failed; reopen the projector");
  if (writing_.valid() && writing_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    if (Status s = Drain(&source); !s.ok()) return s;
  }
  const auto deadline = Clock::now() + options_.max_batch_time;
  std::vector<SourceMessage> messages;
  size_t consumed = 0;
  Status poll_error;  // the source's, once the batch held messages: returned after its commit
  while (consumed < options_.max_batch_events) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && consumed > 0) break;
    // Once the batch holds something, wait only briefly for more: an idle log commits at once,
    // so an admin command waiting for its outcome is not held for the whole batch window.
    const auto wait = consumed == 0 ? std::max(left, std::chrono::milliseconds(0))
                                    : std::min(left, options_.idle_commit_after);
    const Clock::time_point poll_start = Clock::now();
    Result<size_t> polled = source.Poll(
        &messages, std::min(options_.max_apply_chunk, options_.max_batch_events - consumed), wait);
    const Clock::time_point apply_start = Clock::now();
    stats_.poll_time += std::chrono::duration_cast<std::chrono::microseconds>(apply_start - poll_start);
    if (!polled) {
      if (consumed == 0) return polled.error();
      poll_error = polled.error();  // a source gives it once: not lost behind the commit
      break;
    }
    {
      std::unique_lock lock(state_mutex_);
      ApplyAll(messages);
    }
    // Applied: a rebalance waiting for them need not wait for this batch's commit too.
    if (!messages.empty()) source.Release();
    stats_.apply_time +=
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - apply_start);
    consumed += messages.size();
    if (source.AtEnd()) break;
    if (dead_letters_.buffered_bytes() >= options_.max_dead_letter_bytes) break;
    // The log went idle: commit, unless the previous batch is still being written (the commit
    // would only wait for it, applying nothing meanwhile: keep applying what arrives instead).
    const bool writing =
        writing_.valid() && writing_.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
    if (messages.empty() && consumed > 0 && !writing) break;
    if (messages.empty() && left.count() <= 0) break;
  }
  if (consumed == 0) {
    if (Status s = Drain(&source); !s.ok()) return s;
    PublishCommitted();  // the first time after Open()
    NoteLogEnds(source);  // the lag while idle
    if (probe_ != nullptr) probe_->SourceBuffered(source.Buffered());
    return size_t(0);
  }
  if (Status s = Commit(source, !options_.overlap_commits || source.AtEnd()); !s.ok()) return s;
  stats_.messages += consumed;
  stats_.last_batch_size = consumed;
  ++stats_.batches;
  stats_.dedupe_entries = stats_.dedupe_bytes = 0;
  for (const auto& [p, part] : partitions_) {
    stats_.dedupe_entries += part.dedupe->size();
    stats_.dedupe_bytes += part.dedupe->memory_bytes();
  }
  NoteLogEnds(source);
  if (probe_ != nullptr) {
    probe_->BatchCommitted(stats_);
    probe_->SourceBuffered(source.Buffered());
  }
  if (!poll_error.ok()) return poll_error;
  return consumed;
}

void Projector::Apply(const SourceMessage& m, Decoded decoded, const Prefetched& prefetched) {
  PartitionState& part = Partition(m.partition);
  part.record.next_offset = m.offset + 1;
  part.dirty = true;
  if (!decoded.ok()) {
    DeadLetterOf(m, decoded.reason, std::move(decoded.detail));
    return;
  }
  const fb::Envelope& env = *decoded.envelope;
  if (env.op_type() == fb::Op::RequestEvent) {
    ApplyRequest(env, m, part, prefetched);
    return;
  }
  Status outcome = env.op_type() == fb::Op::WebhookAttempted ||
                           env.op_type() == fb::Op::AlertsPublished
                       ? ApplyDeliveryOp(env)
                       : ApplyOp(env, m, part);
  if (env.command_id() != nullptr && env.command_id()->size() > 0) {
    std::span<const uint8_t> digest;
    if (const fb::Sha256* d = env.request_digest()) {
      digest = {d->bytes()->data(), d->bytes()->size()};
    }
    outcomes_.emplace_back(OutcomeKey(env.command_id()->string_view(), digest), std::move(outcome));
  }
}

Status Projector::ApplyOp(const fb::Envelope& env, const SourceMessage& m, PartitionState& part) {
  // An idempotent command (a command id and its request's digest) is applied once; again, it
  // gets its first outcome back and changes nothing, not even the audit history.
  std::optional<Digest> digest;
  if (env.request_digest() != nullptr && env.command_id() != nullptr &&
      env.command_id()->size() > 0) {
    digest = DigestFromFb(env.request_digest());
    Result<IdempotencyLedger::Answer> first = idempotency_.Check(
        env.account_id()->string_view(), env.command_id()->string_view(), *digest, env.time_us());
    if (!first) {
      broken_ = true;  // the store can't be read: Commit() refuses to write past this op
      return first.error();
    }
    if (first.value().seen) {
      ++stats_.commands_retried;
      return std::move(first.value().outcome);
    }
  }
  const std::optional<AlertWatch> watched = WatchBefore(env);
  // A month is closed once the partition's watermark is the lateness past its end (TOO-LATE's
  // rule below): only then may it be corrected (UsageAdjusted).
  const TimeUs watermark = part.record.watermark_us;
  const TimeUs closed_before =
      watermark > 0 ? watermark - options_.month_close_lateness_us : INT64_MIN;
  Status outcome = directory_.Apply(
      env, batch_.get(),
      [&](std::string_view account) { return OnPartition(account, m.partition); },
      closed_before);
  ++stats_.ops_applied[std::string(OpName(env.op_type()))];
  if (watched && outcome.ok()) RaiseAlertsOfChange(*watched, env.time_us());
  if (env.op_type() == fb::Op::AccountCreated && outcome.ok()) {
    NoteAccount(part, m.partition, Str(env.account_id()));
  }
  // The gateways' pseudo-account has a partition too (engine/partition_checksum.h).
  if (env.op_type() == fb::Op::GatewayCreated && outcome.ok() &&
      std::find(part.accounts.begin(), part.accounts.end(), kGatewaysAccount) ==
          part.accounts.end()) {
    NoteAccount(part, m.partition, std::string(kGatewaysAccount));
  }
  if (digest) {
    Status kept = idempotency_.Record(batch_.get(), env.account_id()->string_view(),
                                      env.command_id()->string_view(), *digest, env.time_us(),
                                      outcome);
    if (!kept.ok()) {
      broken_ = true;
      return kept;
    }
  }
  return outcome;
}

void Projector::NoteAccount(PartitionState& part, int32_t partition, const std::string& account_id) {
  part.accounts.push_back(account_id);
  partition_of_account_.insert_or_assign(account_id, partition);
  batch_->Put(store_.cfs()[Cf::kMeta], AccountPartitionKey(account_id),
              EncodeBigEndian32(uint32_t(partition)))
      .PermitUncheckedError();
}

bool Projector::OnPartition(std::string_view account, int32_t partition) const {
  auto it = partition_of_account_.find(std::string(account));
  return it != partition_of_account_.end() && it->second == partition;
}

void Projector::ApplyRequest(const fb::Envelope& env, const SourceMessage& m, PartitionState& part,
                             const Prefetched& prefetched) {
  const fb::RequestEvent& r = *env.op_as_RequestEvent();
  const KeyState* key = prefetched.key ? directory_.FindKey(*prefetched.key) : nullptr;
  // Another account's key on another partition is as unknown as it is to a member that holds
  // only this partition (KeyDirectory::Apply's same_log).
  if (key == nullptr || (key->account_id != r.account_id()->string_view() &&
                         !OnPartition(key->account_id, m.partition))) {
    return DeadLetterOf(m, Code::kUnknownKey, "key " + Str(r.key_id()));
  }
  if (key->account_id != r.account_id()->string_view()) {
    return DeadLetterOf(m, Code::kAccountMismatch,
                        "key " + key->id.str() + " is not of account " + Str(r.account_id()));
  }
  if (m.log_time_us > 0 && r.time_us() > m.log_time_us + options_.future_tolerance_us) {
    return DeadLetterOf(m, Code::kFutureTimestamp, "event time is ahead of the log's time");
  }
  // A request made before the key was deleted still counts, however late it arrives.
  if (key->status == fb::KeyStatus::Deleted && r.time_us() >= key->updated_us) {
    return DeadLetterOf(m, Code::kKeyDeleted, "key " + key->id.str() + " was deleted");
  }
  // Past its expiry (event time) a key's requests are refused as a deleted key's are.
  if (const TimeUs expires = directory_.ExpiresAt(*key); expires != 0 && r.time_us() >= expires) {
    return DeadLetterOf(m, Code::kKeyExpired, "key " + key->id.str() + " expired");
  }
  // A closed month's figures are final: billing may have used them (docs/api.md, billing).
  // A month ends after its events: only one more than the lateness behind can be closed.
  const TimeUs lateness = options_.month_close_lateness_us;
  if (r.time_us() + lateness < part.record.watermark_us &&
      NextMonthStart(r.time_us()) + lateness <= part.record.watermark_us) {
    return DeadLetterOf(m, Code::kTooLate, "the event's month closed in this partition");
  }
  const RequestIdBytes& request_id = prefetched.dedupe.second;
  const AccountRef& account = key->account_id;
  if (part.dedupe->SeenOrAdd(prefetched.dedupe, r.time_us())) {
    ++stats_.duplicates;
    return;
  }
  const KeyId root = directory_.RootOf(*key);
  usage_.Add(UsageEvent{.account_id = account, .key = key->id, .root = root,
                        .product = r.product() ? r.product()->string_view() : std::string_view(),
                        .time_us = r.time_us(), .units = r.units(), .status = r.status(),
                        .bytes_in = r.bytes_in(), .bytes_out = r.bytes_out()});
  bool pool_rated = false, member_rated = false;
  if (directory_.any_rate_limits()) {  // one more lookup, for stores with rate limits only
    const KeyState* pool = root == key->id ? key : directory_.FindKey(root);
    pool_rated = pool != nullptr && pool->extras().rate.any();
    member_rated = key->id != root && key->extras().rate.any();
  }
  quota_.Count(key->id, root, r.time_us(), r.units(), pool_rated, member_rated);
  if (directory_.any_credits()) directory_.SpendCredits(root, r.time_us(), r.units());
  if (directory_.any_alerts()) {
    raised_.clear();
    directory_.CountForAlerts(key->id, root, r.time_us(), r.units(), &raised_);
    PutRaisedAlerts();
  }
  // Reservations hook: the request is counted now, so its in-flight hold (if any) is released.
  if (request_listener_) request_listener_(root, key->id, request_id);
  part.record.watermark_us = part.dedupe->watermark();
  const TimeUs cutoff = DayStart(part.record.watermark_us) - options_.request_retention_us;
  if (cutoff > part.record.retention_cutoff_us) {
    part.record.retention_cutoff_us = cutoff;
    part.retention_moved = true;
  }
  if (r.time_us() >= part.record.retention_cutoff_us) {
    auto view = [](const flatbuffers::String* s) {
      return s != nullptr ? s->string_view() : std::string_view();
    };
    requests_.Add(account, RequestRecordView{.time_us = r.time_us(), .key = key->id,
                                             .request_id = request_id, .status = r.status(),
                                             .units = r.units(), .bytes_in = r.bytes_in(),
                                             .bytes_out = r.bytes_out(),
                                             .latency_us = r.latency_us(),
                                             .product = view(r.product()),
                                             .client_ip = view(r.client_ip()),
                                             .gateway_id = view(r.gateway_id())});
  }
  ++stats_.requests_applied;
}

void Projector::DeadLetterOf(const SourceMessage& m, Code reason, std::string detail) {
  ++stats_.dead_letters[std::string(LogName(reason))];
  // An event that names its key in full carries the key's secret: not copied to the DLQ.
  const bool withhold = reason == Code::kMalformedKeyId;
  if (withhold) detail += " (payload withheld: it may hold a secret)";
  dead_letters_.Add(DeadLetter::Make(std::string(LogName(reason)), std::move(detail), source_name_,
                                     m.partition, m.offset, m.log_time_us,
                                     withhold ? std::span<const uint8_t>() : m.payload));
}

Status Projector::Commit(Source& source, bool wait) {
  // Apply() met a store it could not read (an idempotent command's record): nothing of this
  // batch is written, so the source's offsets stay and a reopen applies it again.
  if (broken_) {
    return Status(Code::kProjectorStopped, "the store could not be read; reopen the projector");
  }
  auto c = std::make_unique<PendingCommit>();
  c->start = Clock::now();
  {
    std::unique_lock lock(state_mutex_);
    std::swap(c->usage, usage_);
    std::swap(c->requests, requests_);
    for (auto& [p, part] : partitions_) {
      if (part.retention_moved) {
        for (const std::string& account : part.accounts) {
          c->retention.emplace_back(account, part.record.retention_cutoff_us);
        }
        part.retention_moved = false;
      }
      c->records[p] = part.record;
      if (!part.dirty) continue;
      c->offsets.push_back({p, part.record.next_offset});
      part.dirty = false;
    }
    directory_.PutSpentCredits(batch_.get());  // the balances requests spent in this batch
  }
  dead_letters_.MoveInto(batch_.get(), store_.cfs()[Cf::kDlq]);
  c->batch = std::move(batch_);
  batch_ = spare_batch_ != nullptr ? std::move(spare_batch_) : std::make_unique<rocksdb::WriteBatch>();
  c->outcomes = std::move(outcomes_);
  outcomes_.clear();
  c->idempotency_generation = idempotency_.Seal();
  // One write in flight at most: batches reach the store in log order. The wait for the
  // previous write is not this commit's latency.
  const Clock::time_point prepared = Clock::now();
  if (Status s = Drain(&source); !s.ok()) return s;
  c->start += Clock::now() - prepared;
  in_flight_ = std::move(c);
  if (wait) {
    Write(*in_flight_);
    stats_.write_wait_time +=
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - prepared);
    return Drain(&source);
  }
  stats_.write_wait_time +=
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - prepared);
  writing_ = std::async(std::launch::async, [this, pending = in_flight_.get()] {
    SetThreadName("km-write");
    Write(*pending);
  });
  return Status::Ok();
}

void Projector::Write(PendingCommit& c) {
  rocksdb::WriteBatch* batch = c.batch.get();
  c.usage.MoveInto(batch, store_.cfs()[Cf::kUsage]);
  c.requests.MoveInto(batch, store_.cfs()[Cf::kRequests]);
  // After this batch's appends, so that the cut is the same whatever the batch boundaries.
  for (const auto& [account, cutoff] : c.retention) {
    DropRequestsBefore(batch, store_.cfs()[Cf::kRequests], account, cutoff);
  }
  for (const PartitionOffset& advanced : c.offsets) {
    batch->Put(store_.cfs()[Cf::kMeta], PartitionKey(advanced.partition),
               EncodePartition(c.records.at(advanced.partition)))
        .PermitUncheckedError();
  }
  // Dead letters are durable before the offsets that skip them.
  c.status = dead_letters_.Flush();
  if (c.status.ok()) c.status = store_.Write(batch);
  c.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.start);
  if (!c.status.ok()) return;
  {
    std::lock_guard committed_lock(committed_mu_);
    for (const auto& [p, record] : c.records) committed_[p] = record;
  }
  PublishCommitted();  // at once, not at the next batch: the log may stay idle for a while
  if (outcome_listener_) {
    for (const auto& [command_id, outcome] : c.outcomes) outcome_listener_(command_id, outcome);
  }
}

void Projector::PublishCommitted() {
  if (probe_ == nullptr) return;
  std::lock_guard committed_lock(committed_mu_);
  probe_->PartitionsHeld(committed_);
}

Status Projector::Drain(Source* source) {
  if (in_flight_ == nullptr) return Status::Ok();
  if (writing_.valid()) writing_.get();
  std::unique_ptr<PendingCommit> c = std::move(in_flight_);
  if (!c->status.ok()) {
    broken_ = true;
    return c->status;
  }
  stats_.last_commit_latency = c->latency;
  idempotency_.Written(c->idempotency_generation);
  if (source != nullptr) source->Committed(c->offsets);
  c->batch->Clear();
  spare_batch_ = std::move(c->batch);
  return Status::Ok();
}

}  // namespace keymeter
