#include "consumers/ndjson.h"

#include <arpa/inet.h>
#include <simdjson.h>

#include <limits>

namespace keymeter {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxTextBytes = 256;

// inet_pton reads up to a NUL: "203.0.113.7\u0000<anything>" must not pass for an address.
bool IsIp(const std::string& text) {
  unsigned char addr[16];
  if (text.find('\0') != std::string::npos) return false;
  return inet_pton(AF_INET, text.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, text.c_str(), addr) == 1;
}

Status Invalid(std::string_view field, std::string_view what) {
  return Status(Code::kInvalidField, std::string(field) + ": " + std::string(what));
}

// The member `name` of `obj`; false when absent or null.
bool Find(dom::object obj, std::string_view name, dom::element* out) {
  return obj[name].get(*out) == simdjson::SUCCESS && !out->is_null();
}

template <class T>
Status GetUnsigned(dom::object obj, std::string_view name, T* out) {
  dom::element v;
  if (!Find(obj, name, &v)) return Status::Ok();
  uint64_t n = 0;
  if (v.get_uint64().get(n) != simdjson::SUCCESS || n > std::numeric_limits<T>::max()) {
    return Invalid(name,
                   "must be an integer from 0 to " + std::to_string(std::numeric_limits<T>::max()));
  }
  *out = static_cast<T>(n);
  return Status::Ok();
}

// Absent: `*found` false and OK. Present but not a string or too long: INVALID-FIELD.
Status GetString(dom::object obj, std::string_view name, std::string_view* out, bool* found) {
  dom::element v;
  *found = Find(obj, name, &v);
  if (!*found) return Status::Ok();
  if (v.get_string().get(*out) != simdjson::SUCCESS) return Invalid(name, "must be a string");
  return Status::Ok();
}

Status GetText(dom::object obj, std::string_view name, std::string* out) {
  std::string_view text;
  bool found = false;
  Status status = GetString(obj, name, &text, &found);
  if (!status.ok()) return status;
  if (text.size() > kMaxTextBytes) return Invalid(name, "longer than 256 bytes");
  *out = text;
  return Status::Ok();
}

Status GetIdentity(dom::object obj, RequestFields* r) {
  std::string_view text;
  bool found = false;
  Status status = GetString(obj, "request_id", &text, &found);
  if (!status.ok()) return status;
  if (!found) return Status(Code::kMissingField, "request_id");
  if (std::optional<RequestIdBytes> id = ParseRequestId(text)) {
    r->request_id = *id;
  } else {
    return Invalid("request_id", "must be 32 hex digits or a UUID");
  }
  status = GetString(obj, "key_id", &text, &found);
  if (!status.ok()) return status;
  if (!found) return Status(Code::kMissingField, "key_id");
  bool key_chars = text.size() == kKeyIdLength;
  for (char c : text) key_chars = key_chars && IsKeyChar(c);
  if (!key_chars) return Invalid("key_id", "must be 8 characters of [A-Za-z0-9]");
  r->key_id = text;
  return Status::Ok();
}

Status GetTime(dom::object obj, RequestFields* r) {
  std::string_view text;
  bool has_text = false;
  Status status = GetString(obj, "time", &text, &has_text);
  if (!status.ok()) return status;
  bool has_us = false;
  dom::element v;
  int64_t time_us = 0;
  if (Find(obj, "time_us", &v)) {
    has_us = true;
    if (v.get_int64().get(time_us) != simdjson::SUCCESS) {
      return Invalid("time_us", "must be an integer (microseconds since the epoch)");
    }
  }
  if (!has_text && !has_us) return Status(Code::kMissingField, "time");
  if (has_text) {
    Result<TimeUs> parsed = ParseRfc3339(text);
    if (!parsed) return Invalid("time", parsed.error().message());
    if (has_us && parsed.value() != time_us) return Invalid("time", "differs from time_us");
    time_us = parsed.value();
  }
  if (time_us <= 0) return Invalid(has_text ? "time" : "time_us", "must be after 1970");
  r->time_us = time_us;
  return Status::Ok();
}

Status GetRest(dom::object obj, RequestFields* r) {
  for (Status s :
       {GetText(obj, "product", &r->product), GetUnsigned(obj, "units", &r->units),
        GetUnsigned(obj, "status", &r->status), GetUnsigned(obj, "bytes_in", &r->bytes_in),
        GetUnsigned(obj, "bytes_out", &r->bytes_out),
        GetUnsigned(obj, "latency_us", &r->latency_us), GetText(obj, "gateway", &r->gateway_id),
        GetText(obj, "ip", &r->client_ip)}) {
    if (!s.ok()) return s;
  }
  if (!r->client_ip.empty() && !IsIp(r->client_ip)) {
    return Invalid("ip", "must be an IPv4 or IPv6 address");
  }
  return Status::Ok();
}

}  // namespace

struct NdjsonParser::Impl {
  explicit Impl(size_t max) : max_line_bytes(max) {}
  size_t max_line_bytes;
  dom::parser parser;
  std::string padded;  // the line followed by SIMDJSON_PADDING bytes, as simdjson requires
};

NdjsonParser::NdjsonParser(size_t max_line_bytes) : impl_(std::make_unique<Impl>(max_line_bytes)) {}
NdjsonParser::~NdjsonParser() = default;

Result<RequestFields> NdjsonParser::Parse(std::string_view line) {
  if (line.size() > impl_->max_line_bytes) {
    return Status(Code::kOversized, "line of " + std::to_string(line.size()) + " bytes, limit " +
                                        std::to_string(impl_->max_line_bytes));
  }
  impl_->padded.assign(line);
  impl_->padded.append(simdjson::SIMDJSON_PADDING, '\0');
  dom::element doc;
  simdjson::error_code err = impl_->parser.parse(impl_->padded.data(), line.size(), false).get(doc);
  if (err != simdjson::SUCCESS) return Status(Code::kInvalidJson, simdjson::error_message(err));
  dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status(Code::kInvalidJson, "not a JSON object");
  }
  RequestFields r;
  for (Status s : {GetIdentity(obj, &r), GetTime(obj, &r), GetRest(obj, &r)}) {
    if (!s.ok()) return s;
  }
  return r;
}

Result<RequestFields> ParseRequestLine(std::string_view line) {
  NdjsonParser parser;
  return parser.Parse(line);
}

Result<NdjsonBody> ParseNdjsonBody(std::string_view body, const NdjsonLimits& limits) {
  NdjsonParser parser(limits.max_line_bytes);
  NdjsonBody out;
  size_t line_number = 0;
  size_t lines = 0;
  while (!body.empty()) {
    const size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (++lines > limits.max_lines) {
      return Status(Code::kTooManyLines,
                    "more than " + std::to_string(limits.max_lines) + " events in one body");
    }
    Result<RequestFields> fields = parser.Parse(line);
    if (fields) {
      out.accepted.push_back({line_number, std::move(fields).value()});
    } else {
      out.rejected.push_back({line_number, fields.error()});
    }
  }
  return out;
}

}  // namespace keymeter
