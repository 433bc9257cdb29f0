#include "projections/quota.h"

#include "projections/key_directory.h"
#include "projections/time_buckets.h"
#include "projections/usage.h"

namespace keymeter {

void QuotaWindow::Count(TimeUs t, uint64_t requests, uint64_t units) {
  const TimeUs day = DayStart(t);
  if (day > day_start) {
    day_start = day;
    day_requests = 0;
  }
  if (day == day_start) day_requests += requests;
  const TimeUs month = MonthStart(t);
  if (month > month_start) {
    month_start = month;
    month_units = 0;
  }
  if (month == month_start) month_units += units;
}

uint64_t QuotaWindow::DayRequests(TimeUs now) const {
  return DayStart(now) == day_start ? day_requests : 0;
}

uint64_t QuotaWindow::MonthUnits(TimeUs now) const {
  return MonthStart(now) == month_start ? month_units : 0;
}

void QuotaWindows::Count(KeyId key, KeyId root, TimeUs t, uint32_t units) {
  pools_[root].Count(t, 1, units);
  if (key != root) members_[key].Count(t, 1, units);
}

QuotaWindow QuotaWindows::Pool(KeyId root) const {
  auto it = pools_.find(root);
  return it == pools_.end() ? QuotaWindow() : it->second;
}

QuotaWindow QuotaWindows::Member(KeyId key) const {
  auto it = members_.find(key);
  return it == members_.end() ? QuotaWindow() : it->second;
}

Status QuotaWindows::Restore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* usage,
                             const KeyDirectory& dir, TimeUs now) {
  pools_.clear();
  members_.clear();
  Status status;
  dir.ForEachKey([&](const KeyState& key) {
    if (!status.ok()) return;
    const std::string id = key.id.str();
    Result<Counters> day = ReadUsageCell(db, usage, UsageScope::kRoot, Granularity::kDay, id, now);
    Result<Counters> month = ReadUsageCell(db, usage, UsageScope::kRoot, Granularity::kMonth, id, now);
    Result<Counters> member = ReadUsageCell(db, usage, UsageScope::kKey, Granularity::kDay, id, now);
    if (!day || !month || !member) {
      status = Status(Code::kIoError, "reading usage to restore quota windows");
      return;
    }
    if (day.value().requests > 0 || month.value().units > 0) {
      pools_[key.id] = QuotaWindow{DayStart(now), day.value().requests, MonthStart(now),
                                   month.value().units};
    }
    if (key.is_child() && member.value().requests > 0) {
      members_[key.id] = QuotaWindow{DayStart(now), member.value().requests, MonthStart(now),
                                     member.value().units};
    }
  });
  return status;
}

}  // namespace keymeter
