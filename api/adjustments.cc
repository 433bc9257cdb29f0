// Corrections of closed months (docs/api.md, "Corrections"):
//
//   POST /v1/adjustments {"key_id","month":"YYYY-MM","requests","units","reason"}
//        an account admin (a key of its account) or the operator (any key): publishes
//        UsageAdjusted and, once applied, 201 {"adjustment": entry, "version"}; the projector's
//        refusals as every command answers them (409 MONTH-NOT-CLOSED, 422 INVALID-ADJUSTMENT,
//        404 ...)
//   GET  /v1/adjustments?month=YYYY-MM[&account=ID]
//        the month's corrections of the admin's account (the operator names one), oldest
//        first: 200 {"account_id","month","version","adjustments":[entry...]}
//
// entry := {"version","key_id","requests","units","reason","time","actor":{"kind","key_id"},
//           "command_id"}

#include <shared_mutex>

#include "api/internal.h"
#include "api/params.h"
#include "api/views.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "projections/adjustments.h"
#include "projections/key_directory.h"
#include "schemas/civil_time.h"

namespace keymeter {
namespace {

constexpr int64_t kMaxAdjustment = 1'000'000'000'000;

void WriteEntry(http::JsonWriter& json, const Adjustment& a) {
  json.BeginObject().Key("version").Uint(a.version).Key("key_id").String(a.key_id);
  json.Key("requests").Int(a.requests).Key("units").Int(a.units).Key("reason").String(a.reason);
  json.Key("time").String(FormatRfc3339(a.time_us, true));
  json.Key("actor").BeginObject().Key("kind").String(ActorKindName(a.actor_kind));
  json.Key("key_id");  // a member's own key id, else null: the audit history's actor
  a.actor_key_id.empty() ? json.Null() : json.String(a.actor_key_id);
  json.EndObject();
  json.Key("command_id").String(a.command_id).EndObject();
}

uint64_t VersionOf(Pipeline& pipeline, const std::string& account_id, TimeUs month) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  const AccountState* a = pipeline.directory().FindAccount(account_id);
  return a == nullptr ? 0 : a->MonthVersion(month);
}

void Adjust(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> who =
      Authenticate(api, request, response, {Role::kAccountAdmin, Role::kOperator});
  if (!who) return;
  std::optional<JsonBody> body =
      BodyOr400(request, response, {"key_id", "month", "requests", "units", "reason"});
  if (!body) return;
  auto key_text = ValueOr400(body->String("key_id", 64), response);
  if (!key_text) return;
  auto month_text = ValueOr400(body->String("month", 16), response);
  if (!month_text) return;
  auto requests = ValueOr400(body->Int("requests", kMaxAdjustment), response);
  if (!requests) return;
  auto units = ValueOr400(body->Int("units", kMaxAdjustment), response);
  if (!units) return;
  auto reason = ValueOr400(body->String("reason", 512), response);
  if (!reason) return;
  if (!*key_text) return http::SetError(response, 400, Code::kMissingField, "key_id");
  if (!*reason || (*reason)->empty()) {
    return http::SetError(response, 400, Code::kMissingField, "reason: why the correction");
  }
  const std::optional<TimeUs> month = *month_text ? ParseMonth(**month_text) : std::nullopt;
  if (!month) return http::SetError(response, 400, Code::kInvalidField, "month: YYYY-MM");
  std::optional<KeyView> key;
  if (who->role == Role::kAccountAdmin) {
    key = FindAccountKey(api.pipeline, who->account_id, **key_text);
  } else if (std::optional<KeyId> id = KeyId::Parse(**key_text)) {
    key = FindKeyView(api.pipeline, *id);
  }
  if (!key) return http::SetError(response, 404, Code::kNotFound, "no such key");
  const Actor actor = who->role == Role::kOperator ? kOperatorActor : Actor{};
  const CommandOutcome outcome =
      RunCommand(api, key->account_id, actor, [&](const EnvelopeHeader& h) {
        return BuildUsageAdjusted(h, key->key_id, *month, requests->value_or(0),
                                  units->value_or(0), **reason);
      });
  if (AnswerUnlessOk(outcome, response)) return;
  Result<std::vector<Adjustment>> all =
      ReadAdjustments(api.pipeline.store().db(), api.pipeline.store().cfs()[Cf::kAdjustments],
                      key->account_id, *month);
  if (!all) return SetStatusError(response, 500, all.error());
  const auto mine = std::find_if(all.value().begin(), all.value().end(),
                                 [&](const Adjustment& a) { return a.command_id == outcome.command_id; });
  if (mine == all.value().end()) {
    return http::SetError(response, 500, Code::kInternal, "the correction was not found");
  }
  http::JsonWriter json;
  json.BeginObject().Key("adjustment");
  WriteEntry(json, *mine);
  json.Key("version").Uint(VersionOf(api.pipeline, key->account_id, *month));
  http::SetJson(response, 201, json.EndObject().Take());
}

void List(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> who =
      Authenticate(api, request, response, {Role::kAccountAdmin, Role::kOperator});
  if (!who) return;
  const std::optional<std::string_view> month_text = Param(request, "month");
  const std::optional<TimeUs> month = month_text ? ParseMonth(*month_text) : std::nullopt;
  if (!month) return http::SetError(response, 400, Code::kInvalidField, "month: YYYY-MM");
  std::string account = who->account_id;
  if (who->role == Role::kOperator) {
    account = std::string(Param(request, "account").value_or(""));
    if (account.empty()) return http::SetError(response, 400, Code::kMissingField, "account");
  }
  Result<std::vector<Adjustment>> all = ReadAdjustments(
      api.pipeline.store().db(), api.pipeline.store().cfs()[Cf::kAdjustments], account, *month);
  if (!all) return SetStatusError(response, 500, all.error());
  http::JsonWriter json;
  json.BeginObject().Key("account_id").String(account).Key("month").String(*month_text);
  json.Key("version").Uint(VersionOf(api.pipeline, account, *month));
  json.Key("adjustments").BeginArray();
  for (const Adjustment& a : all.value()) WriteEntry(json, a);
  http::SetJson(response, 200, json.EndArray().EndObject().Take());
}

}  // namespace

void RegisterAdjustmentRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", "/v1/adjustments",
             [api](const http::Request& rq, http::Response& rs) { Adjust(*api, rq, rs); });
  router.Add("GET", "/v1/adjustments",
             [api](const http::Request& rq, http::Response& rs) { List(*api, rq, rs); });
}

}  // namespace keymeter
