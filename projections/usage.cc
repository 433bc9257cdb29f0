#include "projections/usage.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>

#include "projections/column_families.h"

namespace keymeter {

namespace {

constexpr size_t kCountersBytes = 6 * 8;
constexpr Granularity kGranularities[] = {Granularity::kHour, Granularity::kDay,
                                          Granularity::kMonth};

void EncodeCounters(const Counters& c, std::string* out) {
  const uint64_t fields[6] = {c.requests, c.units, c.errors_4xx, c.errors_5xx, c.bytes_in,
                              c.bytes_out};
  for (uint64_t v : fields) {
    for (int i = 0; i < 8; ++i) out->push_back(char(uint8_t(v >> (8 * i))));
  }
}

bool DecodeCounters(std::string_view in, Counters* c) {
  if (in.size() != kCountersBytes) return false;
  uint64_t fields[6];
  for (int f = 0; f < 6; ++f) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | uint8_t(in[f * 8 + i]);
    fields[f] = v;
  }
  *c = Counters{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]};
  return true;
}

class CountersAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    Counters sum, add;
    if (existing != nullptr && !DecodeCounters(existing->ToStringView(), &sum)) return false;
    if (!DecodeCounters(value.ToStringView(), &add)) return false;
    sum.Add(add);
    new_value->clear();
    EncodeCounters(sum, new_value);
    return true;
  }
  const char* Name() const override { return "keymeter.CountersAdd"; }
};

}  // namespace

void Counters::Add(const Counters& o) {
  requests += o.requests;
  units += o.units;
  errors_4xx += o.errors_4xx;
  errors_5xx += o.errors_5xx;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
}

std::shared_ptr<rocksdb::MergeOperator> NewCountersMergeOperator() {
  return std::make_shared<CountersAdd>();
}

std::string UsageKey(UsageScope scope, Granularity g, std::string_view entity, TimeUs bucket,
                     std::string_view product) {
  std::string key;
  key.reserve(2 + entity.size() + 1 + 8 + product.size());
  key.push_back(char(scope));
  key.push_back(char(g));
  key.append(entity);
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(bucket));
  key.append(product);
  return key;
}

uint32_t UsageBatch::Intern(std::vector<std::string>& table,
                            absl::flat_hash_map<std::string, uint32_t>& index,
                            std::string_view s) {
  auto it = index.find(absl::string_view(s.data(), s.size()));
  if (it != index.end()) return it->second;
  table.emplace_back(s);
  index.emplace(table.back(), uint32_t(table.size() - 1));
  return uint32_t(table.size() - 1);
}

std::string UsageBatch::KeyOf(const Cell& cell) const {
  std::string entity;
  if (UsageScope(cell.scope) == UsageScope::kAccount) {
    entity = accounts_[cell.entity];
  } else {
    entity.resize(kKeyIdLength);
    for (size_t i = 0; i < kKeyIdLength; ++i) entity[i] = char(cell.entity >> (8 * (7 - i)));
  }
  return UsageKey(UsageScope(cell.scope), Granularity(cell.granularity), entity, cell.bucket,
                  UsageScope(cell.scope) == UsageScope::kProduct ? products_[cell.product]
                                                                 : std::string_view());
}

void UsageBatch::Add(const UsageEvent& e) {
  Counters c;
  c.requests = 1;
  c.units = e.units;
  c.errors_4xx = e.status >= 400 && e.status < 500;
  c.errors_5xx = e.status >= 500 && e.status < 600;
  c.bytes_in = e.bytes_in;
  c.bytes_out = e.bytes_out;
  const uint64_t account = Intern(accounts_, account_index_, e.account_id);
  for (Granularity g : kGranularities) {
    const TimeUs bucket = BucketStart(g, e.time_us);
    const char gran = char(g);
    cells_[Cell{char(UsageScope::kKey), gran, 0, e.key.packed(), bucket}].Add(c);
    cells_[Cell{char(UsageScope::kRoot), gran, 0, e.root.packed(), bucket}].Add(c);
    cells_[Cell{char(UsageScope::kAccount), gran, 0, account, bucket}].Add(c);
  }
  cells_[Cell{char(UsageScope::kProduct), char(Granularity::kDay),
              Intern(products_, product_index_, e.product), e.key.packed(), DayStart(e.time_us)}]
      .Add(c);
}

void UsageBatch::MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) {
  // In key order: the memtable's skip list inserts sorted keys next to the previous one (its
  // cached splice) instead of searching from the top for each.
  std::vector<std::pair<std::string, const Counters*>> sorted;
  sorted.reserve(cells_.size());
  for (const auto& [cell, counters] : cells_) sorted.emplace_back(KeyOf(cell), &counters);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, counters] : sorted) {
    scratch_.clear();
    EncodeCounters(*counters, &scratch_);
    batch->Merge(cf, key, scratch_).PermitUncheckedError();
  }
  cells_.clear();
  accounts_.clear();
  products_.clear();
  account_index_.clear();
  product_index_.clear();
}

Result<std::vector<UsageRow>> ReadUsage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                        UsageScope scope, Granularity g, std::string_view entity,
                                        TimeUs from_us, TimeUs to_us) {
  const std::string prefix = UsageKey(scope, g, entity, 0).substr(0, 2 + entity.size() + 1);
  const std::string start = UsageKey(scope, g, entity, std::max<TimeUs>(from_us, 0));
  const std::string end = UsageKey(scope, g, entity, to_us);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
  std::vector<UsageRow> rows;
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (!k.starts_with(prefix) || k.size() < prefix.size() + 8) break;
    UsageRow row;
    row.bucket_start_us = TimeUs(GetBigEndian64(k.substr(prefix.size())));
    row.product = std::string(k.substr(prefix.size() + 8));
    if (!DecodeCounters(it->value().ToStringView(), &row.counters)) {
      return Status("CORRUPT-RECORD", "usage counters of unexpected size");
    }
    rows.push_back(std::move(row));
  }
  if (!it->status().ok()) return Status("IO-ERROR", it->status().ToString());
  return rows;
}

Result<Counters> ReadUsageCell(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, UsageScope scope,
                               Granularity g, std::string_view entity, TimeUs t) {
  std::string value;
  rocksdb::Status s = db->Get({}, cf, UsageKey(scope, g, entity, BucketStart(g, t)), &value);
  Counters c;
  if (s.IsNotFound()) return c;
  if (!s.ok()) return Status("IO-ERROR", s.ToString());
  if (!DecodeCounters(value, &c)) return Status("CORRUPT-RECORD", "usage counters");
  return c;
}

}  // namespace keymeter
