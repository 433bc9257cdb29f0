#include "consumers/file_source.h"

#include <cstdio>
#include <limits>

#include "schemas/envelope_builder.h"

namespace keymeter {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

enum class LineRead { kLine, kTooLong, kEof };

// Reads a line without its "\n" (and "\r"), keeping at most `max` bytes of it.
LineRead ReadLine(std::istream& in, size_t max, std::string* line) {
  line->clear();
  std::streambuf* buf = in.rdbuf();
  bool any = false;
  bool too_long = false;
  for (int c = buf->sbumpc(); c != std::char_traits<char>::eof(); c = buf->sbumpc()) {
    any = true;
    if (c == '\n') break;
    if (line->size() < max) {
      line->push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  if (!any) return LineRead::kEof;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return too_long ? LineRead::kTooLong : LineRead::kLine;
}

}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::Open(FileSourceOptions options) {
  auto source = std::make_unique<FileSource>(PrivateTag(), std::move(options));
  if (!source->in_.is_open()) {
    return Status(Code::kIoError, "cannot open " + source->options_.path);
  }
  Status status = source->Detect();
  if (!status.ok()) return status;
  return source;
}

FileSource::FileSource(PrivateTag, FileSourceOptions options)
    : options_(std::move(options)),
      in_(options_.path, std::ios::binary),
      parser_(options_.max_line_bytes) {}

Status FileSource::Detect() {
  if (options_.format != FileFormat::kAuto) return Status::Ok();
  std::streambuf* buf = in_.rdbuf();
  int c = buf->sgetc();
  while (c != std::char_traits<char>::eof() && IsSpace(c)) c = buf->snextc();
  options_.format = c == '{' ? FileFormat::kNdjson : FileFormat::kLengthPrefixed;
  in_.clear();
  in_.seekg(0);
  return in_.good() ? Status::Ok() : Status(Code::kIoError, "cannot rewind " + options_.path);
}

void FileSource::Reject(Code reason, std::string detail, int32_t partition, int64_t index,
                        std::span<const uint8_t> payload) {
  ++rejected_;
  if (options_.dead_letters == nullptr) return;
  options_.dead_letters->Add(DeadLetter::Make(std::string(LogName(reason)), std::move(detail),
                                              name(), partition, index, /*time_us=*/0, payload));
}

int64_t FileSource::StoredOffset(int32_t partition) {
  auto [it, added] = stored_.try_emplace(partition, 0);
  if (added && options_.stored_offset) it->second = options_.stored_offset(partition).value_or(0);
  return it->second;
}

Result<FileSource::Read> FileSource::ReadNdjson(int64_t index, SourceMessage* m) {
  const LineRead read = ReadLine(in_, options_.max_line_bytes, &line_);
  if (read == LineRead::kEof) {
    if (in_.bad()) return Status(Code::kIoError, "reading " + options_.path);
    at_end_ = true;
    return Read::kNothing;
  }
  if (read == LineRead::kLine && IsLogLine(line_)) return ReadLogLine(index, m);
  if (index < StoredOffset(0)) return Read::kSkipped;
  if (read == LineRead::kTooLong) {
    Reject(Code::kOversized,
           "line longer than " + std::to_string(options_.max_line_bytes) + " bytes", 0, index,
           Bytes(line_));
    return Read::kNothing;
  }
  if (line_.find_first_not_of(" \t") == std::string::npos) return Read::kNothing;  // blank line
  Result<RequestFields> fields = parser_.Parse(line_);
  if (!fields) {
    Reject(fields.error().code(), fields.error().message(), 0, index, Bytes(line_));
    return Read::kNothing;
  }
  RequestFields& r = fields.value();
  if (options_.account_of) {
    std::optional<std::string> account = options_.account_of(r.key_id);
    if (!account.has_value()) {
      Reject(Code::kUnknownKey, "key " + r.key_id, 0, index, Bytes(line_));
      return Read::kNothing;
    }
    r.account_id = std::move(*account);
  }
  const std::string envelope = BuildRequestEvent(r);
  arena_.Add(Bytes(envelope));
  return Read::kMessage;
}

Result<FileSource::Read> FileSource::ReadLogLine(int64_t index, SourceMessage* m) {
  Result<LogLine> parsed = log_parser_.Parse(line_);
  if (!parsed) {
    Reject(parsed.error().code(), parsed.error().message(), 0, index, Bytes(line_));
    return Read::kNothing;
  }
  LogLine& l = parsed.value();
  if (l.offset < StoredOffset(l.partition)) return Read::kSkipped;
  if (!l.error.ok()) {  // a message the log's reader could not decode: dead again, as it was
    Reject(l.error.code(), l.error.message(), l.partition, l.offset, {});
    return Read::kNothing;
  }
  *m = {l.partition, l.offset, {}, l.log_time_us != 0 ? l.log_time_us : options_.log_time_us};
  arena_.Add(Bytes(l.envelope));
  return Read::kMessage;
}

Result<bool> FileSource::ReadRecord(int64_t index, bool skip) {
  unsigned char header[4];
  in_.read(reinterpret_cast<char*>(header), sizeof(header));
  const auto got = static_cast<size_t>(in_.gcount());
  if (got == 0 && in_.eof()) {
    at_end_ = true;
    return false;
  }
  if (in_.bad()) return Status(Code::kIoError, "reading " + options_.path);
  if (got < sizeof(header)) {
    at_end_ = true;
    if (!skip) Reject(Code::kUndecodable, "truncated record header", 0, index, {header, got});
    return false;
  }
  const size_t length = size_t{header[0]} << 24 | size_t{header[1]} << 16 | size_t{header[2]} << 8 |
                        size_t{header[3]};
  if (skip || length > options_.max_record_bytes) {
    in_.seekg(static_cast<std::streamoff>(length), std::ios::cur);
    if (!skip) {
      Reject(Code::kOversized,
             "record of " + std::to_string(length) + " bytes, limit " +
                 std::to_string(options_.max_record_bytes),
             0, index, {});
    }
    if (!in_.good()) return Status(Code::kIoError, "seeking in " + options_.path);
    return false;
  }
  record_.resize(length);
  in_.read(record_.data(), static_cast<std::streamsize>(length));
  const auto body = static_cast<size_t>(in_.gcount());
  if (in_.bad()) return Status(Code::kIoError, "reading " + options_.path);
  if (body < length) {
    at_end_ = true;
    Reject(Code::kUndecodable,
           "truncated record: " + std::to_string(body) + " of " + std::to_string(length) + " bytes",
           0, index, Bytes(std::string_view(record_).substr(0, body)));
    return false;
  }
  arena_.Add(Bytes(record_));
  return true;
}

Result<size_t> FileSource::Poll(std::vector<SourceMessage>* out, size_t max,
                                std::chrono::milliseconds) {
  out->clear();
  arena_.Clear();
  for (size_t scanned = 0; scanned < max && !at_end_;) {
    const int64_t index = next_index_;
    SourceMessage m{/*partition=*/0, index, {}, options_.log_time_us};
    Result<Read> read = Read::kNothing;
    if (options_.format == FileFormat::kNdjson) {
      read = ReadNdjson(index, &m);
    } else {
      const bool skip = index < StoredOffset(0);
      Result<bool> record = ReadRecord(index, skip);
      if (!record) {
        read = record.error();
      } else {
        read = record.value() ? Read::kMessage : skip ? Read::kSkipped : Read::kNothing;
      }
    }
    if (!read) {
      out->clear();
      return read.error();
    }
    if (at_end_ && read.value() != Read::kMessage) break;  // nothing was there
    ++next_index_;
    if (read.value() == Read::kSkipped) continue;
    ++scanned;
    if (read.value() == Read::kMessage) out->push_back(m);
  }
  for (size_t i = 0; i < out->size(); ++i) (*out)[i].payload = arena_[i];  // arena complete
  return out->size();
}

Status AppendLengthPrefixed(std::ofstream& out, std::span<const uint8_t> envelope) {
  if (envelope.size() > std::numeric_limits<uint32_t>::max()) {
    return Status(Code::kOversized, std::to_string(envelope.size()) + " bytes do not fit a be32");
  }
  const auto n = static_cast<uint32_t>(envelope.size());
  const char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                          static_cast<char>(n >> 8), static_cast<char>(n)};
  out.write(header, sizeof(header));
  out.write(reinterpret_cast<const char*>(envelope.data()),
            static_cast<std::streamsize>(envelope.size()));
  return out.good() ? Status::Ok() : Status(Code::kIoError, "writing a length-prefixed record");
}

}  // namespace keymeter
