// log_line.h: every op of the schema, fully populated, written as a line and read back into the
// same envelope (compared field by field through FlatBuffers' own reflection, so a field the
// codec forgets fails here); the error form; what a bad line is told.
#define BOOST_TEST_MODULE log_line_test
#include <boost/test/included/unit_test.hpp>
#include <flatbuffers/minireflect.h>

#include <set>
#include <vector>

#include "consumers/log_line.h"
#include "consumers/decode.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"

namespace keymeter {
namespace {

Digest DigestOf(uint8_t seed) {
  Digest d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + i * 7);
  return d;
}

EnvelopeHeader Header(fb::ActorKind actor = fb::ActorKind::AccountAdmin) {
  return {.command_id = "c0ffee00c0ffee00",
          .time_us = 1'795'600'800'123'456,
          .actor = actor,
          .actor_key_id = actor == fb::ActorKind::Member ? "Mm3mBer1" : "",
          .account_id = "acct-7",
          // An admin's ops carry an idempotent request's digest, the others none: both forms.
          .request_digest = actor == fb::ActorKind::AccountAdmin
                                ? std::optional<Digest>(DigestOf(9))
                                : std::nullopt};
}

// One envelope per op, every field away from its default.
std::vector<std::string> EveryOp() {
  const EnvelopeHeader h = Header();
  RequestFields r;
  for (size_t i = 0; i < r.request_id.size(); ++i) r.request_id[i] = static_cast<uint8_t>(0xA0 + i);
  r.key_id = "Ab3dEf7h";
  r.account_id = "acct-7";
  r.time_us = 1'795'600'800'000'001;
  r.product = "translate \"pro\"\n";
  r.units = 7;
  r.status = 503;
  r.bytes_in = 1ull << 40;
  r.bytes_out = 12;
  r.latency_us = 4'000'000'000u;
  r.client_ip = "2001:db8::1";
  r.gateway_id = "gw-1";
  RequestIdBytes id{};
  id.fill(0x5A);
  return {
      BuildAccountCreated(Header(fb::ActorKind::Operator), "Acme \u00e9", DigestOf(1), true),
      BuildKeyIssued(h, "Ab3dEf7h", DigestOf(2), "ci key", "Par3nt00", fb::KeyStatus::Suspended,
                     1'800'000'000'000'000),
      BuildParentSet(h, "Ab3dEf7h", "Par"),
      BuildKeyRotated(Header(fb::ActorKind::Member), "Mm3mBer1", DigestOf(3), 1'795'600'900'000'000),
      BuildStatusOp(h, fb::Op::KeySuspended, "Ab3dEf7h"),
      BuildStatusOp(h, fb::Op::KeyActivated, "Ab3dEf7h"),
      BuildStatusOp(h, fb::Op::KeyConfirmed, "Ab3dEf7h"),
      BuildStatusOp(h, fb::Op::KeyDeleted, "Ab3dEf7h"),
      BuildAllowedSourcesSet(h, "Ab3dEf7h", {"10.0.0.0/8", "2001:db8::/32"}, {"example.com"}),
      BuildConfigSet(h, "Ab3dEf7h", {"translate", "speech"}, {{"tier", "gold"}, {"region", "eu"}}),
      BuildQuotaSet(h, "Ab3dEf7h", 1000, 1'000'000),
      BuildMemberCapSet(h, "Ab3dEf7h", 10, 20),
      BuildAccountConfigSet(h, true),
      BuildRequestEvent(r),
      BuildAdminTokenSet(Header(fb::ActorKind::Operator), nullptr),
      BuildAccountStatusSet(Header(fb::ActorKind::Operator), true),
      BuildGatewayCreated(Header(fb::ActorKind::Operator), "gw-2", "edge", DigestOf(4)),
      BuildGatewayRevoked(Header(fb::ActorKind::Operator), "gw-2"),
      BuildRateLimitSet(h, "Ab3dEf7h", {.per_second = 1, .per_minute = 2, .per_hour = 3}),
      BuildKeyExpirySet(h, "Ab3dEf7h", -5),
      BuildCreditsAdded(h, "Ab3dEf7h", -40, "refund"),
      BuildCreditsConfigSet(h, "Ab3dEf7h", true, 500, fb::RefillPeriod::Month, true),
      BuildDeadLetterRedriven(Header(fb::ActorKind::Operator), 3, 1234, "FUTURE-TIMESTAMP",
                              "RequestEvent", "Ab3dEf7h", id),
      BuildUsageAdjusted(h, "Ab3dEf7h", 1'793'491'200'000'000, -3, 250, "outage credit"),
      BuildAlertThresholdsSet(h, "Ab3dEf7h", {50, 80, 100}),
      BuildWebhookCreated(h, "wh_1", "https://hooks.example/k?x=1", {"threshold.crossed"}),
      BuildWebhookDeleted(h, "wh_1"),
      BuildWebhookAttempted(h, {.webhook_id = "wh_1", .alert_id = "alert_9", .alert_time_us = 7,
                                .attempt = 3, .status = 503, .error = "HTTP-STATUS",
                                .delivered = false, .next_attempt_us = 9}),
      BuildAlertsPublished(h, {{"alert_9", 7}, {"alert_8", 6}}),
  };
}

// Every field of the envelope in `bytes` as FlatBuffers' reflection prints it.
std::string Reflected(const std::string& bytes) {
  return flatbuffers::FlatBufferToString(reinterpret_cast<const uint8_t*>(bytes.data()),
                                         fb::EnvelopeTypeTable());
}

// `s` copied to an 8-byte aligned buffer, as the sources hand payloads out.
struct Aligned {
  explicit Aligned(const std::string& s) : words((s.size() + 7) / 8) {
    std::memcpy(words.data(), s.data(), s.size());
    size = s.size();
  }
  std::span<const uint8_t> span() const {
    return {reinterpret_cast<const uint8_t*>(words.data()), size};
  }
  std::vector<uint64_t> words;
  size_t size = 0;
};

BOOST_AUTO_TEST_CASE(every_op_round_trips_field_for_field) {
  const std::vector<std::string> ops = EveryOp();
  std::set<fb::Op> seen;
  LogLineParser parser;
  int64_t offset = 40;
  for (const std::string& original : ops) {
    const Aligned payload(original);
    const std::string line = EncodeLogLine(
        {.partition = 2, .offset = offset, .log_time_us = 1'795'600'801'000'000,
         .payload = payload.span()});
    BOOST_TEST_CONTEXT(line) {
      BOOST_TEST(IsLogLine(line));
      BOOST_TEST(line.find('\n') == std::string::npos);
      Result<LogLine> back = parser.Parse(line);
      if (!back) BOOST_FAIL(back.error().ToString());
      BOOST_TEST(back.value().partition == 2);
      BOOST_TEST(back.value().offset == offset);
      BOOST_TEST(back.value().log_time_us == 1'795'600'801'000'000);
      BOOST_TEST(back.value().error.ok());
      BOOST_TEST(Reflected(back.value().envelope) == Reflected(original));
      const Aligned rebuilt(back.value().envelope);
      BOOST_TEST(DecodeEnvelope(rebuilt.span()).ok() == DecodeEnvelope(payload.span()).ok());
      seen.insert(VerifyEnvelope(payload.span())->op_type());
    }
    ++offset;
  }
  // Every op of the schema is in EveryOp().
  BOOST_TEST(seen.size() == static_cast<size_t>(fb::Op::MAX));
}

BOOST_AUTO_TEST_CASE(a_line_is_readable_json_with_hex_digests_and_names) {
  const std::string issued = BuildKeyIssued(Header(), "Ab3dEf7h", DigestOf(2), "ci", "",
                                            fb::KeyStatus::Active);
  const Aligned payload(issued);
  const std::string line = EncodeLogLine({.partition = 1, .offset = 9, .payload = payload.span()});
  BOOST_TEST(line.starts_with("{\"partition\":1,\"offset\":9,\"log_time\":\"1970-01-01T00:00:00.000000Z\""));
  BOOST_TEST(line.find("\"time\":\"2026-11-25T10:00:00.123456Z\"") != std::string::npos, line);
  BOOST_TEST(line.find("\"actor\":{\"kind\":\"AccountAdmin\",\"key_id\":\"\"}") != std::string::npos);
  BOOST_TEST(line.find("\"op\":\"KeyIssued\",\"data\":{\"key_id\":\"Ab3dEf7h\",\"secret_hash\":\"" +
                       ToHex(DigestOf(2)) + "\"") != std::string::npos, line);
  BOOST_TEST(line.find("\"status\":\"Active\"") != std::string::npos);
  // An absent digest is null (a revoked admin token).
  const Aligned revoked(BuildAdminTokenSet(Header(fb::ActorKind::Operator), nullptr));
  BOOST_TEST(EncodeLogLine({.payload = revoked.span()}).find("\"data\":{\"admin_token_hash\":null}") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_request_id_is_written_as_a_uuid_and_read_in_either_spelling) {
  RequestFields r;
  for (size_t i = 0; i < r.request_id.size(); ++i) r.request_id[i] = static_cast<uint8_t>(0xA0 + i);
  r.key_id = "Ab3dEf7h";
  r.account_id = "acct-7";
  const std::string event = BuildRequestEvent(r);
  const Aligned payload(event);
  const std::string line = EncodeLogLine({.payload = payload.span()});
  // As the request log, its exports and the dead letters spell it.
  BOOST_TEST(line.find("\"request_id\":\"a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf\"") !=
                 std::string::npos,
             line);
  LogLineParser parser;
  for (std::string_view spelled :
       {"a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"}) {
    Result<LogLine> back = parser.Parse(
        "{\"partition\":0,\"account_id\":\"acct-7\",\"op\":\"RequestEvent\",\"data\":"
        "{\"key_id\":\"Ab3dEf7h\",\"request_id\":\"" + std::string(spelled) + "\"}}");
    BOOST_REQUIRE_MESSAGE(back.has_value(), spelled);
    const Aligned e(back.value().envelope);
    const fb::Envelope* env = VerifyEnvelope(e.span());
    BOOST_REQUIRE(env != nullptr);
    const fb::RequestId* id = env->op_as_RequestEvent()->request_id();
    BOOST_REQUIRE(id != nullptr);
    BOOST_TEST(std::equal(r.request_id.begin(), r.request_id.end(), id->bytes()->begin()));
  }
  Result<LogLine> bad = parser.Parse(
      "{\"partition\":0,\"op\":\"RequestEvent\",\"data\":{\"request_id\":\"a0a1-not-an-id\"}}");
  BOOST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().code() == Code::kInvalidField);
}

BOOST_AUTO_TEST_CASE(a_message_that_does_not_decode_gets_the_error_form) {
  const std::string junk = "not an envelope at all, just bytes";
  const Aligned payload(junk);
  const std::string line = EncodeLogLine({.partition = 0, .offset = 3, .payload = payload.span()});
  BOOST_TEST(line.find("\"error\":{\"code\":\"UNDECODABLE\"") != std::string::npos, line);
  BOOST_TEST(line.find("just bytes") == std::string::npos);  // the bytes are not kept
  LogLineParser parser;
  Result<LogLine> back = parser.Parse(line);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back.value().envelope.empty());
  BOOST_TEST(back.value().error.code() == Code::kUndecodable);
}

BOOST_AUTO_TEST_CASE(bad_lines_are_told_what_is_wrong) {
  LogLineParser parser;
  auto code_of = [&](std::string_view line) {
    Result<LogLine> r = parser.Parse(line);
    return r ? Code::kOk : r.error().code();
  };
  BOOST_TEST(code_of("{\"partition\":0,") == Code::kInvalidJson);
  BOOST_TEST(code_of("[1]") == Code::kInvalidJson);
  BOOST_TEST(code_of("{\"partition\":0,\"data\":{}}") == Code::kMissingField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"KeyIssued\"}") == Code::kMissingField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"Nope\",\"data\":{}}") == Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":\"x\",\"op\":\"KeyDeleted\",\"data\":{}}") ==
             Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"KeyIssued\",\"data\":{\"secret_hash\":\"ab\"}}") ==
             Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"KeyIssued\",\"data\":{\"status\":\"Gone\"}}") ==
             Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"RequestEvent\",\"data\":{\"units\":-1}}") ==
             Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":0,\"op\":\"RequestEvent\",\"data\":{\"status\":70000}}") ==
             Code::kInvalidField);
  BOOST_TEST(code_of("{\"partition\":0,\"actor\":{\"kind\":\"Root\"},\"op\":\"KeyDeleted\","
                     "\"data\":{}}") == Code::kInvalidField);
  // A hand-written line: RFC 3339 time, fields left out keep their defaults.
  Result<LogLine> r = parser.Parse(
      "{\"partition\":1,\"offset\":2,\"time\":\"2026-11-25T10:00:00Z\",\"account_id\":\"a\","
      "\"op\":\"RequestEvent\",\"data\":{\"key_id\":\"Ab3dEf7h\"}}");
  BOOST_REQUIRE(r.has_value());
  const Aligned e(r.value().envelope);
  const fb::Envelope* env = VerifyEnvelope(e.span());
  BOOST_REQUIRE(env != nullptr);
  BOOST_TEST(env->time_us() == 1'795'600'800'000'000);
  BOOST_TEST(env->op_as_RequestEvent()->units() == 1u);
  BOOST_TEST(parser.Parse(std::string(2 << 20, ' ')).error().code() == Code::kOversized);
}

}  // namespace
}  // namespace keymeter
