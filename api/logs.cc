#include "api/logs.h"

#include <shared_mutex>

#include "api/context.h"
#include "api/params.h"
#include "api/views.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "projections/audit.h"
#include "projections/key_directory.h"
#include "projections/request_log.h"

namespace keymeter {

namespace {

// from/to/limit shared by both logs; false after writing a 400.
bool ReadRange(const http::Request& request, http::Response& response, TimeUs* from, TimeUs* to,
               size_t* limit) {
  Result<TimeUs> f = TimeParam(request, "from", 0);
  Result<TimeUs> t = f ? TimeParam(request, "to", INT64_MAX) : Result<TimeUs>(f.error());
  Result<size_t> l = t ? LimitParam(request) : Result<size_t>(t.error());
  if (!l) {
    SetStatusError(response, 400, l.error());
    return false;
  }
  if (f.value() >= t.value()) {
    http::SetError(response, 400, Code::kInvalidField, "from: must be before to");
    return false;
  }
  *from = f.value();
  *to = t.value();
  *limit = l.value();
  return true;
}

void WriteCursor(http::JsonWriter& json, const std::optional<std::string>& cursor) {
  json.Key("next_cursor");
  if (cursor) {
    json.String(*cursor);
  } else {
    json.Null();
  }
}

}  // namespace

void AnswerAudit(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                 const http::Request& request, http::Response& response) {
  AnswerAuditOf(pipeline, account_id, key, request, response, {}, {});
}

void AnswerAuditOf(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                   const http::Request& request, http::Response& response,
                   const std::vector<std::string>& ops,
                   const std::function<void(http::JsonWriter&)>& head) {
  AuditQuery query;
  if (!ReadRange(request, response, &query.from_us, &query.to_us, &query.limit)) return;
  Result<std::optional<AuditPosition>> cursor = AuditCursorParam(request);
  if (!cursor) return SetStatusError(response, 400, cursor.error());
  query.account_id = std::string(account_id);
  query.key = key;
  query.before = cursor.value();
  query.ops = ops;
  Result<AuditPage> page =
      ReadAudit(pipeline.store().db(), pipeline.store().cfs()[Cf::kAudit], query);
  if (!page) return SetStatusError(response, 500, page.error());
  http::JsonWriter json;
  json.BeginObject();
  if (head) head(json);
  json.Key("entries").BeginArray();
  for (const AuditEntry& e : page.value().entries) {
    json.BeginObject();
    json.Key("time").String(FormatRfc3339(e.time_us, true));
    json.Key("command_id").String(e.command_id);
    json.Key("actor").BeginObject().Key("kind").String(ActorKindName(e.actor_kind));
    json.Key("key_id");
    if (e.actor_key_id.empty()) {
      json.Null();
    } else {
      json.String(e.actor_key_id);
    }
    json.EndObject();
    json.Key("op").String(e.op);
    json.Key("key_id").String(e.key_id);
    json.Key("outcome").String(e.outcome);
    json.Key("detail").String(e.detail);
    json.EndObject();
  }
  json.EndArray();
  std::optional<std::string> next;
  if (page.value().next_cursor) next = EncodeCursor(*page.value().next_cursor);
  WriteCursor(json, next);
  json.EndObject();
  http::SetJson(response, 200, json.Take());
}

namespace {

// The keys whose pool is `root`'s, `root` first (for a child: the child alone).
std::vector<KeyId> Family(Pipeline& pipeline, std::string_view account_id, KeyId root) {
  std::vector<KeyId> family = {root};
  std::shared_lock lock(pipeline.projector().state_mutex());
  const KeyDirectory& directory = pipeline.directory();
  for (const KeyState* key : directory.KeysOf(account_id)) {
    if (key->id != root && directory.RootOf(*key) == root) family.push_back(key->id);
  }
  return family;
}

void AnswerRequestsOf(Pipeline& pipeline, std::string_view account_id, std::vector<KeyId> keys,
                      const http::Request& request, http::Response& response) {
  RequestQuery query;
  if (!ReadRange(request, response, &query.from_us, &query.to_us, &query.limit)) return;
  Result<std::optional<RequestPosition>> cursor = RequestCursorParam(request);
  if (!cursor) return SetStatusError(response, 400, cursor.error());
  if (std::optional<std::string_view> status = Param(request, "status")) {
    const std::string_view s = *status;
    const bool ok =
        (s.size() == 1 || s == std::string(1, s[0]) + "xx") && s[0] >= '2' && s[0] <= '5';
    if (!ok) {
      return http::SetError(response, 400, Code::kInvalidField,
                            "status: must be 2xx, 3xx, 4xx or 5xx");
    }
    query.status_class = uint16_t(s[0] - '0');
  }
  query.account_id = std::string(account_id);
  query.keys = std::move(keys);
  query.before = cursor.value();
  Result<RequestPage> page =
      ReadRequests(pipeline.store().db(), pipeline.store().cfs()[Cf::kRequests], query);
  if (!page) return SetStatusError(response, 500, page.error());
  http::JsonWriter json;
  json.BeginObject().Key("requests").BeginArray();
  for (const RequestRecord& r : page.value().records) {
    json.BeginObject();
    json.Key("time").String(FormatRfc3339(r.time_us, true));
    json.Key("request_id").String(RequestIdText(r.request_id));
    json.Key("key_id").String(r.key.str());
    json.Key("product").String(r.product);
    json.Key("units").Uint(r.units);
    json.Key("status").Uint(r.status);
    json.Key("bytes_in").Uint(r.bytes_in);
    json.Key("bytes_out").Uint(r.bytes_out);
    json.Key("latency_us").Uint(r.latency_us);
    json.Key("ip").String(r.client_ip);
    json.Key("gateway").String(r.gateway_id);
    json.EndObject();
  }
  json.EndArray();
  std::optional<std::string> next;
  if (page.value().next_cursor) next = EncodeCursor(*page.value().next_cursor);
  WriteCursor(json, next);
  json.EndObject();
  http::SetJson(response, 200, json.Take());
}

}  // namespace

void AnswerRequests(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                    const http::Request& request, http::Response& response) {
  AnswerRequestsOf(pipeline, account_id, key ? Family(pipeline, account_id, *key) : std::vector<KeyId>(),
                   request, response);
}

void AnswerKeyRequests(Pipeline& pipeline, std::string_view account_id, KeyId key,
                       const http::Request& request, http::Response& response) {
  AnswerRequestsOf(pipeline, account_id, {key}, request, response);
}

}  // namespace keymeter
