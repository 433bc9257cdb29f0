// The operator's dead-letter endpoints (docs/api.md, "Dead letters"; docs/reliability.md has the
// runbook):
//
//   GET  /v1/dead-letters?reason=&account=&from=&to=&limit=&cursor=
//        200 {"dead_letters":[view...],"next_cursor"}: the kept dead letters, oldest first
//   GET  /v1/dead-letters/{id}
//        200 view + "event": the message as a line of `keymeter log` (null when it does not
//        decode); 404 NOT_FOUND
//   POST /v1/dead-letters/redrive {"ids":[...]} | {"reason","account","from","to","limit"}
//        200 {"redriven":[id...],"skipped":[{"id","code","message"}]}
//
// view := {"id","reason","detail","source","partition","offset","time","account_id","op",
//          "key_id","request_id","redrivable"}
//
// A re-drive publishes, per dead letter, the operator's DeadLetterRedriven op (the audit entry)
// and then the message's own bytes, keyed by its account, so they apply in that order; the same
// bytes keep the request id, and dedupe keeps a second re-drive from counting. What fails again
// is dead-lettered again, with its new reason, under a new id. At most 1,000 a call.

#include "api/idempotency.h"
#include "api/internal.h"
#include "api/params.h"
#include "consumers/dead_letter_reader.h"
#include "consumers/log_line.h"
#include "engine/pipeline.h"
#include "http/json.h"

namespace keymeter {
namespace {

constexpr size_t kMaxRedrive = 1000;

void WriteView(http::JsonWriter& json, const DeadLetterView& v) {
  const DeadLetter& d = v.letter;
  json.Key("id").String(v.id).Key("reason").String(d.reason).Key("detail").String(d.detail);
  json.Key("source").String(d.source).Key("partition").Int(d.partition).Key("offset").Int(d.offset);
  json.Key("time").String(FormatRfc3339(d.time_us, true));
  json.Key("account_id").String(v.account_id).Key("op").String(v.op).Key("key_id").String(v.key_id);
  json.Key("request_id");
  v.request_id ? json.String(RequestIdText(*v.request_id)) : json.Null();
  json.Key("redrivable").Bool(v.redrivable);
}

// The query of GET /v1/dead-letters (or of a re-drive by filter); nullopt after a 400.
std::optional<DeadLetterQuery> QueryOf(const http::Request& request, http::Response& response) {
  DeadLetterQuery q;
  Result<TimeUs> from = TimeParam(request, "from", 0);
  Result<TimeUs> to = TimeParam(request, "to", INT64_MAX);
  Result<size_t> limit = LimitParam(request);
  for (const Status& s : {from ? Status::Ok() : from.error(), to ? Status::Ok() : to.error(),
                          limit ? Status::Ok() : limit.error()}) {
    if (!s.ok()) {
      SetStatusError(response, 400, s);
      return std::nullopt;
    }
  }
  q.from_us = from.value();
  q.to_us = to.value();
  q.limit = limit.value();
  q.reason = Param(request, "reason").value_or("");
  q.account = Param(request, "account").value_or("");
  q.cursor = Param(request, "cursor").value_or("");
  return q;
}

void AnswerReadError(const Status& s, http::Response& response) {
  SetStatusError(response, s.code() == Code::kInvalidField ? 400 : s.code() == Code::kNotFound ? 404 : 503, s);
}

void List(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<DeadLetterQuery> q = QueryOf(request, response);
  if (!q) return;
  Result<DeadLetterPage> page = api.pipeline.dead_letter_reader().List(*q);
  if (!page) return AnswerReadError(page.error(), response);
  http::JsonWriter json;
  json.BeginObject().Key("dead_letters").BeginArray();
  for (const DeadLetterView& v : page.value().items) {
    json.BeginObject();
    WriteView(json, v);
    json.EndObject();
  }
  AnswerPage(json, page.value().next_cursor, response);
}

void Show(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  const std::string id(request.PathParam("id"));
  if (!ParseDeadLetterId(id)) {
    return http::SetError(response, 404, Code::kNotFound, "no dead letter " + id);
  }
  Result<DeadLetterView> v = api.pipeline.dead_letter_reader().Find(id);
  if (!v) return AnswerReadError(v.error(), response);
  http::JsonWriter json;
  json.BeginObject();
  WriteView(json, v.value());
  json.Key("event");
  const DeadLetter& d = v.value().letter;
  if (v.value().decodes) {
    PayloadArena aligned;
    aligned.Add(d.payload);
    json.Raw(EncodeLogLine({.partition = d.partition, .offset = d.offset, .log_time_us = d.time_us,
                            .payload = aligned[0]}));
  } else {
    json.Null();
  }
  http::SetJson(response, 200, json.EndObject().Take());
}

// The dead letters a re-drive names: by id, or by the filters of its body.
Result<std::vector<DeadLetterView>> Selected(ApiContext& api, const JsonBody& body,
                                             std::vector<std::pair<std::string, Status>>* skipped) {
  DeadLetterReader& reader = api.pipeline.dead_letter_reader();
  std::vector<DeadLetterView> out;
  Result<std::optional<std::vector<std::string>>> ids = body.Strings("ids", kMaxRedrive, 64);
  if (!ids) return ids.error();
  if (ids.value()) {
    for (const std::string& id : *ids.value()) {
      Result<DeadLetterView> v = reader.Find(id);
      if (v) {
        out.push_back(std::move(v).value());
      } else if (v.error().code() == Code::kNotFound) {
        skipped->emplace_back(id, v.error());
      } else {
        return v.error();
      }
    }
    return out;
  }
  DeadLetterQuery q;
  auto reason = body.String("reason", 64);
  auto account = body.String("account", 64);
  auto limit = body.Uint("limit", kMaxRedrive);
  if (!reason) return reason.error();
  if (!account) return account.error();
  if (!limit) return limit.error();
  for (const char* name : {"from", "to"}) {
    Result<std::optional<std::string>> text = body.String(name, 64);
    if (!text) return text.error();
    if (!text.value()) continue;
    Result<TimeUs> t = ParseRfc3339(*text.value());
    if (!t) return Status(Code::kInvalidField, std::string(name) + ": " + t.error().message());
    (std::string_view(name) == "from" ? q.from_us : q.to_us) = t.value();
  }
  q.reason = reason.value().value_or("");
  q.account = account.value().value_or("");
  if (q.reason.empty() && q.account.empty()) {
    return Status(Code::kMissingField, "ids, or a reason or an account to select by");
  }
  const size_t wanted = limit.value().value_or(kMaxRedrive);
  do {
    q.limit = wanted - out.size();
    Result<DeadLetterPage> page = reader.List(q);
    if (!page) return page.error();
    for (DeadLetterView& v : page.value().items) out.push_back(std::move(v));
    q.cursor = page.value().next_cursor;
  } while (!q.cursor.empty() && out.size() < wanted);
  return out;
}

void Redrive(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<JsonBody> body =
      BodyOr400(request, response, {"ids", "reason", "account", "from", "to", "limit"});
  if (!body) return;
  std::vector<std::pair<std::string, Status>> skipped;
  Result<std::vector<DeadLetterView>> selected = Selected(api, *body, &skipped);
  if (!selected) {
    const Code c = selected.error().code();
    return SetStatusError(response,
                          c == Code::kInvalidField || c == Code::kMissingField ? 400 : 503,
                          selected.error());
  }
  std::vector<std::pair<std::string, std::string>> envelopes;  // (bytes, account), in order
  std::vector<std::string> redriven;
  for (const DeadLetterView& v : selected.value()) {
    if (!v.redrivable) {
      skipped.emplace_back(v.id, Status(Code::kUndecodable, "its payload does not decode"));
      continue;
    }
    // Under an Idempotency-Key the record of the re-drive is made once (its letter, sent
    // again, is deduped as any re-drive is: docs/reliability.md).
    EnvelopeHeader h{
        .time_us = NowUs(), .actor = fb::ActorKind::Operator, .account_id = v.account_id};
    NameCommand(&h);
    envelopes.emplace_back(BuildDeadLetterRedriven(h, v.letter.partition, v.letter.offset,
                                                   v.letter.reason, v.op, v.key_id, v.request_id),
                           v.account_id);
    envelopes.emplace_back(std::string(v.letter.payload.begin(), v.letter.payload.end()),
                           v.account_id);
    redriven.push_back(v.id);
  }
  if (!envelopes.empty()) {
    if (Status s = api.pipeline.PublishMany(envelopes); !s.ok()) {
      return SetStatusError(response, 503, s);
    }
  }
  http::JsonWriter json;
  json.BeginObject().Key("redriven").BeginArray();
  for (const std::string& id : redriven) json.String(id);
  json.EndArray().Key("skipped").BeginArray();
  for (const auto& [id, why] : skipped) {
    json.BeginObject().Key("id").String(id).Key("code").String(HttpName(why.code()));
    json.Key("message").String(why.message()).EndObject();
  }
  http::SetJson(response, 200, json.EndArray().EndObject().Take());
}

}  // namespace

void RegisterDeadLetterRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("GET", "/v1/dead-letters",
             [api](const http::Request& rq, http::Response& rs) { List(*api, rq, rs); });
  router.Add("GET", "/v1/dead-letters/{id}",
             [api](const http::Request& rq, http::Response& rs) { Show(*api, rq, rs); });
  router.Add("POST", "/v1/dead-letters/redrive",
             [api](const http::Request& rq, http::Response& rs) { Redrive(*api, rq, rs); });
}

}  // namespace keymeter
