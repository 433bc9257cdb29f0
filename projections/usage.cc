#include "projections/usage.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <bit>
#include <functional>

#include "projections/column_families.h"
#include "projections/varint.h"

namespace keymeter {

namespace {

constexpr int kHoursPerDay = 24;

void PutCounters(const Counters& c, std::string* out) {
  PutVarint(out, c.requests);
  PutVarint(out, c.units);
  PutVarint(out, c.errors_4xx);
  PutVarint(out, c.errors_5xx);
  PutVarint(out, c.bytes_in);
  PutVarint(out, c.bytes_out);
}

bool GetCounters(std::string_view* in, Counters* c) {
  return GetVarint(in, &c->requests) && GetVarint(in, &c->units) &&
         GetVarint(in, &c->errors_4xx) && GetVarint(in, &c->errors_5xx) &&
         GetVarint(in, &c->bytes_in) && GetVarint(in, &c->bytes_out);
}

// A decoded day value. Products borrow their names from the bytes they were decoded from.
struct DayValue {
  uint32_t hour_mask = 0;
  std::array<Counters, kHoursPerDay> hours{};
  std::vector<std::pair<std::string_view, Counters>> products;  // ascending, unique

  Counters Total() const {
    Counters sum;
    for (int h = 0; h < kHoursPerDay; ++h) {
      if (hour_mask & (1u << h)) sum.Add(hours[h]);
    }
    return sum;
  }
};

bool DecodeDay(std::string_view in, DayValue* day) {
  uint64_t n;
  if (!GetVarint(&in, &n) || n > kHoursPerDay) return false;
  for (uint64_t i = 0; i < n; ++i) {
    if (in.empty()) return false;
    const uint8_t h = uint8_t(in.front());
    in.remove_prefix(1);
    Counters c;
    if (h >= kHoursPerDay || !GetCounters(&in, &c)) return false;
    day->hours[h].Add(c);
    day->hour_mask |= 1u << h;
  }
  if (!GetVarint(&in, &n) || n > in.size()) return false;
  day->products.reserve(day->products.size() + n);
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view name;
    Counters c;
    if (!GetLengthPrefixed(&in, &name) || !GetCounters(&in, &c)) return false;
    day->products.emplace_back(name, c);
  }
  return in.empty();
}

void EncodeDay(const DayValue& day, std::string* out) {
  PutVarint(out, uint64_t(std::popcount(day.hour_mask)));
  for (int h = 0; h < kHoursPerDay; ++h) {
    if ((day.hour_mask & (1u << h)) == 0) continue;
    out->push_back(char(h));
    PutCounters(day.hours[h], out);
  }
  PutVarint(out, day.products.size());
  for (const auto& [name, c] : day.products) {
    PutLengthPrefixed(out, name);
    PutCounters(c, out);
  }
}

// Sorts by name and adds up equal names, in place.
void CanonicalProducts(std::vector<std::pair<std::string_view, Counters>>* products) {
  std::sort(products->begin(), products->end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t out = 0;
  for (size_t i = 0; i < products->size(); ++i) {
    if (out > 0 && (*products)[out - 1].first == (*products)[i].first) {
      (*products)[out - 1].second.Add((*products)[i].second);
    } else {
      (*products)[out++] = (*products)[i];
    }
  }
  products->resize(out);
}

class UsageDayAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    DayValue day;
    if (existing != nullptr && !DecodeDay(existing->ToStringView(), &day)) return false;
    if (!DecodeDay(value.ToStringView(), &day)) return false;
    CanonicalProducts(&day.products);
    new_value->clear();
    EncodeDay(day, new_value);
    return true;
  }
  const char* Name() const override { return "keymeter.UsageDayAdd"; }
};

// The 8 characters of a packed KeyId.
std::string EntityBytes(uint64_t packed) {
  std::string entity(kKeyIdLength, '\0');
  for (size_t i = 0; i < kKeyIdLength; ++i) entity[i] = char(packed >> (8 * (7 - i)));
  return entity;
}

// The prefix of every value of an entity: scope entity 0x00.
std::string EntityPrefix(UsageScope scope, std::string_view entity) {
  std::string prefix;
  prefix.reserve(1 + entity.size() + 1 + 8);
  prefix.push_back(char(scope));
  prefix.append(entity);
  prefix.push_back('\0');
  return prefix;
}

// Visits the day values of an entity with day start >= from_day, in time order, until `fn`
// returns false.
Status ScanDays(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, UsageScope scope,
                std::string_view entity, TimeUs from_day,
                const std::function<bool(TimeUs, const DayValue&)>& fn) {
  const std::string prefix = EntityPrefix(scope, entity);
  std::string start = prefix;
  PutBigEndian64(&start, uint64_t(std::max<TimeUs>(from_day, 0)));
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf));
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (!k.starts_with(prefix) || k.size() != prefix.size() + 8) break;
    DayValue day;
    if (!DecodeDay(it->value().ToStringView(), &day)) {
      return Status(Code::kCorruptRecord, "usage day value");
    }
    if (!fn(TimeUs(GetBigEndian64(k.substr(prefix.size()))), day)) break;
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return Status::Ok();
}

}  // namespace

void Counters::Add(const Counters& o) {
  requests += o.requests;
  units += o.units;
  errors_4xx += o.errors_4xx;
  errors_5xx += o.errors_5xx;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
}


std::shared_ptr<rocksdb::MergeOperator> NewUsageMergeOperator() {
  return std::make_shared<UsageDayAdd>();
}

std::string UsageDayKey(UsageScope scope, std::string_view entity, TimeUs t) {
  std::string key = EntityPrefix(scope, entity);
  PutBigEndian64(&key, uint64_t(DayStart(t)));
  return key;
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

uint32_t UsageBatch::ProductIndex(std::string_view product) {
  // Events come in runs of few products: most lookups end at the last one.
  if (last_product_index_ != UINT32_MAX && product == last_product_) return last_product_index_;
  last_product_index_ = products_.Intern(product);
  last_product_.assign(product);
  return last_product_index_;
}

namespace {

template <class Slot>
void AddToSlot(absl::InlinedVector<std::pair<Slot, Counters>, 1>& slots, Slot slot,
               const Counters& c) {
  for (auto& [s, counters] : slots) {
    if (s == slot) return counters.Add(c);
  }
  slots.emplace_back(slot, c);
}

}  // namespace

void UsageBatch::Add(const UsageEvent& e) {
  Counters c;
  c.requests = 1;
  c.units = e.units;
  c.errors_4xx = e.status >= 400 && e.status < 500;
  c.errors_5xx = e.status >= 500 && e.status < 600;
  c.bytes_in = e.bytes_in;
  c.bytes_out = e.bytes_out;
  const TimeUs day = DayStart(e.time_us);
  const uint8_t hour = uint8_t((e.time_us - day) / kMicrosPerHour);
  Slots& key = days_[Day{char(UsageScope::kKey), e.key.packed(), day}];
  AddToSlot(key.hours, hour, c);
  AddToSlot(key.products, ProductIndex(e.product), c);
  AddToSlot(days_[Day{char(UsageScope::kRoot), e.root.packed(), day}].hours, hour, c);
  const auto account = reinterpret_cast<uintptr_t>(&e.account_id.str());
  AddToSlot(days_[Day{char(UsageScope::kAccount), account, day}].hours, hour, c);
}

void UsageBatch::Prefetch(KeyId key, TimeUs t) const {
  const TimeUs day = DayStart(t);
  days_.prefetch(Day{char(UsageScope::kKey), key.packed(), day});
  days_.prefetch(Day{char(UsageScope::kRoot), key.packed(), day});
}

void UsageBatch::MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf) {
  // In key order, for the memtable's insert hint (engine/store.cc): the skip list inserts each
  // key from the previous one's place instead of searching from the top.
  std::vector<std::pair<std::string, const Slots*>> sorted;
  sorted.reserve(days_.size());
  for (const auto& [day, slots] : days_) {
    const std::string entity = UsageScope(day.scope) == UsageScope::kAccount
                                   ? *reinterpret_cast<const std::string*>(uintptr_t(day.entity))
                                   : EntityBytes(day.entity);
    sorted.emplace_back(UsageDayKey(UsageScope(day.scope), entity, day.start), &slots);
  }
  std::sort(sorted.begin(), sorted.end());
  DayValue value;
  for (const auto& [key, slots] : sorted) {
    value.hour_mask = 0;
    for (const auto& [hour, c] : slots->hours) {
      value.hours[hour] = c;
      value.hour_mask |= 1u << hour;
    }
    value.products.clear();
    for (const auto& [product, c] : slots->products) value.products.emplace_back(products_[product], c);
    CanonicalProducts(&value.products);
    scratch_.clear();
    EncodeDay(value, &scratch_);
    batch->Merge(cf, key, scratch_).PermitUncheckedError();
  }
  days_.clear();
  products_.Clear();
  last_product_index_ = UINT32_MAX;
}

Result<std::vector<UsageRow>> ReadUsage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                        UsageScope scope, Granularity g, std::string_view entity,
                                        TimeUs from_us, TimeUs to_us) {
  std::vector<UsageRow> rows;
  const UsageScope stored = scope == UsageScope::kProduct ? UsageScope::kKey : scope;
  // Hours and months may start before or after the day they are read from: scan from the day
  // holding `from_us` (a month's days all lie at or after its start).
  Status s = ScanDays(db, cf, stored, entity, DayStart(std::max<TimeUs>(from_us, 0)),
                      [&](TimeUs day, const DayValue& value) {
    const Granularity read = scope == UsageScope::kProduct ? Granularity::kDay : g;
    if (read != Granularity::kMonth && day >= to_us) return false;
    switch (read) {
      case Granularity::kHour:
        for (int h = 0; h < kHoursPerDay; ++h) {
          const TimeUs start = day + h * kMicrosPerHour;
          if ((value.hour_mask & (1u << h)) == 0 || start < from_us || start >= to_us) continue;
          rows.push_back(UsageRow{.bucket_start_us = start, .counters = value.hours[h]});
        }
        return true;
      case Granularity::kDay:
        if (day < from_us) return true;
        if (scope == UsageScope::kProduct) {
          for (const auto& [name, c] : value.products) {
            rows.push_back(UsageRow{.bucket_start_us = day, .product = std::string(name), .counters = c});
          }
        } else {
          rows.push_back(UsageRow{.bucket_start_us = day, .counters = value.Total()});
        }
        return true;
      case Granularity::kMonth: {
        const TimeUs month = MonthStart(day);
        if (month >= to_us) return false;
        if (month < from_us) return true;
        if (rows.empty() || rows.back().bucket_start_us != month) {
          rows.push_back(UsageRow{.bucket_start_us = month});
        }
        rows.back().counters.Add(value.Total());
        return true;
      }
    }
    return true;
  });
  if (!s.ok()) return s;
  return rows;
}

Result<Counters> ReadUsageCell(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, UsageScope scope,
                               Granularity g, std::string_view entity, TimeUs t) {
  Counters sum;
  if (g == Granularity::kMonth) {
    const TimeUs month = MonthStart(t);
    Result<std::vector<UsageRow>> rows = ReadUsage(db, cf, scope, g, entity, month, month + 1);
    if (!rows) return rows.error();
    for (const UsageRow& row : rows.value()) sum.Add(row.counters);
    return sum;
  }
  std::string bytes;
  rocksdb::Status s = db->Get({}, cf, UsageDayKey(scope, entity, t), &bytes);
  if (s.IsNotFound()) return sum;
  if (!s.ok()) return Status(Code::kIoError, s.ToString());
  DayValue day;
  if (!DecodeDay(bytes, &day)) return Status(Code::kCorruptRecord, "usage day value");
  if (g == Granularity::kDay) return day.Total();
  const int h = int((t - DayStart(t)) / kMicrosPerHour);
  return (day.hour_mask & (1u << h)) ? day.hours[h] : sum;
}

Result<std::map<std::string, Counters>> AllUsageCells(rocksdb::DB* db,
                                                      rocksdb::ColumnFamilyHandle* cf) {
  std::map<std::string, Counters> cells;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = it->key().ToStringView();
    const size_t zero = k.find('\0', 1);
    DayValue value;
    if (zero == std::string_view::npos || k.size() != zero + 1 + 8 ||
        !DecodeDay(it->value().ToStringView(), &value)) {
      return Status(Code::kCorruptRecord, "usage day value");
    }
    const UsageScope scope = UsageScope(k[0]);
    const std::string_view entity = k.substr(1, zero - 1);
    const TimeUs day = TimeUs(GetBigEndian64(k.substr(zero + 1)));
    for (int h = 0; h < kHoursPerDay; ++h) {
      if (value.hour_mask & (1u << h)) {
        cells[UsageKey(scope, Granularity::kHour, entity, day + h * kMicrosPerHour)] = value.hours[h];
      }
    }
    cells[UsageKey(scope, Granularity::kDay, entity, day)] = value.Total();
    cells[UsageKey(scope, Granularity::kMonth, entity, MonthStart(day))].Add(value.Total());
    for (const auto& [name, c] : value.products) {
      cells[UsageKey(UsageScope::kProduct, Granularity::kDay, entity, day, name)] = c;
    }
  }
  if (!it->status().ok()) return Status(Code::kIoError, it->status().ToString());
  return cells;
}

}  // namespace keymeter
