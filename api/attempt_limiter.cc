#include "api/attempt_limiter.h"

#include <algorithm>

namespace keymeter {

int64_t AttemptLimiter::BlockedFor(std::string_view address, Clock::time_point now) const {
  if (options_.max_failures == 0) return 0;
  std::lock_guard lock(mu_);
  auto it = windows_.find(absl::string_view(address.data(), address.size()));
  if (it == windows_.end() || it->second.failures < options_.max_failures) return 0;
  const Clock::time_point end = it->second.start + options_.window;
  if (now >= end) return 0;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(end - now).count();
  return std::max<int64_t>(1, left);
}

void AttemptLimiter::RecordFailure(std::string_view address, Clock::time_point now) {
  if (options_.max_failures == 0) return;
  std::lock_guard lock(mu_);
  const absl::string_view key(address.data(), address.size());
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= options_.max_addresses) MakeRoom(now);
    it = windows_.emplace(std::string(address), Window{now, 0}).first;
  } else if (now >= it->second.start + options_.window) {
    it->second = Window{now, 0};
  }
  if (it->second.failures < UINT32_MAX) ++it->second.failures;
}

size_t AttemptLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return windows_.size();
}

void AttemptLimiter::MakeRoom(Clock::time_point now) {
  absl::erase_if(windows_,
                 [&](const auto& entry) { return now >= entry.second.start + options_.window; });
  if (windows_.size() < options_.max_addresses || windows_.empty()) return;
  auto oldest = windows_.begin();
  for (auto it = windows_.begin(); it != windows_.end(); ++it) {
    if (it->second.start < oldest->second.start) oldest = it;
  }
  windows_.erase(oldest);
}

}  // namespace keymeter
