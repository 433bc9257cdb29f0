#include "projections/alerts.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>

#include "projections/aligned.h"
#include "projections/column_families.h"
#include "projections/time_buckets.h"
#include "schemas/envelope.h"
#include "schemas/hex.h"
#include "schemas/records_generated.h"
#include "schemas/sha256.h"

namespace keymeter {

namespace {

// The count at which `percent` of `limit` is reached: ceil(limit * percent / 100), at least 1.
uint64_t ThresholdOf(uint64_t limit, uint8_t percent) {
  // limit = 100q + r: limit * percent / 100 = q * percent + r * percent / 100, no overflow.
  const uint64_t q = limit / 100, r = limit % 100;
  return std::max<uint64_t>(1, q * percent + (r * percent + 99) / 100);
}

bool Over(uint64_t limit, uint64_t count, const std::vector<uint8_t>& percents, uint8_t p) {
  return limit > 0 && std::find(percents.begin(), percents.end(), p) != percents.end() &&
         count >= ThresholdOf(limit, p);
}

std::string AlertId(const Alert& a, bool resolved) {
  std::string text = a.account_id;
  for (const std::string_view part : {std::string_view(a.key_id), std::string_view(a.metric)}) {
    text.push_back('\0');
    text.append(part);
  }
  text.push_back('\0');
  PutBigEndian64(&text, a.percent);
  PutBigEndian64(&text, uint64_t(a.window_start_us));
  PutBigEndian64(&text, a.limit);
  text.push_back(resolved ? 'r' : 'c');
  const Digest digest = Sha256(text);
  std::string id = "alert_";
  AppendHex(&id, std::span<const uint8_t>(digest.data(), 16));
  return id;
}

// Who alerts are about; views of the key's own fields (a request's count copies nothing).
struct Subject {
  std::string_view account_id;
  KeyId key;
  bool member = false;
};

struct Level {
  uint64_t limit;
  uint64_t count;
  const std::vector<uint8_t>& percents;
};

// Crossed for each percent `now` is over and `was` is not; resolved the other way round.
void Transitions(const Subject& s, std::string_view metric, TimeUs window, const Level& was,
                 const Level& now, TimeUs time_us, std::vector<Alert>* out) {
  const auto one = [&](uint8_t p) {
    const bool before = Over(was.limit, was.count, was.percents, p);
    const bool after = Over(now.limit, now.count, now.percents, p);
    if (before == after && (!before || was.limit == now.limit)) return;
    Alert a{.account_id = std::string(s.account_id),
            .key_id = s.key.str(),
            .metric = std::string(s.member ? "member_" : "") + std::string(metric),
            .percent = p,
            .window_start_us = window,
            .time_us = time_us};
    if (before) {  // resolved: the crossing of the old limit
      a.limit = was.limit;
      a.value = now.count;
      a.resolved = true;
      a.resolves = AlertId(a, false);
      a.alert_id = AlertId(a, true);
      out->push_back(a);
    }
    if (after) {
      a.limit = now.limit;
      a.value = now.count;
      a.resolved = false;
      a.resolves.clear();
      a.alert_id = AlertId(a, false);
      out->push_back(a);
    }
  };
  // Each percent of either list once (no allocation: this runs for every counted request).
  for (uint8_t p : was.percents) one(p);
  for (uint8_t p : now.percents) {
    if (std::find(was.percents.begin(), was.percents.end(), p) == was.percents.end()) one(p);
  }
}

// Adds `n` at `period` to `window` as above.
void CountWindow(const Subject& s, std::string_view metric, uint64_t limit,
                 const std::vector<uint8_t>& percents, AlertWindow& window, TimeUs period,
                 uint64_t n, TimeUs time_us, std::vector<Alert>* out) {
  if (period < window.start) return;  // a late event
  if (period > window.start) {
    if (window.start != 0) {
      Transitions(s, metric, window.start, {limit, window.count, percents}, {limit, 0, percents},
                  time_us, out);
    }
    window = {.start = period, .count = 0};
  }
  if (n == 0) return;
  const uint64_t before = window.count;
  window.count = before + n < before ? UINT64_MAX : before + n;
  Transitions(s, metric, period, {limit, before, percents}, {limit, window.count, percents},
              time_us, out);
}

// The credits' level: the balance the window opened with (none when not positive), the units
// spent since.
uint64_t CreditsLimit(const CreditsWindow& w) { return w.opening > 0 ? uint64_t(w.opening) : 0; }

// From `was` to `now`: one window throughout, or the old one's alerts resolved and the new one's
// raised.
void CreditsTransitions(const Subject& s, const CreditsWindow& was, const CreditsWindow& now,
                        const std::vector<uint8_t>& was_percents,
                        const std::vector<uint8_t>& now_percents, TimeUs time_us,
                        std::vector<Alert>* out) {
  if (was.start == 0 && now.start == 0) return;
  const Level before{CreditsLimit(was), was.spent, was_percents};
  if (was.start == now.start) {
    Transitions(s, "credits", now.start, before, {CreditsLimit(now), now.spent, now_percents},
                time_us, out);
    return;
  }
  if (was.start != 0) {
    Transitions(s, "credits", was.start, before, {CreditsLimit(was), 0, was_percents}, time_us,
                out);
  }
  if (now.start != 0) {
    Transitions(s, "credits", now.start, {CreditsLimit(now), 0, now_percents},
                {CreditsLimit(now), now.spent, now_percents}, time_us, out);
  }
}

std::string AlertKey(std::string_view account_id, TimeUs time_us, std::string_view alert_id) {
  return TimedKey(AccountPrefix(account_id, '\0'), time_us, alert_id);
}

Alert AlertOf(const fb::AlertRecord& r, std::string_view account_id) {
  return Alert{.alert_id = Str(r.alert_id()),
               .resolved = r.resolved(),
               .account_id = std::string(account_id),
               .key_id = Str(r.key_id()),
               .metric = Str(r.metric()),
               .percent = r.percent(),
               .limit = r.limit(),
               .value = r.value(),
               .window_start_us = r.window_start_us(),
               .time_us = r.time_us(),
               .resolves = Str(r.resolves())};
}

}  // namespace

AlertWatch AlertWatchOf(const KeyState& key) {
  const KeyExtras& x = key.extras();
  AlertWatch w{.account_id = key.account_id.str(), .key = key.id, .member = key.is_child()};
  w.day_limit = w.member ? key.member_cap : key.daily_requests;
  w.month_limit = w.member ? x.member_monthly_units : key.monthly_units;
  w.percents = x.alert_percents;
  w.day = x.alert_day;
  w.month = x.alert_month;
  w.credits = x.alert_credits;
  return w;
}

void OpenCreditsWindow(KeyState& key, TimeUs time_us) {
  if (!key.has_extras()) return;
  KeyExtras& x = key.mutable_extras();
  if (key.is_child() || x.alert_percents.empty() || !x.credits.enabled) {
    x.alert_credits = {};
    return;
  }
  x.alert_credits = {.start = time_us, .opening = BalanceAt(x.credits, time_us), .spent = 0};
}

void AlertChanges(const AlertWatch& before, const AlertWatch& after, TimeUs time_us,
                  std::vector<Alert>* out) {
  // Windows start when thresholds are set: one that has not started counts nothing yet.
  const Subject s{after.account_id, after.key, after.member};
  if (after.day.start != 0 || before.day.start != 0) {
    Transitions(s, "daily_requests", after.day.start,
                {before.day_limit, before.day.count, before.percents},
                {after.day_limit, after.day.count, after.percents}, time_us, out);
  }
  if (after.month.start != 0 || before.month.start != 0) {
    Transitions(s, "monthly_units", after.month.start,
                {before.month_limit, before.month.count, before.percents},
                {after.month_limit, after.month.count, after.percents}, time_us, out);
  }
  CreditsTransitions(s, before.credits, after.credits, before.percents, after.percents, time_us,
                     out);
}

void CountForAlerts(KeyState& key, bool member, TimeUs time_us, uint64_t units,
                    std::vector<Alert>* out) {
  KeyExtras& x = key.mutable_extras();
  const Subject s{key.account_id, key.id, member};
  CountWindow(s, "daily_requests", member ? key.member_cap : key.daily_requests, x.alert_percents,
              x.alert_day, DayStart(time_us), 1, time_us, out);
  CountWindow(s, "monthly_units", member ? x.member_monthly_units : key.monthly_units,
              x.alert_percents, x.alert_month, MonthStart(time_us), units, time_us, out);
  CreditsWindow& w = x.alert_credits;
  if (member || w.start == 0 || !x.credits.enabled || time_us < w.start) return;
  CreditsWindow now = w;
  // Refilled since the window opened: a new one, opening with the balance before this request
  // (the request spent after the refill: engine/projector.cc spends before it counts).
  if (const TimeUs refill = RefillPeriodStart(x.credits, time_us); refill > w.start) {
    now = {.start = refill, .opening = SaturatingAdd(x.credits.balance, int64_t(units)), .spent = 0};
  }
  now.spent = now.spent + units < now.spent ? UINT64_MAX : now.spent + units;
  CreditsTransitions(s, w, now, x.alert_percents, x.alert_percents, time_us, out);
  w = now;
}

Status CheckThresholds(const std::vector<uint8_t>& percents) {
  if (percents.size() > kMaxAlertThresholds) {
    return Status(Code::kInvalidThresholds, "at most 8 thresholds");
  }
  for (size_t i = 0; i < percents.size(); ++i) {
    if (percents[i] < 1 || percents[i] > 100) {
      return Status(Code::kInvalidThresholds, "a threshold is a percent, 1..100");
    }
    if (std::count(percents.begin(), percents.end(), percents[i]) > 1) {
      return Status(Code::kInvalidThresholds, "a threshold is given twice");
    }
  }
  return Status::Ok();
}

void PutAlert(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, const Alert& a) {
  flatbuffers::FlatBufferBuilder b(256);
  b.Finish(fb::CreateAlertRecordDirect(b, a.alert_id.c_str(), a.resolved, a.key_id.c_str(),
                                       a.metric.c_str(), a.percent, a.limit, a.value,
                                       a.window_start_us, a.time_us,
                                       a.resolves.empty() ? nullptr : a.resolves.c_str()));
  const rocksdb::Slice value(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  // A WriteBatch Put only fails past 4 GiB of batch; the projector bounds batches far below.
  batch->Put(cf, AlertKey(a.account_id, a.time_us, a.alert_id), value).PermitUncheckedError();
}

Result<std::optional<Alert>> ReadAlert(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                       std::string_view account_id, TimeUs time_us,
                                       std::string_view alert_id) {
  std::string bytes;
  const rocksdb::Status s = db->Get({}, cf, AlertKey(account_id, time_us, alert_id), &bytes);
  if (s.IsNotFound()) return std::optional<Alert>();
  if (!s.ok()) return Status(Code::kIoError, "alerts: " + s.ToString());
  const AlignedBytes value(bytes);
  flatbuffers::Verifier verifier(value.data(), value.size());
  if (!verifier.VerifyBuffer<fb::AlertRecord>(nullptr)) {
    return Status(Code::kCorruptRecord, "alert record does not verify");
  }
  return std::optional<Alert>(AlertOf(*flatbuffers::GetRoot<fb::AlertRecord>(value.data()),
                                      account_id));
}

Result<AlertPage> ReadAlerts(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                             std::string_view account_id, std::string_view key_id, size_t limit,
                             std::string_view cursor) {
  const std::string lower = AlertKey(account_id, 0, "");
  std::string upper = AlertKey(account_id, INT64_MAX, "");
  if (!cursor.empty()) {  // the hex of the last key returned, after the account's prefix
    std::string suffix(cursor.size() / 2, '\0');
    if (cursor.size() % 2 != 0 || cursor.size() < 16 ||
        !DecodeHex(cursor, std::span(reinterpret_cast<uint8_t*>(suffix.data()), suffix.size()))) {
      return Status(Code::kInvalidField, "cursor: not one of a page of alerts");
    }
    upper = std::string(account_id) + '\0' + suffix;
  }
  rocksdb::ReadOptions options;
  const rocksdb::Slice lower_slice(lower);
  options.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
  AlertPage page;
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    if (it->key().compare(upper) >= 0) continue;
    const AlignedBytes value(it->value().ToStringView());
    flatbuffers::Verifier verifier(value.data(), value.size());
    if (!verifier.VerifyBuffer<fb::AlertRecord>(nullptr)) {
      return Status(Code::kCorruptRecord, "alert record does not verify");
    }
    const auto* r = flatbuffers::GetRoot<fb::AlertRecord>(value.data());
    if (!key_id.empty() && r->key_id() != nullptr && r->key_id()->string_view() != key_id) {
      continue;
    }
    if (page.alerts.size() == limit) {
      const Alert& last = page.alerts.back();
      const std::string key = AlertKey(account_id, last.time_us, last.alert_id);
      AppendHex(&page.next_cursor, std::span<const uint8_t>(
                                       reinterpret_cast<const uint8_t*>(key.data()) +
                                           account_id.size() + 1,
                                       key.size() - account_id.size() - 1));
      break;
    }
    page.alerts.push_back(AlertOf(*r, account_id));
  }
  if (!it->status().ok()) return Status(Code::kIoError, "alerts: " + it->status().ToString());
  return page;
}

}  // namespace keymeter
