#include "engine/reservations.h"

#include <algorithm>

namespace keymeter {

namespace {

uint64_t CountOf(const absl::flat_hash_map<std::pair<KeyId, TimeUs>, uint64_t>& map, KeyId id,
                 TimeUs start) {
  auto it = map.find(std::pair(id, start));
  return it == map.end() ? 0 : it->second;
}

void Subtract(absl::flat_hash_map<std::pair<KeyId, TimeUs>, uint64_t>& map, KeyId id, TimeUs start,
              uint64_t n) {
  auto it = map.find(std::pair(id, start));
  if (it == map.end()) return;
  it->second -= std::min(it->second, n);
  if (it->second == 0) map.erase(it);
}

}  // namespace

HeldCounts Reservations::Held(KeyId root, KeyId key, TimeUs now, RateScope rated) {
  if (size_.load(std::memory_order_acquire) == 0) return {};
  std::lock_guard lock(mu_);
  ExpireLocked(now);
  return HeldLocked(root, key, now, rated);
}

HeldCounts Reservations::HeldLocked(KeyId root, KeyId key, TimeUs now, RateScope rated) const {
  HeldCounts held;
  if (entries_.empty()) return held;
  const TimeUs day = DayStart(now);
  const TimeUs month = MonthStart(now);
  held.pool_day_requests = CountOf(pool_day_, root, day);
  held.pool_month_units = CountOf(pool_month_, root, month);
  if (key != root) {
    held.member_day_requests = CountOf(member_day_, key, day);
    held.member_month_units = CountOf(member_month_, key, month);
  }
  for (int w = 0; w < kRateWindows; ++w) {
    const TimeUs start = RateWindowStart(w, now);
    if (rated.pool) held.pool_rate[w] = CountOf(rate_[w], root, start);
    if (rated.member && key != root) held.member_rate[w] = CountOf(rate_[w], key, start);
  }
  return held;
}

ReserveOutcome Reservations::Reserve(std::string_view account_id, KeyId root, KeyId key,
                                     const RequestIdBytes& request_id, uint32_t units, TimeUs now,
                                     absl::FunctionRef<bool(const HeldCounts&)> admit,
                                     HeldCounts* held, RateScope rated) {
  const uint64_t account = StableHash(account_id);  // outside the lock
  if (key == root) rated.member = false;
  std::lock_guard lock(mu_);
  ExpireLocked(now);
  const HeldCounts counts = HeldLocked(root, key, now, rated);
  if (held != nullptr) *held = counts;
  const Name name(key, request_id);
  if (entries_.contains(name)) return ReserveOutcome::kAlreadyHeld;
  if (!admit(counts)) return ReserveOutcome::kDenied;
  if (entries_.size() >= options_.max_reservations) return ReserveOutcome::kFull;
  size_t& share = per_account_[account];
  if (share >= options_.max_per_account) return ReserveOutcome::kFull;
  ++share;
  const Entry entry{.root = root,
                    .account = account,
                    .day_start = DayStart(now),
                    .month_start = MonthStart(now),
                    .now = now,
                    .units = units,
                    .rated = rated,
                    .seq = next_seq_++};
  entries_.emplace(name, entry);
  expiries_.push_back({.at = now + options_.ttl_us, .seq = entry.seq, .name = name});
  ++pool_day_[std::pair(root, entry.day_start)];
  if (units > 0) pool_month_[std::pair(root, entry.month_start)] += units;
  if (key != root) {
    ++member_day_[std::pair(key, entry.day_start)];
    if (units > 0) member_month_[std::pair(key, entry.month_start)] += units;
  }
  for (int w = 0; w < kRateWindows; ++w) {
    const TimeUs start = RateWindowStart(w, now);
    if (rated.pool) ++rate_[w][std::pair(root, start)];
    if (rated.member) ++rate_[w][std::pair(key, start)];
  }
  size_.store(entries_.size(), std::memory_order_release);
  return ReserveOutcome::kReserved;
}

void Reservations::OnRequestApplied(KeyId /*root*/, KeyId key, const RequestIdBytes& request_id) {
  if (size_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard lock(mu_);
  const Name name(key, request_id);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  // The pool is the one the reservation was made against, even if the key moved since.
  const Entry entry = it->second;
  entries_.erase(it);
  RemoveLocked(name, entry);
  // Matched entries leave stale items in the expiry queue: keep it within twice the live set.
  if (expiries_.size() > 1024 && expiries_.size() > 2 * entries_.size()) {
    std::erase_if(expiries_, [this](const Expiry& e) {
      auto live = entries_.find(e.name);
      return live == entries_.end() || live->second.seq != e.seq;
    });
  }
}

void Reservations::ExpireLocked(TimeUs now) {
  while (!expiries_.empty() && expiries_.front().at <= now) {
    const Expiry& e = expiries_.front();
    auto it = entries_.find(e.name);
    if (it != entries_.end() && it->second.seq == e.seq) {
      const Entry entry = it->second;
      entries_.erase(it);
      RemoveLocked(e.name, entry);
    }
    expiries_.pop_front();
  }
}

void Reservations::RemoveLocked(const Name& name, const Entry& entry) {
  if (auto it = per_account_.find(entry.account); it != per_account_.end() && --it->second == 0) {
    per_account_.erase(it);
  }
  Subtract(pool_day_, entry.root, entry.day_start, 1);
  Subtract(pool_month_, entry.root, entry.month_start, entry.units);
  if (name.first != entry.root) {
    Subtract(member_day_, name.first, entry.day_start, 1);
    Subtract(member_month_, name.first, entry.month_start, entry.units);
  }
  for (int w = 0; w < kRateWindows; ++w) {
    const TimeUs start = RateWindowStart(w, entry.now);
    if (entry.rated.pool) Subtract(rate_[w], entry.root, start, 1);
    if (entry.rated.member) Subtract(rate_[w], name.first, start, 1);
  }
  size_.store(entries_.size(), std::memory_order_release);
}

}  // namespace keymeter
