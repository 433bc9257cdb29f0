#include "api/command.h"

#include <spdlog/spdlog.h>

#include <array>
#include <span>

#include "api/forwarding.h"
#include "api/idempotency.h"
#include "engine/pipeline.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

// True when `key_text` names a key of an account other than `account_id` on another partition.
bool ForeignElsewhere(ApiContext& api, std::string_view account_id, std::string_view key_text) {
  const std::optional<KeyId> id = KeyId::Parse(key_text);
  if (!id) return false;
  bool uncertain = false;
  const std::optional<std::string> owner = AccountOfKey(api.serve, *id, &uncertain);
  return owner && *owner != account_id &&
         PartitionOfAccount(api.serve, *owner) != PartitionOfAccount(api.serve, account_id);
}

}  // namespace

CommandOutcome RunCommand(ApiContext& api, std::string_view account_id, const Actor& actor,
                          const EnvelopeFactory& build,
                          std::initializer_list<std::string_view> named_keys) {
  CommandOutcome outcome;
  const auto started = AttemptLimiter::Clock::now();
  if (const int64_t wait = api.refusals.BlockedFor(account_id, started); wait > 0) {
    outcome.kind = CommandOutcome::Kind::kThrottled;
    outcome.status = Status(Code::kTooManyAttempts,
                            "too many commands naming keys not of this account; retry later");
    outcome.retry_after_s = wait;
    return outcome;
  }
  for (std::string_view key : named_keys) {
    if (ForeignElsewhere(api, account_id, key)) {
      outcome.status =
          Status(Code::kUnableToChangeNotOwnApiKey, "the key belongs to another account");
      api.refusals.RecordFailure(account_id, started);
      return outcome;
    }
  }
  EnvelopeHeader header;
  NameCommand(&header);
  outcome.command_id = header.command_id;
  header.time_us = NowUs();
  header.actor = actor.kind;
  header.actor_key_id = actor.key_id;
  header.account_id = std::string(account_id);
  const std::string envelope = build(header);
  const Status published = api.pipeline.Publish(
      std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()), account_id);
  if (!published.ok()) {
    spdlog::warn("command {}: publish failed: {}", outcome.command_id, published.ToString());
    outcome.kind = CommandOutcome::Kind::kUnpublished;
    outcome.status = published;
    return outcome;
  }
  std::span<const uint8_t> digest;
  if (header.request_digest) digest = *header.request_digest;
  std::optional<Status> applied = api.pipeline.AwaitOutcome(OutcomeKey(outcome.command_id, digest),
                                                            api.options.command_timeout);
  if (!applied) {
    outcome.kind = CommandOutcome::Kind::kPending;
    return outcome;
  }
  outcome.status = std::move(*applied);
  if (outcome.status.code() == Code::kNoSuchApiKey ||
      outcome.status.code() == Code::kUnableToChangeNotOwnApiKey) {
    api.refusals.RecordFailure(account_id, started);
  }
  return outcome;
}

int HttpStatusOf(Code code) {
  struct Entry {
    Code code;
    int status;
  };
  static constexpr std::array<Entry, 22> kTable = {{
      {Code::kNoSuchApiKey, 404},
      {Code::kUnableToChangeNotOwnApiKey, 404},
      {Code::kNoSuchAccount, 404},
      {Code::kNoSuchGateway, 404},
      {Code::kNoSuchWebhook, 404},
      {Code::kForbidden, 403},
      {Code::kAccountSuspended, 403},
      {Code::kInvalidStatusTransition, 409},
      {Code::kKeyDeleted, 409},
      {Code::kKeyHasChildren, 409},
      {Code::kConfigInheritedFromParent, 409},
      {Code::kNotARootKey, 409},
      {Code::kNotAChildKey, 409},
      {Code::kUnableToSetParentApiKey, 409},
      {Code::kDuplicateKeyId, 409},
      {Code::kDuplicateAccount, 409},
      {Code::kDuplicateGateway, 409},
      {Code::kMonthNotClosed, 409},
      {Code::kDuplicateMember, 409},
      {Code::kTooManyWebhooks, 409},
      {Code::kInvalidCidr, 422},
      {Code::kInvalidDomain, 422},
  }};
  for (const Entry& e : kTable) {
    if (e.code == code) return e.status;
  }
  return 422;
}

bool AnswerUnlessOk(const CommandOutcome& outcome, http::Response& response,
                    const std::function<void(http::JsonWriter&)>& pending_extra) {
  switch (outcome.kind) {
    case CommandOutcome::Kind::kUnpublished:
      SetStatusError(response, 503, outcome.status);
      return true;
    case CommandOutcome::Kind::kThrottled:
      SetStatusError(response, 429, outcome.status);
      response.SetHeader("Retry-After", std::to_string(outcome.retry_after_s));
      return true;
    case CommandOutcome::Kind::kPending: {
      http::JsonWriter json;
      json.BeginObject().Key("command_id").String(outcome.command_id);
      if (pending_extra) pending_extra(json);
      json.EndObject();
      http::SetJson(response, 202, json.Take());
      return true;
    }
    case CommandOutcome::Kind::kApplied:
      break;
  }
  if (outcome.status.ok()) return false;
  SetStatusError(response, HttpStatusOf(outcome.status.code()), outcome.status);
  return true;
}

}  // namespace keymeter
