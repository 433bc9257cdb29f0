#include "projections/adjustments.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "projections/aligned.h"
#include "schemas/envelope.h"
#include "schemas/records_generated.h"

namespace keymeter {

std::string AdjustmentKey(std::string_view account_id, TimeUs month_start_us, uint64_t version) {
  std::string key(account_id);
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(month_start_us));
  PutBigEndian64(&key, version);
  return key;
}

void PutAdjustment(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                   std::string_view account_id, const Adjustment& a) {
  flatbuffers::FlatBufferBuilder b(256);
  b.Finish(fb::CreateAdjustmentRecordDirect(b, a.key_id.c_str(), a.month_start_us, a.version,
                                            a.requests, a.units, a.reason.c_str(), a.time_us,
                                            a.command_id.c_str(), a.actor_kind,
                                            a.actor_key_id.c_str()));
  const rocksdb::Slice value(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  // A WriteBatch Put only fails past 4 GiB of batch; the projector bounds batches far below.
  batch->Put(cf, AdjustmentKey(account_id, a.month_start_us, a.version), value)
      .PermitUncheckedError();
}

Result<std::vector<Adjustment>> ReadAdjustments(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                std::string_view account_id,
                                                TimeUs month_start_us) {
  const std::string prefix = AdjustmentKey(account_id, month_start_us, 0).substr(
      0, account_id.size() + 1 + 8);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  std::vector<Adjustment> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const AlignedBytes value(it->value().ToStringView());
    flatbuffers::Verifier verifier(value.data(), value.size());
    if (!verifier.VerifyBuffer<fb::AdjustmentRecord>(nullptr)) {
      return Status(Code::kCorruptRecord, "adjustment record does not verify");
    }
    const auto* r = flatbuffers::GetRoot<fb::AdjustmentRecord>(value.data());
    out.push_back({.key_id = Str(r->key_id()),
                   .month_start_us = r->month_start_us(),
                   .version = r->version(),
                   .requests = r->requests(),
                   .units = r->units(),
                   .reason = Str(r->reason()),
                   .time_us = r->time_us(),
                   .command_id = Str(r->command_id()),
                   .actor_kind = r->actor(),
                   .actor_key_id = Str(r->actor_key_id())});
  }
  if (!it->status().ok()) return Status(Code::kIoError, "adjustments: " + it->status().ToString());
  return out;
}

std::map<std::string, AdjustedCounts> SumByKey(const std::vector<Adjustment>& adjustments) {
  std::map<std::string, AdjustedCounts> sums;
  for (const Adjustment& a : adjustments) {
    AdjustedCounts& s = sums[a.key_id];
    s.requests += a.requests;
    s.units += a.units;
  }
  return sums;
}

}  // namespace keymeter
