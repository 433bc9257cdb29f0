#include "api/member.h"

#include <algorithm>
#include <shared_mutex>

#include "api/internal.h"
#include "api/logs.h"
#include "api/params.h"
#include "api/usage.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "projections/key_directory.h"

namespace keymeter {

namespace {

struct Remaining {
  std::optional<uint64_t> daily;  // nullopt = unlimited
  std::optional<uint64_t> monthly;
  std::optional<int64_t> credits;                     // nullopt = the pool has no credits on
  std::optional<uint64_t> rate[kRateWindows];         // per second, minute, hour
};

uint64_t Left(uint64_t quota, uint64_t used) { return used >= quota ? 0 : quota - used; }

// The smaller of `*left` (nullopt = no limit yet) and what `limit` leaves after `used`; no
// change for a limit of 0 (none).
void Tighten(std::optional<uint64_t>* left, uint64_t limit, uint64_t used) {
  if (limit == 0) return;
  const uint64_t l = Left(limit, used);
  *left = std::min(left->value_or(l), l);
}

// What the member's key may still spend now: its pool's quota, credits and rate limits, and
// its own caps and rate limits (as applied; reservations in flight not counted).
Remaining RemainingOf(Pipeline& pipeline, KeyId id, TimeUs now) {
  Remaining r;
  std::shared_lock lock(pipeline.projector().state_mutex());
  const KeyDirectory& directory = pipeline.directory();
  const KeyState* key = directory.FindKey(id);
  if (key == nullptr) return r;
  const KeyId root_id = directory.RootOf(*key);
  const KeyState* root = directory.FindKey(root_id);
  const QuotaWindows& quota = pipeline.quota();
  const QuotaWindow pool = quota.Pool(root_id);
  if (root != nullptr) {
    Tighten(&r.daily, root->daily_requests, pool.DayRequests(now));
    Tighten(&r.monthly, root->monthly_units, pool.MonthUnits(now));
    const KeyExtras& rx = root->extras();
    if (rx.credits.enabled) r.credits = std::max<int64_t>(0, BalanceAt(rx.credits, now));
    const RateCounts counts = quota.Rates(root_id);
    const uint64_t limits[] = {rx.rate.per_second, rx.rate.per_minute, rx.rate.per_hour};
    for (int w = 0; w < kRateWindows; ++w) Tighten(&r.rate[w], limits[w], counts.At(w, now));
  }
  if (key->is_child()) {
    const QuotaWindow member = quota.Member(id);
    Tighten(&r.daily, key->member_cap, member.DayRequests(now));
    Tighten(&r.monthly, key->extras().member_monthly_units, member.MonthUnits(now));
    const RateLimits& own = key->extras().rate;
    const RateCounts counts = quota.Rates(id);
    const uint64_t limits[] = {own.per_second, own.per_minute, own.per_hour};
    for (int w = 0; w < kRateWindows; ++w) Tighten(&r.rate[w], limits[w], counts.At(w, now));
  }
  return r;
}

void WriteOptional(http::JsonWriter& json, const std::optional<uint64_t>& v) {
  if (v) {
    json.Uint(*v);
  } else {
    json.Null();
  }
}

// The member's own key, or nullopt after writing the error. The old secret of a rotation in its
// grace only authorizes: 403 FORBIDDEN here (Authenticate).
std::optional<KeyView> Me(ApiContext& api, const http::Request& request, http::Response& response,
                          Credential* member) {
  std::optional<Credential> c = Authenticate(api, request, response, Role::kMember);
  if (!c) return std::nullopt;
  std::optional<KeyView> key = FindKeyView(api.pipeline, c->key_id);
  if (!key) {
    http::SetError(response, 401, Code::kUnauthorized, "the credential is not valid");
    return std::nullopt;
  }
  *member = std::move(*c);
  return key;
}

// False after writing 403 when a "key" parameter names another key than the member's.
bool OnlyOwnKey(const KeyView& me, const http::Request& request, http::Response& response) {
  std::optional<std::string_view> text = Param(request, "key");
  if (!text) return true;
  const std::optional<KeyId> id = KeyId::Parse(*text);
  if (id && id->str() == me.key_id) return true;
  http::SetError(response, 403, Code::kForbidden, "a member sees only its own key");
  return false;
}

void GetMe(ApiContext& api, const http::Request& request, http::Response& response) {
  Credential member;
  std::optional<KeyView> me = Me(api, request, response, &member);
  if (!me) return;
  const TimeUs now = NowUs();
  const Remaining remaining = RemainingOf(api.pipeline, member.key_id, now);
  http::JsonWriter json;
  WriteKey(json, *me, KeyDetail::kMember, [&](http::JsonWriter& out) {
    out.Key("remaining").BeginObject().Key("daily_requests");
    WriteOptional(out, remaining.daily);
    out.Key("monthly_units");
    WriteOptional(out, remaining.monthly);
    out.Key("credits");
    remaining.credits ? out.Int(*remaining.credits) : out.Null();
    out.Key("per_second");
    WriteOptional(out, remaining.rate[0]);
    out.Key("per_minute");
    WriteOptional(out, remaining.rate[1]);
    out.Key("per_hour");
    WriteOptional(out, remaining.rate[2]);
    out.EndObject();
    // The member's own limits (the admin sets them; the pool's stay the admin's to see).
    out.Key("limits").BeginObject();
    out.Key("daily_requests").Uint(me->member_cap);
    out.Key("monthly_units").Uint(me->member_monthly_units);
    out.EndObject();
    WriteRateLimits(out, me->rate);
    out.Key("reset").BeginObject();
    out.Key("daily").String(FormatRfc3339(DayStart(now) + kMicrosPerDay));
    out.Key("monthly").String(FormatRfc3339(NextMonthStart(now)));
    out.EndObject();
  });
  http::SetJson(response, 200, json.Take());
}

void MyUsage(ApiContext& api, const http::Request& request, http::Response& response) {
  Credential member;
  std::optional<KeyView> me = Me(api, request, response, &member);
  if (!me || !OnlyOwnKey(*me, request, response)) return;
  UsageQuery query;
  if (Status s = ParseUsageParams(request, true, &query); !s.ok()) {
    return SetStatusError(response, 400, s);
  }
  query.scope = UsageScope::kKey;
  query.account_id = member.account_id;
  query.key_id = me->key_id;
  query.members = {*me};
  AnswerUsage(api.pipeline, query, response);
}

void MyRequests(ApiContext& api, const http::Request& request, http::Response& response) {
  Credential member;
  std::optional<KeyView> me = Me(api, request, response, &member);
  if (!me || !OnlyOwnKey(*me, request, response)) return;
  AnswerKeyRequests(api.pipeline, member.account_id, member.key_id, request, response);
}

Actor MemberActor(const KeyView& me) { return Actor{fb::ActorKind::Member, me.key_id}; }

// The member's own key when it may change it; otherwise nullopt after writing 403: SUSPENDED,
// or PENDING_CONFIRMATION in an account that requires confirmation.
std::optional<KeyView> MeToManage(ApiContext& api, const http::Request& request,
                                  http::Response& response, Credential* member) {
  std::optional<KeyView> me = Me(api, request, response, member);
  if (!me || member->may_manage) return me;
  const bool suspended = me->status == fb::KeyStatus::Suspended;
  http::SetError(response, 403, suspended ? Code::kSuspended : Code::kPendingConfirmation,
                 suspended ? "a suspended key changes nothing until its account admin "
                             "activates it"
                           : "a key pending confirmation changes nothing until it is confirmed");
  return std::nullopt;
}

}  // namespace

void RegisterMemberRoutes(http::Router& router, ServeContext& context) {
  const ApiPtr api = ApiOf(context);
  using Fn = void (*)(ApiContext&, const http::Request&, http::Response&);
  const std::pair<const char*, Fn> reads[] = {
      {"/v1/me", GetMe}, {"/v1/me/usage", MyUsage}, {"/v1/me/requests", MyRequests}};
  for (const auto& [pattern, fn] : reads) {
    router.Add("GET", pattern,
               [api, fn = fn](const http::Request& request, http::Response& response) {
                 fn(*api, request, response);
               });
  }
  router.Add("POST", "/v1/me/rotate",
             [api](const http::Request& request, http::Response& response) {
               Credential member;
               std::optional<KeyView> me = MeToManage(*api, request, response, &member);
               if (!me) return;
               RotateCommand(*api, member.account_id, MemberActor(*me), *me, request, response);
             });
  router.Add("PUT", "/v1/me/allowed-sources",
             [api](const http::Request& request, http::Response& response) {
               Credential member;
               std::optional<KeyView> me = MeToManage(*api, request, response, &member);
               if (!me) return;
               AllowedSourcesCommand(*api, member.account_id, MemberActor(*me), *me,
                                     KeyDetail::kMember, request, response);
             });
}

}  // namespace keymeter
