#include "consumers/log_line.h"

#include <simdjson.h>

#include <charconv>
#include <limits>
#include <type_traits>

#include "consumers/decode.h"
#include "consumers/log_line_fields.h"
#include "schemas/civil_time.h"
#include "schemas/envelope.h"
#include "schemas/hex.h"
#include "schemas/ids.h"
#include "schemas/json_writer.h"

namespace keymeter {
namespace {

namespace dom = simdjson::dom;
using log_line_internal::VisitOp;

template <class E>
constexpr bool kIsEnum = std::is_same_v<E, fb::KeyStatus> || std::is_same_v<E, fb::RefillPeriod>;

const char* EnumName(fb::KeyStatus v) { return fb::EnumNameKeyStatus(v); }
const char* EnumName(fb::RefillPeriod v) { return fb::EnumNameRefillPeriod(v); }
template <class E>
std::span<const E> EnumValues();
template <>
std::span<const fb::KeyStatus> EnumValues() {
  return {fb::EnumValuesKeyStatus(), 4};
}
template <>
std::span<const fb::RefillPeriod> EnumValues() {
  return {fb::EnumValuesRefillPeriod(), 3};
}

template <class S>
std::span<const uint8_t> BytesOf(const S& s) {
  return {s.bytes()->data(), s.bytes()->size()};
}

// Writes each field it is shown into `w` (an open object).
struct FieldWriter {
  JsonWriter& w;

  void operator()(const char* name, const std::string& v) { w.Key(name).String(v); }
  void operator()(const char* name, const std::vector<std::string>& v) {
    w.Key(name).BeginArray();
    for (const std::string& s : v) w.String(s);
    w.EndArray();
  }
  void operator()(const char* name, const std::unique_ptr<fb::Sha256>& v) {
    w.Key(name);
    v ? w.String(ToHex(BytesOf(*v))) : w.Null();
  }
  // As the request log and every answer spell a request id: a UUID.
  void operator()(const char* name, const std::unique_ptr<fb::RequestId>& v) {
    w.Key(name);
    v ? w.String(RequestIdText(RequestIdFromFb(v.get()))) : w.Null();
  }
  void operator()(const char* name, const std::vector<std::unique_ptr<fb::SettingT>>& v) {
    w.Key(name).BeginArray();
    for (const auto& s : v) {
      w.BeginObject().Key("name").String(s->name).Key("value").String(s->value).EndObject();
    }
    w.EndArray();
  }
  void operator()(const char* name, const std::vector<std::unique_ptr<fb::AlertRefT>>& v) {
    w.Key(name).BeginArray();
    for (const auto& a : v) {
      w.BeginObject().Key("alert_id").String(a->alert_id).Key("time_us").Int(a->time_us);
      w.EndObject();
    }
    w.EndArray();
  }
  void operator()(const char* name, bool v) { w.Key(name).Bool(v); }
  void operator()(const char* name, const std::vector<uint8_t>& v) {
    w.Key(name).BeginArray();
    for (uint8_t n : v) w.Uint(n);
    w.EndArray();
  }
  template <class E>
    requires kIsEnum<E>
  void operator()(const char* name, E v) {
    w.Key(name).String(EnumName(v));
  }
  template <class I>
    requires std::is_integral_v<I>
  void operator()(const char* name, I v) {
    if constexpr (std::is_signed_v<I>) {
      w.Key(name).Int(v);
    } else {
      w.Key(name).Uint(v);
    }
  }
};

// Reads each field it is shown from `obj`; the first problem is kept in `status`.
struct FieldReader {
  dom::object obj;
  const char* prefix = "";  // how error messages name the object ("data.")
  Status status = Status::Ok();

  // The member `name`; false when absent or null (the field keeps its default).
  bool Find(const char* name, dom::element* out) {
    return status.ok() && obj[name].get(*out) == simdjson::SUCCESS && !out->is_null();
  }
  void Fail(const char* name, std::string_view what) {
    status = Status(Code::kInvalidField, std::string(prefix) + name + ": " + std::string(what));
  }

  void operator()(const char* name, std::string& v) {
    dom::element e;
    std::string_view s;
    if (!Find(name, &e)) return;
    if (e.get_string().get(s) != simdjson::SUCCESS) return Fail(name, "must be a string");
    v = s;
  }
  void operator()(const char* name, std::vector<std::string>& v) {
    dom::element e;
    dom::array a;
    if (!Find(name, &e)) return;
    if (e.get_array().get(a) != simdjson::SUCCESS) return Fail(name, "must be an array");
    for (dom::element item : a) {
      std::string_view s;
      if (item.get_string().get(s) != simdjson::SUCCESS) return Fail(name, "must hold strings");
      v.emplace_back(s);
    }
  }
  void operator()(const char* name, std::unique_ptr<fb::Sha256>& v) {
    dom::element e;
    std::string_view s;
    if (!Find(name, &e)) return;
    std::array<uint8_t, sizeof(fb::Sha256)> bytes{};
    if (e.get_string().get(s) != simdjson::SUCCESS || !DecodeHex(s, bytes)) {
      return Fail(name, "must be " + std::to_string(2 * sizeof(fb::Sha256)) + " hex digits");
    }
    v = std::make_unique<fb::Sha256>(flatbuffers::span<const uint8_t, sizeof(fb::Sha256)>(bytes));
  }
  // A UUID, or 32 hex digits (as lines written before 2026-12 spell it).
  void operator()(const char* name, std::unique_ptr<fb::RequestId>& v) {
    dom::element e;
    std::string_view s;
    if (!Find(name, &e)) return;
    std::optional<RequestIdBytes> id;
    if (e.get_string().get(s) == simdjson::SUCCESS) id = ParseRequestId(s);
    if (!id) return Fail(name, "must be a UUID or 32 hex digits");
    v = std::make_unique<fb::RequestId>(flatbuffers::span<const uint8_t, 16>(*id));
  }
  void operator()(const char* name, std::vector<std::unique_ptr<fb::SettingT>>& v) {
    dom::element e;
    dom::array a;
    if (!Find(name, &e)) return;
    if (e.get_array().get(a) != simdjson::SUCCESS) return Fail(name, "must be an array");
    for (dom::element item : a) {
      std::string_view n, value;
      if (item["name"].get_string().get(n) != simdjson::SUCCESS ||
          item["value"].get_string().get(value) != simdjson::SUCCESS) {
        return Fail(name, "must hold {\"name\",\"value\"} strings");
      }
      auto setting = std::make_unique<fb::SettingT>();
      setting->name = n;
      setting->value = value;
      v.push_back(std::move(setting));
    }
  }
  void operator()(const char* name, std::vector<std::unique_ptr<fb::AlertRefT>>& v) {
    dom::element e;
    dom::array a;
    if (!Find(name, &e)) return;
    if (e.get_array().get(a) != simdjson::SUCCESS) return Fail(name, "must be an array");
    for (dom::element item : a) {
      std::string_view id;
      int64_t time_us = 0;
      if (item["alert_id"].get_string().get(id) != simdjson::SUCCESS ||
          item["time_us"].get_int64().get(time_us) != simdjson::SUCCESS) {
        return Fail(name, "must hold {\"alert_id\",\"time_us\"}");
      }
      auto ref = std::make_unique<fb::AlertRefT>();
      ref->alert_id = id;
      ref->time_us = time_us;
      v.push_back(std::move(ref));
    }
  }
  void operator()(const char* name, bool& v) {
    dom::element e;
    if (Find(name, &e) && e.get_bool().get(v) != simdjson::SUCCESS) Fail(name, "must be a boolean");
  }
  template <class E>
    requires kIsEnum<E>
  void operator()(const char* name, E& v) {
    dom::element e;
    std::string_view s;
    if (!Find(name, &e)) return;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      for (E candidate : EnumValues<E>()) {
        if (s == EnumName(candidate)) {
          v = candidate;
          return;
        }
      }
    }
    Fail(name, "is not one of the schema's names");
  }
  template <class I>
    requires std::is_integral_v<I>
  void operator()(const char* name, I& v) {
    dom::element e;
    if (!Find(name, &e)) return;
    using Wide = std::conditional_t<std::is_signed_v<I>, int64_t, uint64_t>;
    Wide n = 0;
    if (e.get<Wide>().get(n) != simdjson::SUCCESS || n < std::numeric_limits<I>::min() ||
        n > std::numeric_limits<I>::max()) {
      return Fail(name, "must be an integer in the field's range");
    }
    v = static_cast<I>(n);
  }
  void operator()(const char* name, std::vector<uint8_t>& v) {
    dom::element e;
    dom::array items;
    if (!Find(name, &e)) return;
    if (e.get_array().get(items) != simdjson::SUCCESS) return Fail(name, "must be an array");
    for (dom::element item : items) {
      uint64_t n = 0;
      if (item.get_uint64().get(n) != simdjson::SUCCESS || n > 255) {
        return Fail(name, "must hold integers 0..255");
      }
      v.push_back(uint8_t(n));
    }
  }
};

void WritePosition(JsonWriter& w, const LogMessageRef& m) {
  w.Key("partition").Int(m.partition).Key("offset").Int(m.offset);
  w.Key("log_time").String(FormatRfc3339(m.log_time_us, true)).Key("log_time_us").Int(m.log_time_us);
}

}  // namespace

bool AppendOpJson(std::string* out, std::span<const uint8_t> envelope) {
  const fb::Envelope* env = VerifyEnvelope(envelope);
  if (env == nullptr) return false;
  std::unique_ptr<fb::EnvelopeT> e(env->UnPack());
  JsonWriter w;
  w.BeginObject();
  FieldWriter writer{w};
  if (!VisitOp(writer, e->op.type, e->op, false)) return false;
  w.EndObject();
  out->append(w.str());
  return true;
}

std::string EncodeLogLine(const LogMessageRef& m) {
  JsonWriter w;
  w.BeginObject();
  WritePosition(w, m);
  const Decoded d = DecodeEnvelope(m.payload);
  if (d.envelope == nullptr) {
    w.Key("error").BeginObject().Key("code").String(LogName(d.reason));
    w.Key("message").String(d.detail).EndObject().EndObject();
    return w.Take();
  }
  std::unique_ptr<fb::EnvelopeT> e(d.envelope->UnPack());
  w.Key("command_id").String(e->command_id);
  w.Key("time").String(FormatRfc3339(e->time_us, true)).Key("time_us").Int(e->time_us);
  w.Key("actor").BeginObject();
  w.Key("kind").String(fb::EnumNameActorKind(e->actor ? e->actor->kind : fb::ActorKind::System));
  w.Key("key_id").String(e->actor ? e->actor->key_id : "").EndObject();
  w.Key("account_id").String(e->account_id);
  if (e->request_digest) FieldWriter{w}("request_digest", e->request_digest);
  w.Key("op").String(OpName(e->op.type)).Key("data");
  std::string data;
  AppendOpJson(&data, m.payload) ? w.Raw(data) : w.Null();
  w.EndObject();
  return w.Take();
}

bool IsLogLine(std::string_view line) { return line.starts_with("{\"partition\":"); }

std::optional<std::pair<int32_t, int64_t>> LogLinePosition(std::string_view line) {
  constexpr std::string_view kPartition = "{\"partition\":", kOffset = ",\"offset\":";
  int32_t partition = 0;
  int64_t offset = 0;
  if (line.starts_with(kPartition)) {
    const char* end = line.data() + line.size();
    auto p = std::from_chars(line.data() + kPartition.size(), end, partition);
    const std::string_view rest(p.ptr, end - p.ptr);
    if (p.ec == std::errc() && rest.starts_with(kOffset)) {
      auto o = std::from_chars(p.ptr + kOffset.size(), end, offset);
      if (o.ec == std::errc() && o.ptr < end && (*o.ptr == ',' || *o.ptr == '}')) {
        return std::make_pair(partition, offset);
      }
    }
  }
  if (!IsLogLine(line)) return std::nullopt;
  LogLineParser parser;
  Result<LogLine> parsed = parser.Parse(line);
  if (!parsed) return std::nullopt;
  return std::make_pair(parsed.value().partition, parsed.value().offset);
}

struct LogLineParser::Impl {
  explicit Impl(size_t max) : max_line_bytes(max) {}
  size_t max_line_bytes;
  dom::parser parser;
  std::string padded;
};

LogLineParser::LogLineParser(size_t max_line_bytes)
    : impl_(std::make_unique<Impl>(max_line_bytes)) {}
LogLineParser::~LogLineParser() = default;

Result<LogLine> LogLineParser::Parse(std::string_view line) {
  if (line.size() > impl_->max_line_bytes) {
    return Status(Code::kOversized, "line of " + std::to_string(line.size()) + " bytes");
  }
  impl_->padded.assign(line);
  impl_->padded.append(simdjson::SIMDJSON_PADDING, '\0');
  dom::element doc;
  dom::object obj;
  simdjson::error_code err = impl_->parser.parse(impl_->padded.data(), line.size(), false).get(doc);
  if (err != simdjson::SUCCESS) return Status(Code::kInvalidJson, simdjson::error_message(err));
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status(Code::kInvalidJson, "not a JSON object");
  }
  LogLine out;
  FieldReader top{obj};
  top("partition", out.partition);
  top("offset", out.offset);
  top("log_time_us", out.log_time_us);
  dom::object error;
  if (top.status.ok() && obj["error"].get_object().get(error) == simdjson::SUCCESS) {
    std::string code, message;
    FieldReader e{error, "error."};
    e("code", code);
    e("message", message);
    out.error = Status(ParseCode(code).value_or(Code::kUndecodable), message);
    return out;
  }
  fb::EnvelopeT e;
  std::string op_name, time_text;
  fb::ActorT actor;
  top("command_id", e.command_id);
  top("time_us", e.time_us);
  top("time", time_text);
  top("account_id", e.account_id);
  top("request_digest", e.request_digest);
  top("op", op_name);
  dom::object actor_obj;
  if (top.status.ok() && obj["actor"].get_object().get(actor_obj) == simdjson::SUCCESS) {
    std::string kind = "System";
    FieldReader a{actor_obj, "actor."};
    a("kind", kind);
    a("key_id", actor.key_id);
    const fb::ActorKind* kinds = fb::EnumValuesActorKind();
    const auto found = std::find_if(kinds, kinds + 4, [&](fb::ActorKind k) {
      return kind == fb::EnumNameActorKind(k);
    });
    if (!a.status.ok() || found == kinds + 4) {
      return Status(Code::kInvalidField,
                    "actor.kind: must be System, Operator, AccountAdmin or Member");
    }
    actor.kind = *found;
  }
  if (!top.status.ok()) return top.status;
  if (e.time_us == 0 && !time_text.empty()) {
    Result<TimeUs> t = ParseRfc3339(time_text);
    if (!t) return Status(Code::kInvalidField, "time: " + t.error().message());
    e.time_us = t.value();
  }
  const fb::Op* ops = fb::EnumValuesOp();
  const size_t op_count = static_cast<size_t>(fb::Op::MAX) + 1;
  const fb::Op* op = std::find_if(ops + 1, ops + op_count,
                                  [&](fb::Op o) { return op_name == fb::EnumNameOp(o); });
  if (op_name.empty()) return Status(Code::kMissingField, "op");
  if (op == ops + op_count) return Status(Code::kInvalidField, "op: no op is named " + op_name);
  FieldReader fields{dom::object(), "data."};
  if (obj["data"].get_object().get(fields.obj) != simdjson::SUCCESS) {
    return Status(Code::kMissingField, "data");
  }
  VisitOp(fields, *op, e.op, /*create=*/true);
  if (!fields.status.ok()) return fields.status;
  e.actor = std::make_unique<fb::ActorT>(actor);
  flatbuffers::FlatBufferBuilder b(256);
  b.Finish(fb::Envelope::Pack(b, &e), fb::EnvelopeIdentifier());
  out.envelope.assign(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  return out;
}

}  // namespace keymeter
