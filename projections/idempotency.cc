#include "projections/idempotency.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "projections/aligned.h"
#include "projections/column_families.h"
#include "schemas/envelope.h"
#include "schemas/records_generated.h"

namespace keymeter {

namespace {

std::string PrimaryKey(std::string_view account_id, std::string_view command_id) {
  return AccountPrefix(account_id, '\0').append(command_id);
}

// The index rows of `account_id` start with this; then be64(time_us) and the command id.
std::string IndexPrefix(std::string_view account_id) { return AccountPrefix(account_id, '\x01'); }

std::string IndexKey(std::string_view account_id, TimeUs time_us, std::string_view command_id) {
  return TimedKey(IndexPrefix(account_id), time_us, command_id);
}

}  // namespace

Result<std::optional<IdempotencyLedger::Entry>> IdempotencyLedger::Find(
    const std::string& key) const {
  if (auto it = overlay_.find(key); it != overlay_.end()) {
    return it->second.present ? std::optional<Entry>(it->second) : std::nullopt;
  }
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &value);
  if (s.IsNotFound()) return std::optional<Entry>();
  if (!s.ok()) return Status(Code::kIoError, "idempotency: " + s.ToString());
  const AlignedBytes bytes(value);
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<fb::IdempotencyRecord>(nullptr)) {
    return Status(Code::kCorruptRecord, "idempotency record does not verify");
  }
  const auto* r = flatbuffers::GetRoot<fb::IdempotencyRecord>(bytes.data());
  const std::optional<Code> code = ParseCode(Str(r->code()));
  if (r->request_digest() == nullptr || !code) {
    return Status(Code::kCorruptRecord, "idempotency record without digest or code");
  }
  Entry e{.present = true, .time_us = r->time_us(), .digest = DigestFromFb(r->request_digest())};
  e.outcome = *code == Code::kOk ? Status::Ok() : Status(*code, Str(r->message()));
  return std::optional<Entry>(std::move(e));
}

Result<IdempotencyLedger::Answer> IdempotencyLedger::Check(std::string_view account_id,
                                                           std::string_view command_id,
                                                           const Digest& digest,
                                                           TimeUs time_us) const {
  Result<std::optional<Entry>> found = Find(PrimaryKey(account_id, command_id));
  if (!found) return found.error();
  const std::optional<Entry>& e = found.value();
  if (!e || e->time_us < time_us - kIdempotencyWindowUs) return Answer{};
  if (e->digest != digest) {
    return Answer{.seen = true,
                  .outcome = Status(Code::kIdempotencyKeyReused,
                                    "this Idempotency-Key was first used for another request "
                                    "(method, path or body)")};
  }
  return Answer{.seen = true, .outcome = e->outcome};
}

void IdempotencyLedger::Remove(rocksdb::WriteBatch* batch, const std::string& key,
                               std::string_view account_id, std::string_view command_id,
                               TimeUs time_us) {
  // A WriteBatch Delete only fails past 4 GiB of batch; the projector bounds batches far below.
  batch->Delete(cf_, key).PermitUncheckedError();
  batch->Delete(cf_, IndexKey(account_id, time_us, command_id)).PermitUncheckedError();
  Entry& e = overlay_[key];
  e = Entry{.generation = generation_, .present = false};
}

Status IdempotencyLedger::Record(rocksdb::WriteBatch* batch, std::string_view account_id,
                                 std::string_view command_id, const Digest& digest,
                                 TimeUs time_us, const Status& outcome) {
  const TimeUs cutoff = time_us - kIdempotencyWindowUs;
  // The store's records older than the window; those the overlay holds are decided below.
  const std::string prefix = IndexPrefix(account_id);
  const std::string end = IndexKey(account_id, cutoff, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(prefix); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    const std::string_view index = it->key().ToStringView();
    if (index.size() < prefix.size() + 8) return Status(Code::kCorruptRecord, "idempotency index");
    const std::string_view old_id = index.substr(prefix.size() + 8);
    const std::string key = PrimaryKey(account_id, old_id);
    if (overlay_.contains(key)) {
      batch->Delete(cf_, it->key()).PermitUncheckedError();
      continue;
    }
    Remove(batch, key, account_id, old_id,
           TimeUs(GetBigEndian64(index.substr(prefix.size(), 8))));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "idempotency: " + it->status().ToString());
  // The overlay's: this account's primary keys sort between account 0x00 and account 0x01.
  std::string first(account_id);
  first.push_back('\0');
  for (auto o = overlay_.lower_bound(first); o != overlay_.end() && o->first < prefix; ++o) {
    if (!o->second.present || o->second.time_us >= cutoff) continue;
    const std::string key = o->first;
    Remove(batch, key, account_id, std::string_view(key).substr(first.size()), o->second.time_us);
  }

  flatbuffers::FlatBufferBuilder b(128);
  const fb::Sha256 hash = DigestToFb(digest);
  b.Finish(fb::CreateIdempotencyRecordDirect(b, time_us, &hash,
                                             std::string(LogName(outcome.code())).c_str(),
                                             outcome.message().c_str()));
  const rocksdb::Slice value(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  const std::string key = PrimaryKey(account_id, command_id);
  batch->Put(cf_, key, value).PermitUncheckedError();
  batch->Put(cf_, IndexKey(account_id, time_us, command_id), "").PermitUncheckedError();
  overlay_[key] = Entry{.generation = generation_, .present = true, .time_us = time_us,
                        .digest = digest, .outcome = outcome};
  return Status::Ok();
}

void IdempotencyLedger::Written(uint64_t generation) {
  std::erase_if(overlay_, [&](const auto& kv) { return kv.second.generation <= generation; });
}

}  // namespace keymeter
