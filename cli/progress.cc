#include "cli/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace keymeter {

namespace {

constexpr std::chrono::milliseconds kRedrawInterval{250};
constexpr int kBarWidth = 20;

// "0:03", "12:40", "2:05:00".
std::string Clocklike(double seconds) {
  const int64_t s = int64_t(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::optional<double> Fraction(const ProgressSample& sample) {
  if (!sample.total || *sample.total == 0) return std::nullopt;
  return std::min(1.0, double(sample.done) / double(*sample.total));
}

}  // namespace

std::string HumanCount(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.0f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string FormatProgressBar(std::string_view label, const ProgressSample& sample, double rate,
                              std::optional<double> eta_seconds) {
  std::string line(label);
  if (const std::optional<double> f = Fraction(sample)) {
    const int filled = int(*f * kBarWidth);
    line += " [" + std::string(size_t(filled), '#') + std::string(size_t(kBarWidth - filled), '.') +
            "] " +
            fmt::format("{:3.0f}%  {}/{} msgs", *f * 100, HumanCount(double(sample.done)),
                        HumanCount(double(*sample.total)));
  } else {
    line += fmt::format("  {} msgs", HumanCount(double(sample.done)));
  }
  line += fmt::format("  {} msgs/s", HumanCount(rate));
  if (eta_seconds) line += "  ETA " + Clocklike(*eta_seconds);
  if (sample.dead_letters > 0) line += fmt::format("  {} dead letters", sample.dead_letters);
  return line;
}

std::string FormatProgressLine(std::string_view label, const ProgressSample& sample, double rate,
                               std::optional<double> eta_seconds) {
  std::string line = fmt::format("{}: {}", label, sample.done);
  if (const std::optional<double> f = Fraction(sample)) {
    line += fmt::format("/{} messages ({:.0f}%)", *sample.total, *f * 100);
  } else {
    line += " messages";
  }
  line += fmt::format(", {:.0f} messages/s", rate);
  if (eta_seconds) line += fmt::format(", ETA {:.0f} s", *eta_seconds);
  line += fmt::format(", {} dead letters", sample.dead_letters);
  return line;
}

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

ProgressReporter::ProgressReporter(std::FILE* out, bool interactive, std::string label,
                                   std::chrono::milliseconds plain_interval)
    : out_(out),
      interactive_(interactive),
      label_(std::move(label)),
      interval_(plain_interval),
      start_(Clock::now()),
      last_(start_) {
  winsize size{};
  if (interactive_ && ::ioctl(::fileno(out_), TIOCGWINSZ, &size) == 0) columns_ = size.ws_col;
}

double ProgressReporter::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void ProgressReporter::Update(const ProgressSample& sample) {
  const Clock::time_point now = Clock::now();
  if (now - last_ < (interactive_ ? kRedrawInterval : interval_)) return;
  last_ = now;
  const double elapsed = std::max(1e-3, elapsed_seconds());
  const double rate = double(sample.processed.value_or(sample.done)) / elapsed;
  const double speed = double(sample.done) / elapsed;
  std::optional<double> eta;
  if (sample.total && speed > 0 && *sample.total >= sample.done) {
    eta = double(*sample.total - sample.done) / speed;
  }
  if (interactive_) {
    std::string line = FormatProgressBar(label_, sample, rate, eta);
    if (columns_ > 1 && line.size() >= columns_) line.resize(columns_ - 1);
    // Carriage return, the line, then erase whatever a longer previous line left.
    fmt::print(out_, "\r{}\x1b[K", line);
    drawn_ = true;
  } else {
    fmt::print(out_, "{}\n", FormatProgressLine(label_, sample, rate, eta));
  }
  std::fflush(out_);
}

void ProgressReporter::Finish() {
  if (!drawn_) return;
  fmt::print(out_, "\r\x1b[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace keymeter
