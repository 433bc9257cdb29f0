#include "projections/dedupe.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace keymeter {

uint64_t StableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= uint8_t(c);
    h *= 1099511628211ull;
  }
  return h;
}

size_t DedupeWindow::IdHash::operator()(const std::pair<uint64_t, RequestIdBytes>& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.second.data(), 8);
  std::memcpy(&b, k.second.data() + 8, 8);
  return size_t(k.first ^ (a * 0x9E3779B97F4A7C15ull) ^ (b + (a << 6) + (a >> 2)));
}

bool DedupeWindow::SeenOrAdd(const Id& id, TimeUs t) {
  auto [it, inserted] = ids_.try_emplace(id, t);
  // The window as of this event: a repeat that is itself the newest event, more than a window
  // after the first, is not a duplicate (the watermark moves to `t` only below, once accepted,
  // so that dropped duplicates never move it).
  if (!inserted && it->second >= std::max(watermark_, t) - window_us_) return true;
  set_watermark(t);
  if (t < window_start()) {
    // Too old to be checked against anyway: not held (a stale entry goes at the next sweep).
    if (inserted) ids_.erase(it);
    return false;
  }
  if (!inserted) it->second = t;  // a stale entry of the same id, out of the window
  MaybeSweep();
  return false;
}

void DedupeWindow::Remember(std::string_view account_id, const RequestIdBytes& id, TimeUs t) {
  if (t < window_start()) return;  // too old to be checked against anyway
  auto [it, inserted] = ids_.try_emplace(IdOf(account_id, id), t);
  if (!inserted) it->second = std::max(it->second, t);
  MaybeSweep();
}

void DedupeWindow::MaybeSweep() {
  const bool moved = watermark_ - swept_at_ >= window_us_ / 8;
  if (!moved && ids_.size() <= max_entries_) return;
  swept_at_ = watermark_;
  const TimeUs start = window_start();
  if (ids_.size() <= max_entries_) {
    absl::erase_if(ids_, [start](const auto& entry) { return entry.second < start; });
    return;
  }
  // Over the bound: one pass drops what fell out of the window and gathers the times of the
  // rest (bench: the sweeps took a third of an insert's time at the bound with a pass each).
  std::vector<TimeUs> times;
  times.reserve(ids_.size());
  for (auto it = ids_.begin(); it != ids_.end();) {
    if (it->second < start) {
      ids_.erase(it++);  // erasing leaves the other iterators valid
    } else {
      times.push_back(it->second);
      ++it;
    }
  }
  if (ids_.size() <= max_entries_) return;
  // Still over the bound within the window: drop the oldest eighth of the bound, by time (ties
  // go together, so what is dropped depends on the entries alone, not on their arrival order).
  const size_t keep = max_entries_ - max_entries_ / 8;
  std::nth_element(times.begin(), times.end() - keep, times.end());
  const TimeUs cutoff = *(times.end() - keep);
  absl::erase_if(ids_, [cutoff](const auto& entry) { return entry.second < cutoff; });
  if (ids_.size() > max_entries_) {  // all at one time: the bound wins
    absl::erase_if(ids_, [cutoff](const auto& entry) { return entry.second <= cutoff; });
  }
}

}  // namespace keymeter
