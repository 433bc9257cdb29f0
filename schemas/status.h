// Status and Result<T>: keymeter's one error type, and Code: its one error-code enum.
//
// Every code keymeter gives — HTTP error bodies, authorize's reasons, projector outcomes in the
// audit history, dead-letter reasons, CLI failures — is a Code, compared as a Code, and turned
// into text only at the wire by LogName() or HttpName(), from the one table below. The text is
// stable (docs/api.md, docs/events.md): a code's spelling never changes once published.
//
// Two spellings, one rule (docs/api.md): what the log records and seed 001's codes are
// UPPER-KEBAB (LogName: DLQ reasons, audit outcomes, n1ed's answers, the CLI); the HTTP API
// spells the codes it checks itself UPPER_SNAKE and passes the projector's through unchanged
// (HttpName). Most codes have one spelling; the few that both the log and the API give (an
// NDJSON line's INVALID-FIELD is the API's INVALID_FIELD) have two.
//
// Library errors (rocksdb::Status, librdkafka) are converted to a Status at the module boundary.
//
// Thread safety: values and pure functions; safe to copy between threads.

#pragma once

#include <boost/outcome/result.hpp>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace keymeter {

// X(name, log spelling, HTTP spelling)
#define KEYMETER_CODES(X)                                                                       \
  /* storage, logs and the process */                                                           \
  X(kIoError, "IO-ERROR", "IO-ERROR")                                                           \
  X(kCorruptRecord, "CORRUPT-RECORD", "CORRUPT-RECORD")                                         \
  X(kStorageError, "STORAGE-ERROR", "STORAGE-ERROR")                                            \
  X(kSourceMismatch, "SOURCE-MISMATCH", "SOURCE-MISMATCH")                                      \
  X(kLogReadOnly, "LOG-READ-ONLY", "LOG-READ-ONLY")                                             \
  X(kLogPartitionsMismatch, "LOG-PARTITIONS-MISMATCH", "LOG-PARTITIONS-MISMATCH")               \
  X(kInvalidArgument, "INVALID-ARGUMENT", "INVALID-ARGUMENT")                                   \
  X(kProjectorStopped, "PROJECTOR-STOPPED", "PROJECTOR-STOPPED")                                \
  X(kCommandPending, "COMMAND-PENDING", "COMMAND-PENDING")                                      \
  X(kServiceUnavailable, "SERVICE-UNAVAILABLE", "SERVICE-UNAVAILABLE")                          \
  X(kKafkaError, "KAFKA-ERROR", "KAFKA-ERROR")                                                  \
  X(kKafkaClosed, "KAFKA-CLOSED", "KAFKA-CLOSED")                                               \
  X(kKafkaConfig, "KAFKA-CONFIG", "KAFKA-CONFIG")                                               \
  X(kKafkaTimeout, "KAFKA-TIMEOUT", "KAFKA-TIMEOUT")                                            \
  X(kKafkaNoTopic, "KAFKA-NO-TOPIC", "KAFKA-NO-TOPIC")                                          \
  X(kKafkaFatal, "KAFKA-FATAL", "KAFKA-FATAL")                                                  \
  X(kKafkaSessionRefused, "KAFKA-SESSION-REFUSED", "KAFKA-SESSION-REFUSED")                     \
  X(kKafkaQueueFull, "KAFKA-QUEUE-FULL", "KAFKA-QUEUE-FULL")                                    \
  X(kKafkaUnreachable, "KAFKA-UNREACHABLE", "KAFKA-UNREACHABLE")                                \
  X(kDlqDeliveryFailed, "DLQ-DELIVERY-FAILED", "DLQ-DELIVERY-FAILED")                           \
  X(kHttpError, "HTTP-ERROR", "HTTP-ERROR")                                                     \
  X(kListenError, "LISTEN-ERROR", "LISTEN-ERROR")                                               \
  /* the cluster (cluster/) */                                                                  \
  X(kOwnerUnavailable, "OWNER-UNAVAILABLE", "OWNER-UNAVAILABLE")                                \
  X(kNotOwner, "NOT-OWNER", "NOT-OWNER")                                                        \
  X(kInvalidMemberRecord, "INVALID-MEMBER-RECORD", "INVALID-MEMBER-RECORD")                     \
  /* the CLI */                                                                                 \
  X(kNoDataDir, "NO-DATA-DIR", "NO-DATA-DIR")                                                   \
  X(kNotAStore, "NOT-A-STORE", "NOT-A-STORE")                                                   \
  X(kDataDirNotEmpty, "DATA-DIR-NOT-EMPTY", "DATA-DIR-NOT-EMPTY")                               \
  X(kReplayStalled, "REPLAY-STALLED", "REPLAY-STALLED")                                         \
  X(kConfigUnreadable, "CONFIG-UNREADABLE", "CONFIG-UNREADABLE")                                \
  X(kConfigSyntax, "CONFIG-SYNTAX", "CONFIG-SYNTAX")                                            \
  X(kConfigUnknownKey, "CONFIG-UNKNOWN-KEY", "CONFIG-UNKNOWN-KEY")                              \
  X(kConfigWrongType, "CONFIG-WRONG-TYPE", "CONFIG-WRONG-TYPE")                                 \
  X(kConfigOutOfRange, "CONFIG-OUT-OF-RANGE", "CONFIG-OUT-OF-RANGE")                            \
  X(kDemoSeedFailed, "DEMO-SEED-FAILED", "DEMO-SEED-FAILED")                                    \
  X(kLoadgenSetupFailed, "LOADGEN-SETUP-FAILED", "LOADGEN-SETUP-FAILED")                        \
  X(kPopulationUnreadable, "POPULATION-UNREADABLE", "POPULATION-UNREADABLE")                    \
  X(kPopulationInvalid, "POPULATION-INVALID", "POPULATION-INVALID")                             \
  /* messages of the log: decoding, dead-letter reasons */                                      \
  X(kUndecodable, "UNDECODABLE", "UNDECODABLE")                                                 \
  X(kOversized, "OVERSIZED", "OVERSIZED")                                                       \
  X(kTruncated, "TRUNCATED", "TRUNCATED")                                                       \
  X(kMissingField, "MISSING-FIELD", "MISSING_FIELD")                                            \
  X(kInvalidField, "INVALID-FIELD", "INVALID_FIELD")                                            \
  X(kInvalidJson, "INVALID-JSON", "INVALID_JSON")                                               \
  X(kTooManyLines, "TOO-MANY-LINES", "TOO_MANY_LINES")                                          \
  X(kUnknownKey, "UNKNOWN-KEY", "UNKNOWN_KEY")                                                  \
  X(kAccountMismatch, "ACCOUNT-MISMATCH", "ACCOUNT_MISMATCH")                                   \
  X(kFutureTimestamp, "FUTURE-TIMESTAMP", "FUTURE_TIMESTAMP")                                   \
  X(kNotALifecycleOp, "NOT-A-LIFECYCLE-OP", "NOT-A-LIFECYCLE-OP")                               \
  X(kUnitsTooLarge, "UNITS-TOO-LARGE", "UNITS_TOO_LARGE")                                       \
  X(kTooLate, "TOO-LATE", "TOO_LATE")                                                           \
  /* the projector's outcomes of lifecycle ops (seeds 000-002) */                               \
  X(kNoSuchAccount, "NO-SUCH-ACCOUNT", "NO-SUCH-ACCOUNT")                                       \
  X(kDuplicateAccount, "DUPLICATE-ACCOUNT", "DUPLICATE-ACCOUNT")                                \
  X(kNoSuchApiKey, "NO-SUCH-API-KEY", "NO-SUCH-API-KEY")                                        \
  X(kMalformedKeyId, "MALFORMED-KEY-ID", "MALFORMED-KEY-ID")                                    \
  X(kDuplicateKeyId, "DUPLICATE-KEY-ID", "DUPLICATE-KEY-ID")                                    \
  X(kKeyIdExhausted, "KEY-ID-EXHAUSTED", "KEY-ID-EXHAUSTED")                                    \
  X(kKeyDeleted, "KEY-DELETED", "KEY-DELETED")                                                  \
  X(kKeyHasChildren, "KEY-HAS-CHILDREN", "KEY-HAS-CHILDREN")                                    \
  X(kInvalidStatusTransition, "INVALID-STATUS-TRANSITION", "INVALID-STATUS-TRANSITION")         \
  X(kIncorrectToken, "INCORRECT-TOKEN", "INCORRECT-TOKEN")                                      \
  X(kInvalidParentApiKey, "INVALID-PARENT-API-KEY", "INVALID-PARENT-API-KEY")                   \
  X(kUnableToSetParentApiKey, "UNABLE-TO-SET-PARENT-API-KEY", "UNABLE-TO-SET-PARENT-API-KEY")   \
  X(kUnableToChangeNotOwnApiKey, "UNABLE-TO-CHANGE-NOT-OWN-API-KEY",                            \
    "UNABLE-TO-CHANGE-NOT-OWN-API-KEY")                                                         \
  X(kNotARootKey, "NOT-A-ROOT-KEY", "NOT-A-ROOT-KEY")                                           \
  X(kNotAChildKey, "NOT-A-CHILD-KEY", "NOT-A-CHILD-KEY")                                        \
  X(kConfigInheritedFromParent, "CONFIG-INHERITED-FROM-PARENT", "CONFIG-INHERITED-FROM-PARENT") \
  X(kConfigTooLarge, "CONFIG-TOO-LARGE", "CONFIG-TOO-LARGE")                                    \
  X(kTooManySources, "TOO-MANY-SOURCES", "TOO-MANY-SOURCES")                                    \
  X(kInvalidCidr, "INVALID-CIDR", "INVALID-CIDR")                                               \
  X(kInvalidDomain, "INVALID-DOMAIN", "INVALID-DOMAIN")                                         \
  X(kDuplicateGateway, "DUPLICATE-GATEWAY", "DUPLICATE-GATEWAY")                                \
  X(kNoSuchGateway, "NO-SUCH-GATEWAY", "NO-SUCH-GATEWAY")                                       \
  X(kDuplicateMember, "DUPLICATE-MEMBER", "DUPLICATE-MEMBER")                                   \
  /* forms (n1ed's endpoint) */                                                                 \
  X(kMalformedForm, "MALFORMED-FORM", "MALFORMED-FORM")                                         \
  X(kDuplicateField, "DUPLICATE-FIELD", "DUPLICATE-FIELD")                                      \
  X(kFormTooLarge, "FORM-TOO-LARGE", "FORM-TOO-LARGE")                                          \
  /* HTTP: the server, the router, credentials, request checks */                               \
  X(kBadRequest, "BAD_REQUEST", "BAD_REQUEST")                                                  \
  X(kHeadersTooLarge, "HEADERS_TOO_LARGE", "HEADERS_TOO_LARGE")                                 \
  X(kBodyTooLarge, "BODY_TOO_LARGE", "BODY_TOO_LARGE")                                          \
  X(kTooManyConnections, "TOO_MANY_CONNECTIONS", "TOO_MANY_CONNECTIONS")                        \
  X(kInternal, "INTERNAL", "INTERNAL")                                                          \
  X(kNotFoundRoute, "NOT_FOUND_ROUTE", "NOT_FOUND_ROUTE")                                       \
  X(kMethodNotAllowed, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED")                              \
  X(kUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "UNSUPPORTED_MEDIA_TYPE")                  \
  X(kUnauthorized, "UNAUTHORIZED", "UNAUTHORIZED")                                              \
  X(kForbidden, "FORBIDDEN", "FORBIDDEN")                                                       \
  X(kTooManyAttempts, "TOO-MANY-ATTEMPTS", "TOO_MANY_ATTEMPTS")                                 \
  X(kInvalidUnits, "INVALID_UNITS", "INVALID_UNITS")                                            \
  X(kNotARequestEvent, "NOT_A_REQUEST_EVENT", "NOT_A_REQUEST_EVENT")                            \
  X(kMoved, "MOVED", "MOVED")                                                                   \
  /* authorize's reasons (engine/authorizer.h); NOT_FOUND is also the API's unknown key */      \
  X(kMalformedKey, "MALFORMED_KEY", "MALFORMED_KEY")                                            \
  X(kNotFound, "NOT_FOUND", "NOT_FOUND")                                                        \
  X(kPendingConfirmation, "PENDING_CONFIRMATION", "PENDING_CONFIRMATION")                       \
  X(kSuspended, "SUSPENDED", "SUSPENDED")                                                       \
  X(kDeleted, "DELETED", "DELETED")                                                             \
  X(kParentSuspended, "PARENT_SUSPENDED", "PARENT_SUSPENDED")                                   \
  X(kAccountSuspended, "ACCOUNT-SUSPENDED", "ACCOUNT_SUSPENDED")                                \
  X(kForbiddenSource, "FORBIDDEN_SOURCE", "FORBIDDEN_SOURCE")                                   \
  X(kForbiddenOrigin, "FORBIDDEN_ORIGIN", "FORBIDDEN_ORIGIN")                                   \
  X(kForbiddenProduct, "FORBIDDEN_PRODUCT", "FORBIDDEN_PRODUCT")                                \
  X(kDailyQuotaExceeded, "DAILY_QUOTA_EXCEEDED", "DAILY_QUOTA_EXCEEDED")                        \
  X(kMonthlyQuotaExceeded, "MONTHLY_QUOTA_EXCEEDED", "MONTHLY_QUOTA_EXCEEDED")                  \
  X(kMemberCapExceeded, "MEMBER_CAP_EXCEEDED", "MEMBER_CAP_EXCEEDED")                           \
  X(kInvalidRequestId, "INVALID_REQUEST_ID", "INVALID_REQUEST_ID")                              \
  X(kReservationsFull, "RESERVATIONS_FULL", "RESERVATIONS_FULL")                               \
  X(kExpired, "EXPIRED", "EXPIRED")                                                             \
  X(kRateLimited, "RATE_LIMITED", "RATE_LIMITED")                                               \
  X(kCreditsExhausted, "CREDITS_EXHAUSTED", "CREDITS_EXHAUSTED")                                \
  /* the projector's, for the limits (a request event of an expired key, a credits op) */       \
  X(kKeyExpired, "KEY-EXPIRED", "KEY-EXPIRED")                                                  \
  X(kInvalidExpiry, "INVALID-EXPIRY", "INVALID-EXPIRY")                                         \
  /* the projector's, for corrections of closed months (UsageAdjusted) */                      \
  X(kMonthNotClosed, "MONTH-NOT-CLOSED", "MONTH-NOT-CLOSED")                                    \
  X(kInvalidAdjustment, "INVALID-ADJUSTMENT", "INVALID-ADJUSTMENT")                            \
  /* the projector's, for a command id sent again with another request (Idempotency-Key) */    \
  X(kIdempotencyKeyReused, "IDEMPOTENCY-KEY-REUSED", "IDEMPOTENCY-KEY-REUSED")              \
  /* the projector's, for alert thresholds (AlertThresholdsSet) */                             \
  X(kInvalidThresholds, "INVALID-THRESHOLDS", "INVALID-THRESHOLDS")                            \
  /* webhooks: the projector's (WebhookCreated, WebhookDeleted) and a delivery's */            \
  X(kInvalidWebhook, "INVALID-WEBHOOK", "INVALID-WEBHOOK")                                      \
  X(kTooManyWebhooks, "TOO-MANY-WEBHOOKS", "TOO-MANY-WEBHOOKS")                                 \
  X(kNoSuchWebhook, "NO-SUCH-WEBHOOK", "NO-SUCH-WEBHOOK")                                       \
  X(kAddressRefused, "ADDRESS-REFUSED", "ADDRESS-REFUSED")                                      \
  X(kHttpStatus, "HTTP-STATUS", "HTTP-STATUS")

enum class Code : uint16_t {
  kOk = 0,
#define KEYMETER_CODE_ENUM(name, log, http) name,
  KEYMETER_CODES(KEYMETER_CODE_ENUM)
#undef KEYMETER_CODE_ENUM
      kCount
};

// The code as the log, the seeds and the CLI spell it ("OK" for kOk).
std::string_view LogName(Code code);
// The code as the HTTP API's error bodies and authorize's answers spell it ("OK" for kOk).
std::string_view HttpName(Code code);
// The code either spelling names; nullopt for text that is no code's.
std::optional<Code> ParseCode(std::string_view text);
// Writes LogName(code) (logs, test failures).
std::ostream& operator<<(std::ostream& out, Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  // Code::kOk when ok().
  Code code() const { return code_; }
  // The code's log spelling: "OK" when ok().
  std::string_view name() const { return LogName(code_); }
  const std::string& message() const { return message_; }
  // "OK", or "<log spelling>: <message>" for logs and the CLI.
  std::string ToString() const { return ok() ? "OK" : std::string(name()) + ": " + message_; }

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or a Status. Reading the value of an error result terminates (a programmer error).
template <class T>
using Result = boost::outcome_v2::result<T, Status, boost::outcome_v2::policy::terminate>;

}  // namespace keymeter
