// Progress of a long-running CLI command (`keymeter replay`), for a human watching it.
//
// On a terminal: one line redrawn in place (at most every 250 ms) with a bar when the total is
// known, the count, the rate and the time left:
//   replay [##########..........]  50%  1.20M/2.40M msgs  410k msgs/s  ETA 0:03  12 dead letters
// Elsewhere (a pipe, a log file): one plain line every `plain_interval` (5 s), no control
// characters:
//   replay: 1200000/2400000 messages (50%), 410000 messages/s, ETA 3 s, 12 dead letters
// The rate is the average since the reporter was made of the messages processed; the time left
// assumes the position keeps moving as fast as it did. On a terminal the line is cut to its
// width, so that it never wraps (a wrapped line can't be redrawn in place).
//
// Thread safety: not thread-safe; one thread reports. The formatting functions are pure.

#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace keymeter {

struct ProgressSample {
  uint64_t done = 0;              // position: messages read or passed over so far
  std::optional<uint64_t> total;  // position at the end, when known
  uint64_t dead_letters = 0;
  // Messages actually processed, for the rate; `done` when unset.
  std::optional<uint64_t> processed;
};

// One report. `rate` in messages per second; `eta_seconds` unset when unknown.
std::string FormatProgressBar(std::string_view label, const ProgressSample& sample, double rate,
                              std::optional<double> eta_seconds);
std::string FormatProgressLine(std::string_view label, const ProgressSample& sample, double rate,
                               std::optional<double> eta_seconds);

// "1.20M", "410k", "999".
std::string HumanCount(double n);

// True when `fd` is a terminal.
bool IsTerminal(int fd);

class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressReporter(std::FILE* out, bool interactive, std::string label,
                   std::chrono::milliseconds plain_interval = std::chrono::seconds(5));
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // Reports `sample` when a report is due; cheap otherwise.
  void Update(const ProgressSample& sample);
  // Ends the in-place line (a terminal) so that what follows starts on a clean line.
  void Finish();

  double elapsed_seconds() const;

 private:
  std::FILE* const out_;
  const bool interactive_;
  const std::string label_;
  const std::chrono::milliseconds interval_;
  const Clock::time_point start_;
  Clock::time_point last_;
  size_t columns_ = 0;  // of the terminal; 0 when unknown
  bool drawn_ = false;
};

}  // namespace keymeter
