#include "cli/replay_source.h"

#include <algorithm>
#include <fstream>

#include "consumers/kafka_source.h"
#include "consumers/log_line.h"
#include "schemas/envelope.h"

namespace keymeter {

std::optional<TimeUs> ReplayTimeOf(const SourceMessage& m, TimeUs future_tolerance_us) {
  const fb::Envelope* env = VerifyEnvelope(m.payload);
  if (env == nullptr) return std::nullopt;
  TimeUs t = env->time_us();
  if (env->op_type() == fb::Op::RequestEvent) {
    const fb::RequestEvent* r = env->op_as_RequestEvent();
    if (r != nullptr && r->time_us() > 0) t = r->time_us();
  }
  if (m.log_time_us > 0 && t > m.log_time_us + future_tolerance_us) t = m.log_time_us;
  return t;
}

namespace {

// Partition 0 ends at the line count when some line is a request event (its offset is its line
// index); a log line's partition ends after the highest offset it names.
void NdjsonBounds(std::istream& in, ReplayBounds* bounds) {
  int64_t lines = 0;
  bool request_lines = false;
  std::string line;
  while (std::getline(in, line)) {
    ++lines;
    if (std::optional<std::pair<int32_t, int64_t>> at = LogLinePosition(line)) {
      bounds->start[at->first] = 0;
      bounds->end[at->first] = std::max(bounds->end[at->first], at->second + 1);
    } else {
      request_lines = true;
    }
  }
  if (request_lines || bounds->end.empty()) {
    bounds->start[0] = 0;
    bounds->end[0] = std::max(bounds->end[0], lines);
  }
}

int64_t CountRecords(std::istream& in) {
  int64_t count = 0;
  unsigned char header[4];
  while (in.read(reinterpret_cast<char*>(header), sizeof header) || in.gcount() > 0) {
    ++count;
    if (in.gcount() < std::streamsize(sizeof header)) break;
    const uint32_t length = uint32_t(header[0]) << 24 | uint32_t(header[1]) << 16 |
                            uint32_t(header[2]) << 8 | uint32_t(header[3]);
    in.seekg(std::streamoff(length), std::ios::cur);
  }
  return count;
}

}  // namespace

Result<ReplayBounds> FileReplayBounds(const std::string& path, FileFormat format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kIoError, "cannot open " + path);
  if (format == FileFormat::kAuto) {
    char c = 0;
    while (in.get(c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
    }
    format = in && c == '{' ? FileFormat::kNdjson : FileFormat::kLengthPrefixed;
    in.clear();
    in.seekg(0);
  }
  ReplayBounds bounds;
  if (format == FileFormat::kNdjson) {
    NdjsonBounds(in, &bounds);
  } else {
    bounds.start[0] = 0;
    bounds.end[0] = CountRecords(in);
  }
  if (in.bad()) return Status(Code::kIoError, "reading " + path);
  return bounds;
}

Result<ReplayBounds> KafkaReplayBounds(KafkaSource& source, std::optional<TimeUs> from_us,
                                       std::chrono::milliseconds timeout) {
  Result<std::vector<PartitionBounds>> partitions = source.QueryBounds(timeout);
  if (!partitions) return partitions.error();
  ReplayBounds bounds;
  std::vector<int32_t> ids;
  for (const PartitionBounds& p : partitions.value()) {
    bounds.start[p.partition] = p.low;
    bounds.end[p.partition] = p.high;
    ids.push_back(p.partition);
  }
  if (!from_us) return bounds;
  Result<std::vector<TopicPartitionOffset>> found =
      source.OffsetsForTime(ids, FloorDiv(*from_us, 1000), timeout);
  if (!found) return found.error();
  for (const TopicPartitionOffset& o : found.value()) {
    // -1: every message is older than `from_us`; nothing to read.
    bounds.start[o.partition] = o.offset < 0 ? bounds.end[o.partition] : o.offset;
  }
  return bounds;
}

ReplaySource::ReplaySource(Source& inner, ReplayBounds bounds)
    : inner_(inner), bounds_(std::move(bounds)) {
  for (const auto& [partition, end] : bounds_.end) {
    auto start = bounds_.start.find(partition);
    next_[partition] = start == bounds_.start.end() ? 0 : start->second;
  }
}

bool ReplaySource::Done(int32_t partition) const {
  if (stopped_.contains(partition)) return true;
  auto next = next_.find(partition);
  return next == next_.end() || next->second >= bounds_.end.at(partition);
}

Result<size_t> ReplaySource::Poll(std::vector<SourceMessage>* out, size_t max,
                                  std::chrono::milliseconds timeout) {
  Result<size_t> polled = inner_.Poll(out, max, timeout);
  if (!polled) return polled;
  size_t kept = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    const SourceMessage& m = (*out)[i];
    auto next = next_.find(m.partition);
    if (next == next_.end() || Done(m.partition)) continue;
    const int64_t end = bounds_.end.at(m.partition);
    if (m.offset >= end) {
      next->second = end;  // written after the replay began: the partition is complete
      continue;
    }
    if (bounds_.until) {
      const std::optional<TimeUs> t = ReplayTimeOf(m, bounds_.future_tolerance_us);
      if (t && *t > *bounds_.until) {
        stopped_.insert(m.partition);
        continue;
      }
    }
    next->second = m.offset + 1;
    (*out)[kept++] = m;
  }
  out->resize(kept);
  delivered_ += kept;
  return kept;
}

bool ReplaySource::AtEnd() const {
  if (inner_.AtEnd()) return true;
  return std::all_of(bounds_.end.begin(), bounds_.end.end(),
                     [this](const auto& entry) { return Done(entry.first); });
}

uint64_t ReplaySource::position() const {
  uint64_t done = 0;
  for (const auto& [partition, end] : bounds_.end) {
    const int64_t start = bounds_.start.contains(partition) ? bounds_.start.at(partition) : 0;
    const int64_t reached = stopped_.contains(partition) ? end : std::min(next_.at(partition), end);
    if (reached > start) done += uint64_t(reached - start);
  }
  return done;
}

uint64_t ReplaySource::total() const {
  uint64_t total = 0;
  for (const auto& [partition, end] : bounds_.end) {
    const int64_t start = bounds_.start.contains(partition) ? bounds_.start.at(partition) : 0;
    if (end > start) total += uint64_t(end - start);
  }
  return total;
}

std::map<int32_t, std::pair<int64_t, int64_t>> ReplaySource::Pending() const {
  std::map<int32_t, std::pair<int64_t, int64_t>> out;
  for (const auto& [partition, end] : bounds_.end) {
    if (!Done(partition)) out[partition] = {next_.at(partition), end};
  }
  return out;
}

}  // namespace keymeter
