// POST /v1/events (api/gateway.h): NDJSON or framed FlatBuffers request events from a gateway
// credential, checked against the key directory, rebuilt with the credential's gateway id,
// then published to the log in one PublishMany().
//
// FlatBuffers body grammar:
//   body   := record*
//   record := length: be32, envelope: byte[length]   (a finished "KMEV" Envelope)

#include <algorithm>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "api/gateway.h"
#include "api/forwarding.h"
#include "api/gateway_internal.h"
#include "consumers/decode.h"
#include "consumers/ndjson.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"

namespace keymeter::gateway_internal {

namespace {

struct Rejected {
  size_t line = 0;
  Code code = Code::kOk;  // answered in its HTTP spelling
  std::string message;
};

// What one body turns into: envelopes with their account (the partitioning key), and rejections.
struct Intake {
  std::string gateway_id;  // of the credential: every event's gateway
  uint32_t max_units = 0;
  std::vector<std::pair<std::string, std::string>> envelopes;
  std::vector<Rejected> rejected;
};

std::string UnitsMessage(const Intake& intake) {
  return "units above the limit of " + std::to_string(intake.max_units) + " per event";
}

// The fields of a verified request event, its gateway replaced by `gateway_id`.
RequestFields FieldsOf(const fb::RequestEvent& r, const std::string& gateway_id) {
  RequestFields f;
  f.request_id = RequestIdFromFb(r.request_id());
  f.key_id = Str(r.key_id());
  f.account_id = Str(r.account_id());
  f.time_us = r.time_us();
  f.product = Str(r.product());
  f.units = r.units();
  f.status = r.status();
  f.bytes_in = r.bytes_in();
  f.bytes_out = r.bytes_out();
  f.latency_us = r.latency_us();
  f.client_ip = Str(r.client_ip());
  f.gateway_id = gateway_id;
  return f;
}

// The account of key `key_id` (AccountOfKey: in a cluster, other members are asked); nullopt
// for a key no member knows. When the cluster can't tell yet (a partition changing owner),
// writes 503 OWNER-UNAVAILABLE to `response` and returns nullopt: the gateway retries the body.
std::optional<std::string> AccountOf(ServeContext& context, std::string_view key_id,
                                     http::Response& response) {
  const std::optional<KeyId> id = KeyId::Parse(key_id);
  if (!id) return std::nullopt;
  bool uncertain = false;
  std::optional<std::string> account = AccountOfKey(context, *id, &uncertain);
  if (!account && uncertain) {
    SetStatusError(response, 503,
                   Status(Code::kOwnerUnavailable, "the member owning key '" + std::string(key_id) +
                                                       "' can't be asked now; send again"));
    response.SetHeader("Retry-After", "1");
  }
  return account;
}

// Fills in the account of every parsed line from the directory; unknown keys are rejected.
// Returns false (and sets `response`) when the body fails as a whole.
bool FromNdjson(ServeContext& context, std::string_view body, Intake* intake,
                http::Response& response) {
  Result<NdjsonBody> parsed =
      ParseNdjsonBody(body, {.max_line_bytes = kMaxEnvelopeBytes, .max_lines = kEventsMaxLines});
  if (!parsed) {
    const Status& s = parsed.error();
    http::SetError(response, s.code() == Code::kTooManyLines ? 413 : 400, s.code(), s.message());
    return false;
  }
  NdjsonBody& lines = parsed.value();
  for (NdjsonRejection& r : lines.rejected) {
    intake->rejected.push_back({r.line, r.status.code(), r.status.message()});
  }
  for (NdjsonLine& l : lines.accepted) {
    if (l.fields.units > intake->max_units) {
      intake->rejected.push_back({l.line, Code::kUnitsTooLarge, UnitsMessage(*intake)});
      l.line = 0;
      continue;
    }
    std::optional<std::string> account = AccountOf(context, l.fields.key_id, response);
    if (!response.body.empty()) return false;  // the cluster can't tell yet: 503
    if (!account) {
      intake->rejected.push_back({l.line, Code::kUnknownKey, "no key '" + l.fields.key_id + "'"});
      l.line = 0;  // marks it rejected
      continue;
    }
    l.fields.account_id = std::move(*account);
    l.fields.gateway_id = intake->gateway_id;
  }
  for (const NdjsonLine& l : lines.accepted) {
    if (l.line == 0) continue;
    intake->envelopes.emplace_back(BuildRequestEvent(l.fields), l.fields.account_id);
  }
  std::stable_sort(intake->rejected.begin(), intake->rejected.end(),
                   [](const Rejected& a, const Rejected& b) { return a.line < b.line; });
  return true;
}

// Verifies each framed envelope; only request events of known keys, named with their own
// account, are taken.
bool FromFlatbuffers(ServeContext& context, std::string_view body, Intake* intake,
                     http::Response& response) {
  std::vector<std::pair<size_t, std::string_view>> records;
  for (size_t pos = 0; pos < body.size();) {
    if (records.size() >= kEventsMaxLines) {
      http::SetError(response, 413, Code::kTooManyLines,
                     "at most " + std::to_string(kEventsMaxLines) + " records per request");
      return false;
    }
    const size_t number = records.size() + 1;
    if (body.size() - pos < 4) {
      intake->rejected.push_back(
          {number, Code::kTruncated, "the body ends inside a length prefix"});
      break;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(body.data() + pos);
    const size_t length = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
    pos += 4;
    if (length > body.size() - pos) {
      intake->rejected.push_back({number, Code::kTruncated, "the body ends inside a record"});
      break;
    }
    records.emplace_back(number, body.substr(pos, length));
    pos += length;
  }
  for (const auto& [number, bytes] : records) {
    Decoded d =
        DecodeEnvelope(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (!d.ok()) {
      intake->rejected.push_back({number, d.reason, d.detail});
      continue;
    }
    if (d.envelope->op_type() != fb::Op::RequestEvent) {
      intake->rejected.push_back(
          {number, Code::kNotARequestEvent, "only request events may be posted here"});
      continue;
    }
    const fb::RequestEvent& r = *d.envelope->op_as_RequestEvent();
    if (r.units() > intake->max_units) {
      intake->rejected.push_back({number, Code::kUnitsTooLarge, UnitsMessage(*intake)});
      continue;
    }
    std::optional<std::string> account = AccountOf(context, r.key_id()->string_view(), response);
    if (!response.body.empty()) return false;  // the cluster can't tell yet: 503
    if (!account) {
      intake->rejected.push_back({number, Code::kUnknownKey, "no key '" + r.key_id()->str() + "'"});
      continue;
    }
    if (*account != d.envelope->account_id()->string_view()) {
      intake->rejected.push_back(
          {number, Code::kAccountMismatch, "the key is not of the account the event names"});
      continue;
    }
    intake->envelopes.emplace_back(BuildRequestEvent(FieldsOf(r, intake->gateway_id)),
                                   std::move(*account));
  }
  std::stable_sort(intake->rejected.begin(), intake->rejected.end(),
                   [](const Rejected& a, const Rejected& b) { return a.line < b.line; });
  return true;
}

void HandleEvents(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> gateway = Authenticate(api, request, response, Role::kGateway);
  if (!gateway) return;
  ServeContext& context = api.serve;
  Intake intake;
  intake.gateway_id = gateway->gateway_id;
  intake.max_units = api.options.max_event_units;
  bool ok = false;
  if (HasMediaType(request, "application/x-ndjson") || HasMediaType(request, "application/json")) {
    ok = FromNdjson(context, request.body, &intake, response);
  } else if (HasMediaType(request, "application/x-flatbuffers")) {
    ok = FromFlatbuffers(context, request.body, &intake, response);
  } else {
    return http::SetError(response, 415, Code::kUnsupportedMediaType,
                          "POST /v1/events takes application/x-ndjson, application/json (one "
                          "event per line) or application/x-flatbuffers");
  }
  if (!ok) return;
  if (!intake.envelopes.empty()) {
    if (Status s = context.pipeline.PublishMany(intake.envelopes); !s.ok()) {
      return http::SetError(response, 503, s.code(), s.message());
    }
  }
  http::JsonWriter json;
  json.BeginObject().Key("accepted").Uint(intake.envelopes.size()).Key("rejected").BeginArray();
  for (const Rejected& r : intake.rejected) {
    json.BeginObject().Key("line").Uint(r.line).Key("code").String(HttpName(r.code));
    json.Key("message").String(r.message).EndObject();
  }
  json.EndArray().EndObject();
  http::SetJson(response, 200, json.Take());
}

}  // namespace

void RegisterEventsRoute(http::Router& router, ServeContext& context) {
  std::shared_ptr<ApiContext> api = ApiOf(context);
  router.Add("POST", "/v1/events", [api](const http::Request& request, http::Response& response) {
    HandleEvents(*api, request, response);
  });
}

}  // namespace keymeter::gateway_internal
