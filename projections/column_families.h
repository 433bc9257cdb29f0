// The RocksDB column families keymeter keeps, and the helpers that encode their keys.
// docs/storage.md has the long form of every layout.
//
//   meta      see engine/partition_state.h: "source", "part/" be32(partition), "acct/" account_id
//             (the source followed, each partition's next offset and watermark; not projections)
//   accounts  account_id                           -> fb::AccountRecord
//   keys      key_id (8 bytes)                     -> fb::KeyRecord
//   audit     account_id 0x00 be64(time_us) be64(seq) -> fb::AuditRecord
//   usage     see projections/usage.h
//   requests  see projections/request_log.h
//   log       see consumers/embedded_log.h (the embedded event log)
//   dlq       see consumers/dead_letter.h (the embedded dead-letter queue)
//   gateways  gateway_id                          -> fb::GatewayRecord
//   adjustments account_id 0x00 be64(month_start_us) be64(version) -> fb::AdjustmentRecord
//   idempotency see projections/idempotency.h (idempotent commands' first outcomes)
//   alerts    account_id 0x00 be64(time_us) alert_id -> fb::AlertRecord (projections/alerts.h)
//   webhooks  account_id 0x00 webhook_id, account_id 0x01 ... (projections/webhooks.h)
//   outbox    account_id 0x00 ..., account_id 0x01 ... (projections/webhooks.h): what waits to
//             be delivered to a webhook or put on the keymeter.alerts topic
//
// Big-endian integers make RocksDB's bytewise order the numeric order, so a time range is one
// contiguous scan.

#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rocksdb {
class ColumnFamilyHandle;
}

namespace keymeter {

enum class Cf : int {
  kMeta = 0,
  kAccounts,
  kKeys,
  kAudit,
  kUsage,
  kRequests,
  kLog,
  kDlq,
  kGateways,
  kAdjustments,
  kIdempotency,
  kAlerts,
  kWebhooks,
  kOutbox,
  kCount
};

// Names as stored in the RocksDB manifest, indexed by Cf.
constexpr std::array<std::string_view, size_t(Cf::kCount)> kCfNames = {
    "meta", "accounts", "keys", "audit", "usage", "requests", "log", "dlq", "gateways",
    "adjustments", "idempotency", "alerts", "webhooks", "outbox"};

// True for the column families whose content is a pure function of the log and so enters
// the checksum (offsets differ between a Kafka and a file replay; the projections don't; the
// embedded log and its DLQ are the input, not a projection).
constexpr bool IsProjection(Cf cf) {
  return cf != Cf::kMeta && cf != Cf::kLog && cf != Cf::kDlq;
}

// Handles of an open store, indexed by Cf. Owned by the store.
struct CfHandles {
  std::array<rocksdb::ColumnFamilyHandle*, size_t(Cf::kCount)> handles{};
  rocksdb::ColumnFamilyHandle* operator[](Cf cf) const { return handles[size_t(cf)]; }
};

inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(char(uint8_t(v >> (8 * i))));
}

inline uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | uint8_t(in[i]);
  return v;
}

// account_id tag: where an account's rows of one kind start (the families keyed by account).
inline std::string AccountPrefix(std::string_view account_id, char tag) {
  std::string key(account_id);
  key.push_back(tag);
  return key;
}

// `prefix` be64(time_us) id: a row of a family in time order (alerts, idempotency, webhooks).
inline std::string TimedKey(std::string prefix, int64_t time_us, std::string_view id) {
  PutBigEndian64(&prefix, uint64_t(time_us));
  prefix.append(id);
  return prefix;
}

}  // namespace keymeter
