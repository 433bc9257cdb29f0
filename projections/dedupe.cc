#include "projections/dedupe.h"

#include <cstring>

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

bool DedupeWindow::SeenOrAdd(std::string_view account_id, const RequestIdBytes& id, TimeUs t) {
  const uint64_t account = StableHash(account_id);
  if (ids_.contains({account, id})) return true;
  set_watermark(t);
  Evict();
  Remember(account_id, id, t);
  return false;
}

void DedupeWindow::Remember(std::string_view account_id, const RequestIdBytes& id, TimeUs t) {
  if (t < window_start()) return;  // too old to be checked against anyway
  const uint64_t account = StableHash(account_id);
  if (!ids_.insert({account, id}).second) return;
  by_time_.insert(Entry{t, account, id});
  Evict();
}

void DedupeWindow::Evict() {
  while (!by_time_.empty() &&
         (by_time_.begin()->time < window_start() || by_time_.size() > max_entries_)) {
    const Entry& oldest = *by_time_.begin();
    ids_.erase({oldest.account, oldest.id});
    by_time_.erase(by_time_.begin());
  }
}

}  // namespace keymeter
