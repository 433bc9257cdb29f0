#include "engine/partition_state.h"

#include <rocksdb/db.h>

#include <memory>

#include "engine/store.h"
#include "projections/column_families.h"

namespace keymeter {

std::string EncodeBigEndian32(uint32_t v) {
  std::string out;
  for (int i = 3; i >= 0; --i) out.push_back(char(uint8_t(v >> (8 * i))));
  return out;
}

uint32_t DecodeBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | uint8_t(in[i]);
  return v;
}

std::string PartitionKey(int32_t partition) {
  return std::string(kPartitionPrefix) + EncodeBigEndian32(uint32_t(partition));
}

std::optional<int32_t> PartitionOfKey(std::string_view key) {
  if (!key.starts_with(kPartitionPrefix) || key.size() != kPartitionPrefix.size() + 4) {
    return std::nullopt;
  }
  return int32_t(DecodeBigEndian32(key.substr(kPartitionPrefix.size())));
}

std::string EncodePartition(const PartitionRecord& r) {
  std::string out;
  PutBigEndian64(&out, uint64_t(r.next_offset));
  PutBigEndian64(&out, uint64_t(r.watermark_us));
  PutBigEndian64(&out, uint64_t(r.retention_cutoff_us));
  return out;
}

std::optional<PartitionRecord> DecodePartition(std::string_view value) {
  if (value.size() != 24) return std::nullopt;
  return PartitionRecord{int64_t(GetBigEndian64(value)), TimeUs(GetBigEndian64(value.substr(8))),
                         TimeUs(GetBigEndian64(value.substr(16)))};
}

std::string AccountPartitionKey(std::string_view account_id) {
  return std::string(kAccountPrefix).append(account_id);
}

Result<std::optional<TimeUs>> StoreWatermark(const Store& store) {
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator({}, store.cfs()[Cf::kMeta]));
  std::optional<TimeUs> watermark;
  for (it->Seek(std::string(kPartitionPrefix));
       it->Valid() && it->key().starts_with(kPartitionPrefix); it->Next()) {
    std::optional<PartitionRecord> r = DecodePartition(it->value().ToStringView());
    if (!r) return Status(Code::kCorruptRecord, "partition record");
    if (r->watermark_us == 0) continue;
    watermark = watermark ? std::min(*watermark, r->watermark_us) : r->watermark_us;
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return watermark;
}

}  // namespace keymeter
