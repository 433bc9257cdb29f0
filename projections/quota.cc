#include "projections/quota.h"

#include "projections/key_directory.h"
#include "projections/time_buckets.h"
#include "projections/usage.h"

namespace keymeter {

void PeriodCounts::Add(TimeUs period, uint64_t n) {
  if (period == start[0]) {
    count[0] += n;
  } else if (period == start[1]) {
    count[1] += n;
  } else if (period > start[0]) {
    start[1] = start[0];
    count[1] = count[0];
    start[0] = period;
    count[0] = n;
  } else if (period > start[1]) {
    start[1] = period;
    count[1] = n;
  }
}

uint64_t PeriodCounts::At(TimeUs period) const {
  if (period == start[0]) return count[0];
  return period == start[1] ? count[1] : 0;
}

void QuotaWindow::Count(TimeUs t, uint64_t requests, uint64_t units) {
  days.Add(DayStart(t), requests);
  months.Add(MonthStart(t), units);
}

uint64_t QuotaWindow::DayRequests(TimeUs now) const { return days.At(DayStart(now)); }

uint64_t QuotaWindow::MonthUnits(TimeUs now) const { return months.At(MonthStart(now)); }

void QuotaWindows::Count(KeyId key, KeyId root, TimeUs t, uint32_t units, bool pool_rated,
                         bool member_rated) {
  pools_[root].Count(t, 1, units);
  if (key != root) members_[key].Count(t, 1, units);
  if (pool_rated) rates_[root].Count(t, 1);
  if (member_rated && key != root) rates_[key].Count(t, 1);
}

RateCounts QuotaWindows::Rates(KeyId key) const {
  auto it = rates_.find(key);
  return it == rates_.end() ? RateCounts() : it->second;
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
  rates_.clear();
  Status status;
  // The day and month holding `now`, and the next ones (future-dated events up to the
  // projector's tolerance ahead may have counted there already).
  const TimeUs next_day = DayStart(now) + kMicrosPerDay;
  const TimeUs next_month = NextMonthStart(now);
  dir.ForEachKey([&](const KeyState& key) {
    if (!status.ok()) return;
    const std::string id = key.id.str();
    // One cell of this key's usage; zero, with `status` set, when it can't be read.
    auto cell = [&](UsageScope scope, Granularity g, TimeUs at) {
      Result<Counters> c = ReadUsageCell(db, usage, scope, g, id, at);
      if (!c) status = Status(Code::kIoError, "reading usage to restore quota windows");
      return c ? c.value() : Counters();
    };
    auto add = [](PeriodCounts& counts, TimeUs period, uint64_t n) {
      if (n > 0) counts.Add(period, n);
    };
    QuotaWindow pool, member;
    for (const TimeUs at : {now, next_day}) {
      add(pool.days, DayStart(at), cell(UsageScope::kRoot, Granularity::kDay, at).requests);
      if (key.is_child()) {
        add(member.days, DayStart(at), cell(UsageScope::kKey, Granularity::kDay, at).requests);
      }
    }
    for (const TimeUs at : {now, next_month}) {
      add(pool.months, MonthStart(at), cell(UsageScope::kRoot, Granularity::kMonth, at).units);
      if (key.is_child()) {
        add(member.months, MonthStart(at), cell(UsageScope::kKey, Granularity::kMonth, at).units);
      }
    }
    if (pool.latest_day() != 0 || pool.latest_month() != 0) pools_[key.id] = pool;
    if (member.latest_day() != 0 || member.latest_month() != 0) members_[key.id] = member;
    if (key.extras().rate.any()) {  // the hour in progress; its second and minute are not kept
      const UsageScope scope = key.is_child() ? UsageScope::kKey : UsageScope::kRoot;
      RateCounts rates;
      const int h = int(RateWindow::kHour);
      rates.windows[h].Add(RateWindowStart(h, now), cell(scope, Granularity::kHour, now).requests);
      rates_[key.id] = rates;
    }
  });
  return status;
}

}  // namespace keymeter
