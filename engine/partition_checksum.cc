#include "engine/partition_checksum.h"

#include <rocksdb/db.h>

#include <memory>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "engine/partition_state.h"
#include "engine/store.h"
#include "projections/column_families.h"
#include "projections/key_codec.h"
#include "schemas/envelope.h"
#include "schemas/sha256.h"

namespace keymeter {

namespace {

// The account a row of `cf` belongs to ("" when it can't be told).
std::string_view OwnerOf(Cf cf, std::string_view key,
                         const absl::flat_hash_map<std::string, std::string>& account_of_key) {
  auto by_key_id = [&](std::string_view id) -> std::string_view {
    auto it = account_of_key.find(std::string(id));
    return it == account_of_key.end() ? std::string_view() : std::string_view(it->second);
  };
  switch (cf) {
    case Cf::kAccounts:
      return key;
    case Cf::kKeys:
      return by_key_id(key);
    case Cf::kAudit:
    case Cf::kRequests:
    case Cf::kAdjustments:
    case Cf::kAlerts:
      return key.substr(0, key.find('\0'));
    case Cf::kIdempotency:  // account_id 0x00 ... and account_id 0x01 ...
    case Cf::kWebhooks:
    case Cf::kOutbox:
      return key.substr(0, key.find_first_of(std::string_view("\0\1", 2)));
    case Cf::kUsage:  // scope entity 0x00 ...: 'a' account_id, 'k' and 'r' a key id
      if (key.size() < 2) return {};
      if (key.front() == 'a') return key.substr(1, key.find('\0') - 1);
      return by_key_id(key.substr(1, kKeyIdLength));
    case Cf::kGateways:
      return kGatewaysAccount;
    default:
      return {};
  }
}

}  // namespace

Status ForEachPartitionRow(const Store& store, const PartitionRowFn& fn) {
  rocksdb::DB* db = store.db();
  absl::flat_hash_map<std::string, int32_t> partition_of;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, store.cfs()[Cf::kMeta]));
  for (it->Seek(std::string(kAccountPrefix)); it->Valid() && it->key().starts_with(kAccountPrefix);
       it->Next()) {
    if (it->value().size() != 4) return Status(Code::kCorruptRecord, "account partition record");
    partition_of[it->key().ToString().substr(kAccountPrefix.size())] =
        int32_t(DecodeBigEndian32(it->value().ToStringView()));
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  absl::flat_hash_map<std::string, std::string> account_of_key;
  it.reset(db->NewIterator({}, store.cfs()[Cf::kKeys]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::optional<KeyState> k = DecodeKey(it->value().ToStringView());
    if (!k) return Status(Code::kCorruptRecord, "key " + it->key().ToString());
    account_of_key[it->key().ToString()] = k->account_id.str();
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());

  for (size_t i = 0; i < size_t(Cf::kCount); ++i) {
    if (!IsProjection(Cf(i))) continue;
    it.reset(db->NewIterator({}, store.cfs()[Cf(i)]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      auto found = partition_of.find(std::string(OwnerOf(Cf(i), key, account_of_key)));
      fn(found == partition_of.end() ? -1 : found->second, i, key, it->value().ToStringView());
    }
    if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  }
  return Status::Ok();
}

Result<std::map<int32_t, std::string>> PartitionChecksums(const Store& store) {
  std::map<int32_t, Sha256Checksum> sums;
  Status visited = ForEachPartitionRow(
      store, [&](int32_t partition, size_t cf, std::string_view key, std::string_view value) {
        Sha256Checksum& sum = sums[partition];
        sum.Add(kCfNames[cf]);
        sum.Add(key);
        sum.Add(value);
      });
  if (!visited.ok()) return visited;
  std::map<int32_t, std::string> out;
  for (auto& [partition, sum] : sums) out[partition] = sum.Hex();
  return out;
}

}  // namespace keymeter
