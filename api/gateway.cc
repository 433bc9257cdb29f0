// GET and POST /v1/authorize, and what the gateway routes share. POST /v1/events is in
// api_gateway_events.cc.

#include "api/gateway.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "api/gateway_internal.h"
#include "api/views.h"
#include "engine/authorizer.h"
#include "http/json.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace gateway_internal {

bool HasMediaType(const http::Request& request, std::string_view media_type) {
  std::optional<std::string_view> value = request.Header("Content-Type");
  if (!value) return false;
  return http::EqualsIgnoreCase(http::TrimWhitespace(value->substr(0, value->find(';'))),
                                media_type);
}

}  // namespace gateway_internal

namespace gateway_internal {

std::string_view KeyOf(const http::Request& request) {
  if (std::optional<std::string_view> key = request.Header("X-Api-Key"))
    return http::TrimWhitespace(*key);
  return request.BearerToken().value_or(std::string_view());
}

}  // namespace gateway_internal

namespace {

using http::TrimWhitespace;
namespace dom = simdjson::dom;

bool ParseUnits(std::string_view text, uint32_t* out) {
  text = TrimWhitespace(text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

void SetInvalidUnits(http::Response& response) {
  http::SetError(response, 400, Code::kInvalidUnits,
                 "units must be an integer from 0 to 4294967295");
  response.SetHeader("X-Keymeter-Reason", HttpName(Code::kInvalidUnits));
}

// A reused result per worker thread: its account_id buffer survives between requests.
AuthorizeResult& ThreadResult() {
  thread_local AuthorizeResult result;
  return result;
}

// The calling site: `stated` (X-Origin, or the body's "origin") when given, else the request's
// Origin, else its Referer (a gateway in front of a browser passes them on).
std::string_view OriginOf(const http::Request& request, std::string_view stated) {
  stated = TrimWhitespace(stated);
  if (!stated.empty()) return stated;
  if (std::optional<std::string_view> origin = request.Header("Origin")) {
    if (!TrimWhitespace(*origin).empty()) return *origin;
  }
  return request.Header("Referer").value_or("");
}

// Whole seconds from `now` until `at`, rounded up.
std::string SecondsUntil(TimeUs at, TimeUs now) {
  return std::to_string(std::max<TimeUs>(0, at - now + kMicrosPerSecond - 1) / kMicrosPerSecond);
}

// The RateLimit fields of draft-ietf-httpapi-ratelimit-headers-06 (the last with separate
// fields; keymeter's RateLimit-Remaining and -Reset predate the later drafts' merged `RateLimit`):
// RateLimit-Limit/-Remaining/-Reset of the window that denied, else of the one with the least
// left (daily caps and rate limits; without any, only -Reset, to the next UTC midnight),
// RateLimit-Policy listing each window as `limit;w=seconds`, and Retry-After on a 429 whose
// window has an end (every one but credits without a refill).
void SetLimitHeaders(const AuthorizeResult& result, TimeUs now, http::Response& response) {
  if (result.fresh_known) SetFreshnessHeaders(result.freshness, response);
  if (!result.quota_evaluated) {
    response.SetHeader("RateLimit-Reset", SecondsUntil(result.reset_daily, now));
    return;
  }
  const AuthorizeResult::WindowState& w = result.window;
  if (w.limit > 0) {
    response.SetHeader("RateLimit-Limit", std::to_string(w.limit));
    response.SetHeader("RateLimit-Remaining", std::to_string(w.remaining));
    response.SetHeader("RateLimit-Reset", SecondsUntil(w.reset, now));
    std::string policy;
    for (uint8_t i = 0; i < result.policy_count; ++i) {
      if (!policy.empty()) policy += ", ";
      policy += std::to_string(result.policies[i].limit) + ";w=" +
                std::to_string(result.policies[i].seconds);
    }
    response.SetHeader("RateLimit-Policy", policy);
  } else {
    response.SetHeader("RateLimit-Reset", SecondsUntil(result.reset_daily, now));
  }
  if (result.http_status == 429 && result.retry_after > 0) {
    response.SetHeader("Retry-After", SecondsUntil(result.retry_after, now));
  }
}

void HandleGet(const Authorizer& authorizer, const http::Request& request,
               http::Response& response) {
  AuthorizeRequest ask;
  ask.key = gateway_internal::KeyOf(request);
  ask.ip = TrimWhitespace(request.Header("X-Real-IP").value_or(request.remote_address));
  ask.product = TrimWhitespace(request.Header("X-Product").value_or(""));
  if (std::optional<std::string_view> units = request.Header("X-Units")) {
    if (!ParseUnits(*units, &ask.units)) return SetInvalidUnits(response);
  }
  const std::string_view reserve = TrimWhitespace(request.Header("X-Reserve").value_or(""));
  ask.reserve = reserve == "true" || reserve == "1";
  ask.request_id = TrimWhitespace(request.Header("X-Request-Id").value_or(""));
  ask.origin = OriginOf(request, request.Header("X-Origin").value_or(""));
  const TimeUs now = NowUs();
  AuthorizeResult& result = ThreadResult();
  authorizer.Authorize(ask, now, &result);

  response.status = result.http_status;
  if (result.http_status == 400) {
    http::SetError(response, 400, result.reason,
                   "reserve needs X-Request-Id: 32 hex digits or a UUID");
  }
  response.SetHeader("X-Keymeter-Reason", HttpName(result.reason));
  if (!result.identified) return;
  response.SetHeader("X-Keymeter-Account", result.account_id);
  response.SetHeader("X-Keymeter-Key-Id", result.key_id.str());
  SetLimitHeaders(result, now, response);
}

// Member `name` of `obj`; false when absent or null.
bool Member(dom::object obj, std::string_view name, dom::element* out) {
  return obj[name].get(*out) == simdjson::SUCCESS && !out->is_null();
}

// A string member: absent → true with `*out` untouched; another type → false.
bool StringMember(dom::object obj, std::string_view name, std::string_view* out) {
  dom::element v;
  if (!Member(obj, name, &v)) return true;
  return v.get_string().get(*out) == simdjson::SUCCESS;
}

void WriteRemaining(http::JsonWriter& json, uint64_t value) {
  if (value == AuthorizeResult::kUnlimited) {
    json.Null();
  } else {
    json.Uint(value);
  }
}

void HandlePost(const Authorizer& authorizer, const http::Request& request,
                http::Response& response) {
  if (!gateway_internal::HasMediaType(request, "application/json")) {
    return http::SetError(response, 415, Code::kUnsupportedMediaType,
                          "POST /v1/authorize takes Content-Type: application/json");
  }
  thread_local dom::parser parser;
  dom::element doc;
  dom::object obj;
  if (parser.parse(request.body.data(), request.body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return http::SetError(response, 400, Code::kInvalidJson, "the body is not a JSON object");
  }
  AuthorizeRequest ask;
  dom::element key;
  if (!Member(obj, "key", &key)) return http::SetError(response, 400, Code::kMissingField, "key");
  if (key.get_string().get(ask.key) != simdjson::SUCCESS) {
    return http::SetError(response, 400, Code::kInvalidField, "key: must be a string");
  }
  ask.ip = request.remote_address;
  std::string_view origin;
  for (auto [name, field] : {std::pair{"ip", &ask.ip}, std::pair{"product", &ask.product},
                             std::pair{"request_id", &ask.request_id},
                             std::pair{"origin", &origin}}) {
    if (!StringMember(obj, name, field)) {
      return http::SetError(response, 400, Code::kInvalidField,
                            std::string(name) + ": must be a string");
    }
  }
  dom::element v;
  if (Member(obj, "units", &v)) {
    uint64_t units = 0;
    if (v.get_uint64().get(units) != simdjson::SUCCESS || units > UINT32_MAX) {
      return SetInvalidUnits(response);
    }
    ask.units = uint32_t(units);
  }
  if (Member(obj, "reserve", &v) && v.get_bool().get(ask.reserve) != simdjson::SUCCESS) {
    return http::SetError(response, 400, Code::kInvalidField, "reserve: must be true or false");
  }
  ask.origin = OriginOf(request, origin);
  AuthorizeResult& result = ThreadResult();
  const TimeUs now = NowUs();
  authorizer.Authorize(ask, now, &result);
  if (result.http_status == 400) {
    return http::SetError(response, 400, result.reason,
                          "reserve needs a request_id: 32 hex digits or a UUID");
  }

  http::JsonWriter json;
  json.BeginObject()
      .Key("allowed")
      .Bool(result.allowed)
      .Key("reason")
      .String(HttpName(result.reason));
  json.Key("account_id");
  result.identified ? json.String(result.account_id) : json.Null();
  json.Key("key_id");
  result.identified ? json.String(result.key_id.str()) : json.Null();
  json.Key("root_key_id");
  result.identified ? json.String(result.root_key_id.str()) : json.Null();
  json.Key("remaining");
  if (result.quota_evaluated) {
    json.BeginObject().Key("daily_requests");
    WriteRemaining(json, result.remaining_daily_requests);
    json.Key("monthly_units");
    WriteRemaining(json, result.remaining_monthly_units);
    json.Key("credits");
    result.credits_evaluated ? json.Int(result.remaining_credits) : json.Null();
    json.EndObject();
  } else {
    json.Null();
  }
  json.Key("reset").BeginObject();
  json.Key("daily").String(FormatRfc3339(result.reset_daily));
  json.Key("monthly").String(FormatRfc3339(result.reset_monthly));
  json.EndObject();
  // The request window the RateLimit fields describe; null when none applies.
  json.Key("rate_limit");
  if (result.quota_evaluated && result.window.limit > 0) {
    json.BeginObject()
        .Key("limit").Uint(result.window.limit)
        .Key("remaining").Uint(result.window.remaining)
        .Key("window_seconds").Uint(result.window.seconds)
        .Key("reset").String(FormatRfc3339(result.window.reset))
        .EndObject();
  } else {
    json.Null();
  }
  json.Key("retry_after");
  result.retry_after > 0 ? json.String(FormatRfc3339(result.retry_after)) : json.Null();
  json.Key("freshness");
  if (result.fresh_known) {
    WriteFreshness(json, result.freshness);
  } else {
    json.Null();
  }
  json.EndObject();
  response.SetHeader("X-Keymeter-Reason", HttpName(result.reason));
  if (result.identified) SetLimitHeaders(result, now, response);
  http::SetJson(response, 200, json.Take());
}

}  // namespace

void RegisterGatewayRoutes(http::Router& router, ServeContext& context) {
  if (context.authorizer == nullptr) {
    spdlog::critical("RegisterGatewayRoutes: ServeContext::authorizer is not set");
    std::abort();  // a wiring bug, not a runtime condition
  }
  const Authorizer& authorizer = *context.authorizer;
  router.Add("GET", "/v1/authorize",
             [&authorizer](const http::Request& request, http::Response& response) {
               HandleGet(authorizer, request, response);
             },
             http::Router::Lane::kInline);
  router.Add("POST", "/v1/authorize",
             [&authorizer](const http::Request& request, http::Response& response) {
               HandlePost(authorizer, request, response);
             },
             http::Router::Lane::kInline);
  gateway_internal::RegisterEventsRoute(router, context);
}

std::optional<size_t> GatewayBodyLimit(std::string_view method, std::string_view path,
                                       std::string_view content_type) {
  if (method != "POST" || path != "/v1/events") return std::nullopt;
  const std::string_view type =
      http::TrimWhitespace(content_type.substr(0, content_type.find(';')));
  for (std::string_view taken :
       {"application/x-ndjson", "application/json", "application/x-flatbuffers"}) {
    if (http::EqualsIgnoreCase(type, taken)) return kEventsBodyLimit;
  }
  return std::nullopt;
}

}  // namespace keymeter
