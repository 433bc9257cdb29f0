#include "cli/common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <system_error>

#include "projections/time_buckets.h"

namespace keymeter::cli {

namespace {

// Reads exactly `n` decimal digits at `*pos`; advances past them.
std::optional<int64_t> Digits(std::string_view text, size_t* pos, size_t n) {
  if (*pos + n > text.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

// "YYYY-MM-DD" at `*pos` → days since the epoch, validated.
std::optional<int64_t> DateAt(std::string_view text, size_t* pos) {
  const auto y = Digits(text, pos, 4);
  if (!y || !Expect(text, pos, '-')) return std::nullopt;
  const auto m = Digits(text, pos, 2);
  if (!m || *m < 1 || *m > 12 || !Expect(text, pos, '-')) return std::nullopt;
  const auto d = Digits(text, pos, 2);
  if (!d || *d < 1) return std::nullopt;
  const int64_t first = DaysFromCivil(*y, unsigned(*m), 1);
  const int64_t next =
      *m == 12 ? DaysFromCivil(*y + 1, 1, 1) : DaysFromCivil(*y, unsigned(*m + 1), 1);
  if (*d > next - first) return std::nullopt;
  return first + *d - 1;
}

}  // namespace

std::optional<TimeUs> ParseDate(std::string_view text) {
  size_t pos = 0;
  const auto days = DateAt(text, &pos);
  if (!days || pos != text.size()) return std::nullopt;
  return *days * kMicrosPerDay;
}

std::optional<TimeUs> ParseDuration(std::string_view text) {
  if (text == "0") return 0;
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  TimeUs unit = 0;
  switch (text.back()) {
    case 's':
      unit = kMicrosPerSecond;
      break;
    case 'm':
      unit = 60 * kMicrosPerSecond;
      break;
    case 'h':
      unit = kMicrosPerHour;
      break;
    case 'd':
      unit = kMicrosPerDay;
      break;
    default:
      return std::nullopt;
  }
  size_t pos = 0;
  const auto n = Digits(text, &pos, text.size() - 1);
  if (!n) return std::nullopt;
  return *n * unit;
}

Result<std::unique_ptr<Store>> OpenStoreForReading(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(data_dir, ec);
  if (!fs::exists(status)) {
    return Status(Code::kNoDataDir,
                  fmt::format("data dir {} does not exist; give the --data-dir of a "
                              "keymeter store (the one `keymeter serve` or "
                              "`keymeter replay` wrote)",
                              data_dir));
  }
  if (!fs::is_directory(status)) {
    return Status(Code::kNoDataDir, fmt::format("data dir {} is not a directory", data_dir));
  }
  if (!fs::exists(fs::path(data_dir) / "CURRENT", ec)) {
    return Status(Code::kNotAStore,
                  fmt::format("{} holds no keymeter store (no RocksDB database in "
                              "it); give the --data-dir of a keymeter store",
                              data_dir));
  }
  StoreOptions options;
  options.path = data_dir;
  options.create_if_missing = false;
  options.read_only = true;
  options.block_cache_bytes = 64 << 20;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store) {
    return Status(store.error().code(), fmt::format("cannot open the store in {}: {}", data_dir,
                                                    store.error().message()));
  }
  return store;
}

Status CheckFreshDataDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  if (!fs::is_directory(dir, ec)) {
    return Status(Code::kDataDirNotEmpty, fmt::format("--data-dir {} is not a directory", dir));
  }
  if (!fs::is_empty(dir, ec) || ec) {
    return Status(
        Code::kDataDirNotEmpty,
        fmt::format("--data-dir {} is not empty: a fresh store is built there; give a new "
                    "or empty directory (or delete this one)",
                    dir));
  }
  return Status::Ok();
}

std::string RandomSuffix() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

int FailWith(std::string_view message) {
  std::fflush(stdout);
  fmt::print(stderr, "keymeter: {}\n", message);
  return 1;
}

std::optional<uint64_t> EnvUnsigned(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string_view s(text);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > (uint64_t{1} << 40)) {
    spdlog::warn("{} is not a non-negative integer; using the default", name);
    return std::nullopt;
  }
  return value;
}

TimeUs BillingLatenessUs() {
  if (auto v = EnvUnsigned("KEYMETER_BILLING_LATENESS_SECONDS")) {
    return TimeUs(std::min<uint64_t>(*v, 366 * 86'400)) * kMicrosPerSecond;
  }
  return kMicrosPerHour;
}

TimeUs FutureToleranceUs() {
  if (auto v = EnvUnsigned("KEYMETER_FUTURE_TOLERANCE_SECONDS")) {
    return TimeUs(std::min<uint64_t>(*v, 366 * 86'400)) * kMicrosPerSecond;
  }
  return 5 * 60 * kMicrosPerSecond;
}

}  // namespace keymeter::cli
