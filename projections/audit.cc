#include "projections/audit.h"

#include <algorithm>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "projections/aligned.h"
#include "schemas/envelope.h"
#include "schemas/records_generated.h"

namespace keymeter {

namespace {

std::string AuditKey(const std::string& account_id, TimeUs time_us, uint64_t seq) {
  std::string key = account_id;
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(time_us));
  PutBigEndian64(&key, seq);
  return key;
}


}  // namespace

void PutAudit(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
              const std::string& account_id, const AuditEntry& e) {
  flatbuffers::FlatBufferBuilder b(256);
  auto actor = fb::CreateActorDirect(b, e.actor_kind, e.actor_key_id.c_str());
  auto record = fb::CreateAuditRecordDirect(b, e.time_us, e.seq, e.command_id.c_str(), actor,
                                            e.op.c_str(), e.key_id.c_str(), e.outcome.c_str(),
                                            e.detail.c_str());
  b.Finish(record);
  rocksdb::Slice value(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  // A WriteBatch Put only fails past 4 GiB of batch; the projector bounds batches far below.
  batch->Put(cf, AuditKey(account_id, e.time_us, e.seq), value).PermitUncheckedError();
}

Result<AuditPage> ReadAudit(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                            const AuditQuery& q) {
  const std::string lower = AuditKey(q.account_id, std::max<TimeUs>(q.from_us, 0), 0);
  std::string upper = q.before ? AuditKey(q.account_id, q.before->first, q.before->second)
                               : AuditKey(q.account_id, q.to_us, 0);
  if (q.before && q.to_us != INT64_MAX) {
    upper = std::min(upper, AuditKey(q.account_id, q.to_us, 0));
  }
  rocksdb::ReadOptions options;
  rocksdb::Slice lower_slice(lower);
  options.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
  AuditPage page;
  const std::string key_filter = q.key ? q.key->str() : std::string();
  // SeekForPrev lands on the last key <= upper; `upper` itself is exclusive.
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    if (it->key().compare(upper) >= 0) continue;
    const AlignedBytes value(it->value().ToStringView());
    flatbuffers::Verifier verifier(value.data(), value.size());
    if (!verifier.VerifyBuffer<fb::AuditRecord>(nullptr)) {
      return Status(Code::kCorruptRecord, "audit record does not verify");
    }
    const auto* r = flatbuffers::GetRoot<fb::AuditRecord>(value.data());
    if (!key_filter.empty() && Str(r->key_id()) != key_filter) continue;
    if (!q.ops.empty() && std::find(q.ops.begin(), q.ops.end(), Str(r->op())) == q.ops.end()) {
      continue;
    }
    if (page.entries.size() == q.limit) {
      const AuditEntry& last = page.entries.back();
      page.next_cursor = {last.time_us, last.seq};
      break;
    }
    AuditEntry e;
    e.time_us = r->time_us();
    e.seq = r->seq();
    e.command_id = Str(r->command_id());
    if (r->actor() != nullptr) {
      e.actor_kind = r->actor()->kind();
      e.actor_key_id = Str(r->actor()->key_id());
    }
    e.op = Str(r->op());
    e.key_id = Str(r->key_id());
    e.outcome = Str(r->outcome());
    e.detail = Str(r->detail());
    page.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return page;
}

}  // namespace keymeter
