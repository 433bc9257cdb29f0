// Commands are decided by the log (DESIGN §2): the API builds one lifecycle op with a fresh
// random command id (derived under an Idempotency-Key: NameCommand, api/idempotency.h),
// publishes it keyed by its account, and waits until the projector has applied it and
// recorded its outcome.
//
// RunCommand() returns one of three things:
//   kApplied      the projector's outcome: OK or a stable code (docs/events.md)
//   kPending      no outcome within ApiOptions::command_timeout; the op is in the log and
//                 will be applied: handlers answer 202 {"command_id"}
//   kUnpublished  the log refused the append (LOG-READ-ONLY, IO-ERROR, KAFKA-ERROR...):
//                 handlers answer 503 with that code
//   kThrottled    the account's commands were refused too often for naming keys not its own
//                 (ApiOptions::refused_commands_per_minute): nothing is published; handlers
//                 answer 429 TOO_MANY_ATTEMPTS with Retry-After (`retry_after_s`)
//
// HttpStatusOf() maps a projector code to the HTTP status every endpoint answers with it:
//   404  NO-SUCH-API-KEY, UNABLE-TO-CHANGE-NOT-OWN-API-KEY, NO-SUCH-ACCOUNT, NO-SUCH-GATEWAY
//   403  FORBIDDEN, ACCOUNT_SUSPENDED
//   409  INVALID-STATUS-TRANSITION, KEY-DELETED, KEY-HAS-CHILDREN,
//        CONFIG-INHERITED-FROM-PARENT, NOT-A-ROOT-KEY, NOT-A-CHILD-KEY,
//        UNABLE-TO-SET-PARENT-API-KEY, DUPLICATE-KEY-ID, DUPLICATE-ACCOUNT, DUPLICATE-GATEWAY,
//        DUPLICATE-MEMBER, MONTH-NOT-CLOSED
//   422  INVALID-CIDR, INVALID-DOMAIN, TOO-MANY-SOURCES, CONFIG-TOO-LARGE,
//        INVALID-PARENT-API-KEY, MALFORMED-KEY-ID, MISSING-FIELD, and any other code
//
// Thread safety: thread-safe (the pipeline is).

#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/context.h"
#include "http/json.h"
#include "schemas/envelope_builder.h"

namespace keymeter {

struct CommandOutcome {
  enum class Kind { kApplied, kPending, kUnpublished, kThrottled };
  Kind kind = Kind::kApplied;
  Status status;  // kApplied: the outcome; kUnpublished, kThrottled: why not
  std::string command_id;
  int64_t retry_after_s = 0;  // kThrottled

  bool ok() const { return kind == Kind::kApplied && status.ok(); }
};

struct Actor {
  fb::ActorKind kind = fb::ActorKind::AccountAdmin;
  std::string key_id;  // the member's own key id for fb::ActorKind::Member
};
inline const Actor kOperatorActor{fb::ActorKind::Operator, ""};

// Builds the op's envelope from the header RunCommand() fills in (command id, now, actor,
// account).
using EnvelopeFactory = std::function<std::string(const EnvelopeHeader&)>;

// `named_keys`: the keys the op names besides its account (a parent). One that belongs to
// another account on another partition, which that partition's projector can't see
// (KeyDirectory::Apply's same_log), is refused here UNABLE-TO-CHANGE-NOT-OWN-API-KEY without
// publishing, as one process holding every partition would answer (not audited: the log has no
// op); on the same partition the projector refuses it, audited.
CommandOutcome RunCommand(ApiContext& api, std::string_view account_id, const Actor& actor,
                          const EnvelopeFactory& build,
                          std::initializer_list<std::string_view> named_keys = {});

int HttpStatusOf(Code code);

// For any outcome but OK: writes the answer (error, 202 or 503) and returns true. For OK
// returns false and leaves `response` alone. `pending_extra`, when set, adds members to the
// 202 body after "command_id" (the plain key of an issue or a rotation, shown only once).
bool AnswerUnlessOk(const CommandOutcome& outcome, http::Response& response,
                    const std::function<void(http::JsonWriter&)>& pending_extra = {});

}  // namespace keymeter
