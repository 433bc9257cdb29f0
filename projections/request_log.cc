#include "projections/request_log.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "projections/column_families.h"
#include "projections/time_buckets.h"
#include "projections/varint.h"

namespace keymeter {

namespace {

bool GetString(std::string_view* in, std::string* out) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

std::string BlockKey(std::string_view account_id, TimeUs second) {
  std::string key(account_id);
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(second));
  return key;
}

// Appends one record (its size, then its body) to `out`. The fixed fields are encoded on the
// stack and appended in one go: byte by byte into the string, they were a tenth of the
// projector's time.
void EncodeRecord(const RequestRecordView& r, TimeUs second, std::string* out) {
  char fixed[kMaxVarintBytes + kKeyIdLength + 16 + 5 * kMaxVarintBytes];
  char* p = EncodeVarint(fixed, uint64_t(r.time_us - second));
  for (size_t i = 0; i < kKeyIdLength; ++i) *p++ = char(r.key.packed() >> (8 * (7 - i)));
  std::memcpy(p, r.request_id.data(), r.request_id.size());
  p += r.request_id.size();
  p = EncodeVarint(p, r.status);
  p = EncodeVarint(p, r.units);
  p = EncodeVarint(p, r.bytes_in);
  p = EncodeVarint(p, r.bytes_out);
  p = EncodeVarint(p, r.latency_us);
  const std::string_view strings[] = {r.product, r.client_ip, r.gateway_id};
  size_t size = size_t(p - fixed);
  for (std::string_view s : strings) size += VarintLength(s.size()) + s.size();
  PutVarint(out, size);
  out->append(fixed, size_t(p - fixed));
  for (std::string_view s : strings) PutLengthPrefixed(out, s);
}

bool DecodeRecord(std::string_view* in, TimeUs second, RequestRecord* r) {
  uint64_t size, v;
  if (!GetVarint(in, &size) || size > in->size()) return false;
  std::string_view body = in->substr(0, size);
  in->remove_prefix(size);
  if (!GetVarint(&body, &v)) return false;
  r->time_us = second + TimeUs(v);
  if (body.size() < kKeyIdLength + 16) return false;
  r->key = KeyId::Parse(body.substr(0, kKeyIdLength)).value_or(KeyId());
  std::memcpy(r->request_id.data(), body.data() + kKeyIdLength, 16);
  body.remove_prefix(kKeyIdLength + 16);
  uint64_t status, units, latency;
  if (!GetVarint(&body, &status) || !GetVarint(&body, &units) || !GetVarint(&body, &r->bytes_in) ||
      !GetVarint(&body, &r->bytes_out) || !GetVarint(&body, &latency)) {
    return false;
  }
  r->status = uint16_t(status);
  r->units = uint32_t(units);
  r->latency_us = uint32_t(latency);
  return GetString(&body, &r->product) && GetString(&body, &r->client_ip) &&
         GetString(&body, &r->gateway_id);
}

class Append : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "keymeter.Append"; }
};

// Decodes a whole block; false on corruption.
bool DecodeBlock(std::string_view value, TimeUs second, std::vector<RequestRecord>* out) {
  while (!value.empty()) {
    RequestRecord r;
    if (!DecodeRecord(&value, second, &r)) return false;
    out->push_back(std::move(r));
  }
  return true;
}

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> NewAppendMergeOperator() {
  return std::make_shared<Append>();
}

void RequestLogBatch::Add(const AccountRef& account_id, const RequestRecordView& r) {
  const TimeUs second = FloorDiv(r.time_us, kMicrosPerSecond) * kMicrosPerSecond;
  EncodeRecord(r, second, &blocks_[Block{&account_id.str(), second}]);
}

void RequestLogBatch::Add(const AccountRef& account_id, const RequestRecord& r) {
  Add(account_id, RequestRecordView{.time_us = r.time_us, .key = r.key, .request_id = r.request_id,
                                    .status = r.status, .units = r.units, .bytes_in = r.bytes_in,
                                    .bytes_out = r.bytes_out, .latency_us = r.latency_us,
                                    .product = r.product, .client_ip = r.client_ip,
                                    .gateway_id = r.gateway_id});
}

void RequestLogBatch::MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) {
  // In key order, for the memtable's insert hint (engine/store.cc).
  std::vector<std::pair<std::string, const std::string*>> sorted;
  sorted.reserve(blocks_.size());
  for (const auto& [block, bytes] : blocks_) {
    sorted.emplace_back(BlockKey(*block.account, block.second), &bytes);
  }
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, bytes] : sorted) batch->Merge(cf, key, *bytes).PermitUncheckedError();
  blocks_.clear();
}

void DropRequestsBefore(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                        std::string_view account_id, TimeUs cutoff_us) {
  batch->DeleteRange(cf, BlockKey(account_id, 0), BlockKey(account_id, std::max<TimeUs>(cutoff_us, 0)))
      .PermitUncheckedError();
}

Result<RequestPage> ReadRequests(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                 const RequestQuery& q) {
  const std::string lower = BlockKey(q.account_id, FloorDiv(std::max<TimeUs>(q.from_us, 0), kMicrosPerSecond) * kMicrosPerSecond);
  TimeUs to = q.to_us;
  if (q.before) {
    // Strictly below (t, id): nothing at t itself when id is the lowest, so not t's block.
    const bool lowest = std::all_of(q.before->second.begin(), q.before->second.end(),
                                    [](uint8_t b) { return b == 0; });
    to = std::min(to, q.before->first + (lowest ? 0 : 1));
  }
  if (to <= std::max<TimeUs>(q.from_us, 0)) return RequestPage{};
  const std::string upper = BlockKey(q.account_id, to == INT64_MAX ? INT64_MAX : FloorDiv(to - 1, kMicrosPerSecond) * kMicrosPerSecond);
  rocksdb::ReadOptions options;
  rocksdb::Slice lower_slice(lower);
  options.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
  RequestPage page;
  const size_t prefix = q.account_id.size() + 1;
  std::vector<RequestRecord> block;
  size_t blocks = 0;
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    const TimeUs second = TimeUs(GetBigEndian64(it->key().ToStringView().substr(prefix)));
    if (blocks++ == q.max_blocks) {
      // Bounded: continue below this block next time (every block above it was read whole).
      page.next_cursor = {second + kMicrosPerSecond, std::array<uint8_t, 16>{}};
      return page;
    }
    block.clear();
    if (!DecodeBlock(it->value().ToStringView(), second, &block)) {
      return Status(Code::kCorruptRecord, "request log block does not decode");
    }
    std::sort(block.begin(), block.end(), [](const RequestRecord& a, const RequestRecord& b) {
      return std::tie(a.time_us, a.request_id) > std::tie(b.time_us, b.request_id);
    });
    for (RequestRecord& r : block) {
      if (r.time_us < q.from_us || r.time_us >= q.to_us) continue;
      if (q.before && std::tie(r.time_us, r.request_id) >= std::tie(q.before->first, q.before->second)) continue;
      if (!q.keys.empty() && std::find(q.keys.begin(), q.keys.end(), r.key) == q.keys.end()) {
        continue;
      }
      if (q.status_class && r.status / 100 != *q.status_class) continue;
      if (page.records.size() == q.limit) {
        const RequestRecord& last = page.records.back();
        page.next_cursor = {last.time_us, last.request_id};
        return page;
      }
      page.records.push_back(std::move(r));
    }
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return page;
}

Status ScanRequests(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view account_id,
                    TimeUs from_us, TimeUs to_us,
                    const std::function<void(const RequestRecord&)>& fn) {
  const std::string start = BlockKey(account_id, FloorDiv(std::max<TimeUs>(from_us, 0), kMicrosPerSecond) * kMicrosPerSecond);
  const std::string end = BlockKey(account_id, to_us);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  options.fill_cache = false;  // a bulk scan (an export, the dedupe rebuild): read once
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
  std::vector<RequestRecord> block;
  const size_t prefix = account_id.size() + 1;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const TimeUs second = TimeUs(GetBigEndian64(it->key().ToStringView().substr(prefix)));
    block.clear();
    if (!DecodeBlock(it->value().ToStringView(), second, &block)) {
      return Status(Code::kCorruptRecord, "request log block does not decode");
    }
    for (const RequestRecord& r : block) {
      if (r.time_us >= from_us && r.time_us < to_us) fn(r);
    }
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return Status::Ok();
}

}  // namespace keymeter
