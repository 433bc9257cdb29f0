// The projector's per-partition state (projector.h): loading it from the store, reading it,
// and dropping a partition. Applying and committing are in projector.cc.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <mutex>

#include "engine/partition_drop.h"
#include "engine/projector.h"
#include "engine/projector_probe.h"

namespace keymeter {

Status Projector::Open(const std::string& source_name, TimeUs now) {
  // A batch still being written lands (or fails) before the projections are read back.
  if (writing_.valid()) writing_.wait();
  in_flight_.reset();
  std::unique_lock lock(state_mutex_);
  broken_ = true;
  loaded_ = false;
  rocksdb::DB* db = store_.db();
  std::string stored;
  rocksdb::Status s = db->Get({}, store_.cfs()[Cf::kMeta], kSourceKey, &stored);
  if (s.ok() && stored != source_name) {
    return Status(Code::kSourceMismatch, "this data dir follows '" + stored + "', not '" +
                                             source_name + "'; use a fresh --data-dir");
  }
  if (!s.ok() && !s.IsNotFound()) return Status(Code::kIoError, s.ToString());
  if (s.IsNotFound()) {
    rocksdb::WriteBatch first;
    first.Put(store_.cfs()[Cf::kMeta], kSourceKey, source_name).PermitUncheckedError();
    if (Status w = store_.Write(&first); !w.ok()) return w;
  }
  source_name_ = source_name;
  if (Status st = FinishPartitionDrops(store_); !st.ok()) return st;
  if (Status st = directory_.Load(db); !st.ok()) return st;
  if (Status st = LoadPartitions(); !st.ok()) return st;
  {
    std::lock_guard committed_lock(committed_mu_);
    committed_.clear();
    for (const auto& [p, part] : partitions_) committed_[p] = part.record;
  }
  if (Status st = quota_.Restore(db, store_.cfs()[Cf::kUsage], directory_, now); !st.ok()) return st;
  batch_->Clear();
  usage_ = UsageBatch();
  requests_ = RequestLogBatch();
  outcomes_.clear();
  idempotency_.Clear();
  dead_letters_.Discard();  // what a failed batch added: applied again from the stored offsets
  broken_ = false;
  loaded_ = true;
  return Status::Ok();
}

Status Projector::LoadPartitions() {
  partitions_.clear();
  partition_of_account_.clear();
  rocksdb::DB* db = store_.db();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, store_.cfs()[Cf::kMeta]));
  for (it->Seek(kPartitionPrefix); it->Valid() && it->key().starts_with(kPartitionPrefix); it->Next()) {
    std::optional<int32_t> p = PartitionOfKey(it->key().ToStringView());
    std::optional<PartitionRecord> r = DecodePartition(it->value().ToStringView());
    if (!p || !r) return Status(Code::kCorruptRecord, "partition record");
    Partition(*p).record = *r;
  }
  for (it->Seek(kAccountPrefix); it->Valid() && it->key().starts_with(kAccountPrefix); it->Next()) {
    if (it->value().size() != 4) return Status(Code::kCorruptRecord, "account partition");
    const int32_t p = int32_t(DecodeBigEndian32(it->value().ToStringView()));
    Partition(p).accounts.push_back(it->key().ToString().substr(kAccountPrefix.size()));
    partition_of_account_.insert_or_assign(Partition(p).accounts.back(), p);
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  // The dedupe windows hold the accepted requests of the last window: the request log has them.
  for (auto& [p, part] : partitions_) {
    part.dedupe->set_watermark(part.record.watermark_us);
    for (const std::string& account : part.accounts) {
      Status s = ScanRequests(db, store_.cfs()[Cf::kRequests], account, part.dedupe->window_start(),
                              INT64_MAX, [&](const RequestRecord& r) {
                                part.dedupe->Remember(account, r.request_id, r.time_us);
                              });
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Projector::PartitionState& Projector::Partition(int32_t partition) {
  PartitionState& part = partitions_[partition];
  if (!part.dedupe) {
    part.dedupe = std::make_unique<DedupeWindow>(options_.dedupe_window_us,
                                                 options_.dedupe_max_entries);
  }
  return part;
}

std::optional<int64_t> Projector::StoredOffset(int32_t partition) const {
  std::shared_lock lock(state_mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.record.next_offset == 0) return std::nullopt;
  return it->second.record.next_offset;
}

std::optional<TimeUs> Projector::Watermark() const {
  std::shared_lock lock(state_mutex_);
  std::optional<TimeUs> w;
  for (const auto& [p, part] : partitions_) {
    if (part.record.watermark_us == 0) continue;
    w = w ? std::min(*w, part.record.watermark_us) : part.record.watermark_us;
  }
  return w;
}

std::optional<Freshness> Projector::FreshnessOf(std::string_view account) const {
  auto at = partition_of_account_.find(absl::string_view(account.data(), account.size()));
  if (at == partition_of_account_.end()) return std::nullopt;
  auto part = partitions_.find(at->second);
  if (part == partitions_.end()) return std::nullopt;
  const PartitionState& p = part->second;
  return Freshness{.partition = at->second,
                   .watermark_us = p.record.watermark_us,
                   .lag_messages = std::max<int64_t>(0, p.log_end - p.record.next_offset)};
}

Freshness Projector::EngineFreshness() const {
  std::shared_lock lock(state_mutex_);
  Freshness f;
  for (const auto& [p, part] : partitions_) {
    if (part.record.watermark_us != 0) {
      f.watermark_us = f.watermark_us == 0 ? part.record.watermark_us
                                           : std::min(f.watermark_us, part.record.watermark_us);
    }
    f.lag_messages += std::max<int64_t>(0, part.log_end - part.record.next_offset);
  }
  return f;
}

bool Projector::LogEndsKnown() const {
  std::shared_lock lock(state_mutex_);
  return log_ends_known_;
}

void Projector::NoteLogEnds(Source& source) {
  const LogEndsSeen seen = source.LogEnds();
  {
    std::unique_lock lock(state_mutex_);
    log_ends_known_ = seen.all_known;
    for (const PartitionOffset& end : seen.ends) {
      if (auto it = partitions_.find(end.partition); it != partitions_.end()) {
        it->second.log_end = end.next_offset;
      }
    }
  }
  if (probe_ != nullptr) probe_->LogEnds(seen.ends, Partitions());
}

std::map<int32_t, PartitionRecord> Projector::Partitions() const {
  std::lock_guard lock(committed_mu_);
  return committed_;
}

Status Projector::DropPartition(Source* source, int32_t partition) {
  if (Status s = Drain(source); !s.ok()) return s;
  if (Status s = DropPartitionRows(store_, partition); !s.ok()) {
    broken_ = true;
    return s;
  }
  {
    // Only what the partition's accounts hold: the lock is held for their keys, not the store.
    std::unique_lock lock(state_mutex_);
    if (auto part = partitions_.find(partition); part != partitions_.end()) {
      for (const std::string& account : part->second.accounts) {
        for (KeyId key : directory_.DropAccount(account)) quota_.Forget(key);
        if (auto it = partition_of_account_.find(account);
            it != partition_of_account_.end() && it->second == partition) {
          partition_of_account_.erase(it);
        }
      }
      partitions_.erase(part);
    }
  }
  {
    std::lock_guard committed_lock(committed_mu_);
    committed_.erase(partition);
  }
  PublishCommitted();
  return Status::Ok();
}

}  // namespace keymeter
