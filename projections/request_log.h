// The request log: every request event of an account, kept for a retention period and read
// newest first.
//
// Layout (column family "requests"):
//   key    := account_id 0x00 be64(second_start_us)
//   value  := record*                      (records appended in log order)
//   record := varint(body_size) body
//   body   := varint(time_us - second_start_us) key_id[8] request_id[16] varint(status)
//             varint(units) varint(bytes_in) varint(bytes_out) varint(latency_us)
//             varint(n) product[n] varint(n) client_ip[n] varint(n) gateway_id[n]
// One block per account and second of event time. A projector batch appends all its records of
// a block with one RocksDB Merge through the "keymeter.Append" operator (concatenation). The
// records of an account come from one partition in log order, so a block's bytes are the same
// whatever the batch boundaries: a replay writes the same bytes.
//
// Retention drops whole ranges (DeleteRange from the account's first block up to the cutoff),
// never scans.
//
// Thread safety: RequestLogBatch is single-threaded (the projector's); ReadRequests is safe to
// call concurrently.

#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "projections/account_ref.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class MergeOperator;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

struct RequestRecord {
  TimeUs time_us = 0;
  KeyId key;
  std::array<uint8_t, 16> request_id{};
  uint16_t status = 0;
  uint32_t units = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint32_t latency_us = 0;
  std::string product;
  std::string client_ip;
  std::string gateway_id;

  friend bool operator==(const RequestRecord&, const RequestRecord&) = default;
};

// A record as the projector appends it: its strings point into the event being applied.
struct RequestRecordView {
  TimeUs time_us = 0;
  KeyId key;
  std::array<uint8_t, 16> request_id{};
  uint16_t status = 0;
  uint32_t units = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint32_t latency_us = 0;
  std::string_view product;
  std::string_view client_ip;
  std::string_view gateway_id;
};

// The merge operator of the requests column family.
std::shared_ptr<rocksdb::MergeOperator> NewAppendMergeOperator();

class RequestLogBatch {
 public:
  void Add(const AccountRef& account_id, const RequestRecordView& r);
  void Add(const AccountRef& account_id, const RequestRecord& r);
  // Writes one Merge per touched block into `batch` and clears the aggregate.
  void MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf);
  bool empty() const { return blocks_.empty(); }

 private:
  struct Block {
    const std::string* account;  // an AccountRef's interned id: one per account
    TimeUs second;
    friend bool operator==(const Block&, const Block&) = default;
    template <class H>
    friend H AbslHashValue(H h, const Block& b) {
      return H::combine(std::move(h), b.account, b.second);
    }
  };
  // Insertion order matters (log order inside a block), so a block is its bytes so far.
  absl::flat_hash_map<Block, std::string> blocks_;
};

// Drops every block of `account_id` whose second starts before `cutoff_us`: one DeleteRange
// from the account's second 0, where the family's memtable insert hint requires every range
// deletion to start (engine/store.cc).
void DropRequestsBefore(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                        std::string_view account_id, TimeUs cutoff_us);

struct RequestQuery {
  std::string account_id;
  std::vector<KeyId> keys;        // only these keys' requests (a family); empty: every key
  std::optional<uint16_t> status_class;  // 2, 3, 4 or 5: only that class of statuses
  TimeUs from_us = 0;             // inclusive
  TimeUs to_us = INT64_MAX;       // exclusive
  size_t limit = 100;
  // Continue strictly below this (time_us, request_id): the `next_cursor` of the last page.
  std::optional<std::pair<TimeUs, std::array<uint8_t, 16>>> before;
  // At most this many one-second blocks are read for one page: a filter that matches little
  // (a member without traffic in a busy account) ends the page early, with fewer than `limit`
  // records (even none) and a `next_cursor` below the last block read.
  size_t max_blocks = 20'000;
};

struct RequestPage {
  // Newest first; ties by request id, descending. Fewer than the limit, with a next_cursor,
  // when the scan reached RequestQuery::max_blocks.
  std::vector<RequestRecord> records;
  std::optional<std::pair<TimeUs, std::array<uint8_t, 16>>> next_cursor;
};

Result<RequestPage> ReadRequests(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                 const RequestQuery& query);

// Visits every record of `account_id` with time in [from_us, to_us), block by block in time
// order, records of a block in log order. Used to rebuild the dedupe window on open.
Status ScanRequests(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view account_id,
                    TimeUs from_us, TimeUs to_us,
                    const std::function<void(const RequestRecord&)>& fn);

}  // namespace keymeter
