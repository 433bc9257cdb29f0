#include "engine/partition_drop.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/partition_checksum.h"
#include "engine/partition_state.h"
#include "engine/pipeline.h"
#include "engine/store.h"
#include "projections/column_families.h"

namespace keymeter {

namespace {

std::string DropKey(int32_t partition) {
  return std::string(kDropPrefix) + EncodeBigEndian32(uint32_t(partition));
}

// Deletes what the mark of `partition` names: its rows, then what attributes rows to it.
Status Finish(Store& store, int32_t partition) {
  rocksdb::WriteBatch rows;
  rocksdb::WriteBatch last;  // key records and "acct/" rows: only once every other row is gone
  Status written;
  size_t n = 0;
  Status visited = ForEachPartitionRow(
      store, [&](int32_t p, size_t cf, std::string_view key, std::string_view /*value*/) {
        if (p != partition || !written.ok()) return;
        if (Cf(cf) == Cf::kKeys) {
          last.Delete(store.cfs()[Cf::kKeys], key).PermitUncheckedError();
          return;
        }
        rows.Delete(store.cfs()[Cf(cf)], key).PermitUncheckedError();
        if (++n % kDropBatchRows == 0) {
          written = store.Write(&rows);
          rows.Clear();
        }
      });
  if (!visited.ok()) return visited;
  if (!written.ok()) return written;
  if (Status s = store.Write(&rows); !s.ok()) return s;
  rocksdb::ColumnFamilyHandle* meta = store.cfs()[Cf::kMeta];
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator({}, meta));
  for (it->Seek(std::string(kAccountPrefix)); it->Valid() && it->key().starts_with(kAccountPrefix);
       it->Next()) {
    if (it->value().size() != 4) return Status(Code::kCorruptRecord, "account partition record");
    if (int32_t(DecodeBigEndian32(it->value().ToStringView())) == partition) {
      last.Delete(meta, it->key()).PermitUncheckedError();
    }
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  last.Delete(meta, DropKey(partition)).PermitUncheckedError();
  return store.Write(&last);
}

}  // namespace

Status DropPartitionRows(Store& store, int32_t partition) {
  rocksdb::WriteBatch mark;
  rocksdb::ColumnFamilyHandle* meta = store.cfs()[Cf::kMeta];
  mark.Put(meta, DropKey(partition), "").PermitUncheckedError();
  mark.Delete(meta, PartitionKey(partition)).PermitUncheckedError();
  if (Status s = store.Write(&mark); !s.ok()) return s;
  return Finish(store, partition);
}

Status FinishPartitionDrops(Store& store) {
  std::vector<int32_t> marked;
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator({}, store.cfs()[Cf::kMeta]));
  for (it->Seek(std::string(kDropPrefix)); it->Valid() && it->key().starts_with(kDropPrefix);
       it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != kDropPrefix.size() + 4) return Status(Code::kCorruptRecord, "drop mark");
    marked.push_back(int32_t(DecodeBigEndian32(key.substr(kDropPrefix.size()))));
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  it.reset();
  for (int32_t p : marked) {
    if (Status s = Finish(store, p); !s.ok()) return s;
  }
  return Status::Ok();
}

// The pipeline's side: when a partition is dropped.
Result<bool> Pipeline::DropUnfollowed(Source& source) {
  if (options_.drop_partition_after.count() <= 0) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_drop_check_ < std::chrono::seconds(1)) return false;
  last_drop_check_ = now;
  const std::optional<std::vector<int32_t>> followed = source.Followed();
  if (!followed) return false;  // reads every partition
  std::function<bool(int32_t)> held_elsewhere;
  {
    std::lock_guard lock(mu_);
    held_elsewhere = drop_policy_;
  }
  if (!held_elsewhere) return false;
  for (const auto& [p, record] : projector_->Partitions()) {
    auto [at, first_seen] = last_followed_.try_emplace(p, now);
    // The clock runs only while the partition is another member's: never through an outage.
    if (std::ranges::count(*followed, p) > 0 || !held_elsewhere(p)) {
      at->second = now;
      continue;
    }
    if (first_seen || now - at->second < options_.drop_partition_after) continue;
    spdlog::info("projector: dropping partition {}: none of this member's consumers has read it "
                 "for {} s", p, options_.drop_partition_after.count());
    if (Status s = projector_->DropPartition(&source, p); !s.ok()) {
      spdlog::warn("projector: dropping partition {}: {}", p, s.ToString());
      return s;
    }
    last_followed_.erase(p);
    partitions_dropped_.fetch_add(1, std::memory_order_relaxed);
    return true;  // Partitions() changed: the next call goes on
  }
  return false;
}

}  // namespace keymeter
