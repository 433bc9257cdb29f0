// DecodeEnvelope: every reason, and no crash on random, truncated, mutated or huge input.
#define BOOST_TEST_MODULE decode_test
#include "consumers/decode.h"

#include <boost/test/unit_test.hpp>
#include <random>
#include <vector>

#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"
#include "tests/consumers/envelope_fixture.h"

namespace keymeter {
namespace {

using testing::Bytes;
using testing::MakeRequest;

Decoded DecodeString(const std::string& s, size_t max = kMaxEnvelopeBytes) {
  return DecodeEnvelope(Bytes(s), max);
}

EnvelopeHeader Header(const std::string& account = "acct1") {
  EnvelopeHeader h;
  h.time_us = 1'790'000'000'000'000;
  h.account_id = account;
  return h;
}

// An envelope with a raw op type and table, for what the builders refuse to make.
std::string RawEnvelope(fb::Op type, bool with_table, const char* account = "acct1") {
  flatbuffers::FlatBufferBuilder b;
  flatbuffers::Offset<void> op;
  if (with_table) op = fb::CreateKeySuspendedDirect(b, "Ab3dEf7h").Union();
  auto actor = fb::CreateActorDirect(b, fb::ActorKind::System);
  auto e = fb::CreateEnvelopeDirect(b, nullptr, 1, actor, account, type, op);
  b.Finish(e, fb::EnvelopeIdentifier());
  return {reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()};
}

BOOST_AUTO_TEST_CASE(valid_envelopes_decode) {
  const std::string request = BuildRequestEvent(MakeRequest(1, 1));
  Decoded d = DecodeString(request);
  BOOST_CHECK_MESSAGE(d.ok(), d.reason << " " << d.detail);
  BOOST_REQUIRE(d.envelope != nullptr);
  BOOST_CHECK(d.envelope->op_type() == fb::Op::RequestEvent);
  Digest hash{};
  for (const std::string& op :
       {BuildKeyIssued(Header(), "Ab3dEf7h", hash, "dev", "", fb::KeyStatus::Pending),
        BuildStatusOp(Header(), fb::Op::KeyDeleted, "Ab3dEf7h"),
        BuildQuotaSet(Header(), "Ab3dEf7h", 10, 20),
        BuildAccountCreated(Header(), "Acme", hash, false),
        BuildAccountConfigSet(Header(), true), BuildAdminTokenSet(Header(), nullptr),
        BuildAccountStatusSet(Header(), true),
        BuildGatewayCreated(Header(std::string(kGatewaysAccount)), "gw1", "edge", hash),
        BuildGatewayRevoked(Header(std::string(kGatewaysAccount)), "gw1")}) {
    Decoded k = DecodeString(op);
    BOOST_CHECK_MESSAGE(k.ok(), k.reason << " " << k.detail);
  }
}

BOOST_AUTO_TEST_CASE(oversized_and_undecodable) {
  const std::string request = BuildRequestEvent(MakeRequest(1, 1));
  Decoded big = DecodeString(request, request.size() - 1);
  BOOST_CHECK_EQUAL(LogName(big.reason), "OVERSIZED");
  BOOST_CHECK(big.envelope == nullptr);
  BOOST_CHECK_EQUAL(LogName(DecodeString("").reason), "UNDECODABLE");
  BOOST_CHECK_EQUAL(LogName(DecodeString("hello, world, this is not a flatbuffer").reason),
                    "UNDECODABLE");
  std::string wrong_id = request;
  wrong_id[4] = 'X';  // file identifier "KMEV" -> "XMEV"
  BOOST_CHECK_EQUAL(LogName(DecodeString(wrong_id).reason), "UNDECODABLE");
  Decoded none = DecodeString(RawEnvelope(fb::Op::NONE, false));
  BOOST_CHECK_EQUAL(LogName(none.reason), "UNDECODABLE");
  BOOST_CHECK_EQUAL(none.detail, "op NONE");
  Decoded unknown = DecodeString(RawEnvelope(static_cast<fb::Op>(200), true));
  BOOST_CHECK_EQUAL(LogName(unknown.reason), "UNDECODABLE");
  BOOST_CHECK_EQUAL(unknown.detail, "unknown op type 200");
  Decoded no_table = DecodeString(RawEnvelope(fb::Op::KeySuspended, false));
  BOOST_CHECK_EQUAL(LogName(no_table.reason), "UNDECODABLE");
}

BOOST_AUTO_TEST_CASE(missing_fields) {
  auto reason_of = [](const RequestFields& r) {
    Decoded d = DecodeString(BuildRequestEvent(r));
    return std::string(LogName(d.reason)) + ":" + d.detail;
  };
  RequestFields r = MakeRequest(1, 1);
  r.account_id.clear();
  BOOST_CHECK_EQUAL(reason_of(r), "MISSING-FIELD:account_id");
  // A whole key as key_id would put its secret in the log; other lengths and characters fail too.
  for (const std::string bad : {"Ab3dEf7hSecretSecret0123", "Ab3dEf7", "Ab3dEf7h9", "Ab3d-f7h"}) {
    r = MakeRequest(1, 1);
    r.key_id = bad;
    const Decoded d = DecodeString(BuildRequestEvent(r));
    BOOST_CHECK_EQUAL(LogName(d.reason), "MALFORMED-KEY-ID");
    BOOST_CHECK(d.detail.find(bad) == std::string::npos);
  }
  r = MakeRequest(1, 1);
  r.key_id.clear();
  BOOST_CHECK_EQUAL(reason_of(r), "MISSING-FIELD:key_id");
  r = MakeRequest(1, 1);
  r.time_us = 0;
  BOOST_CHECK_EQUAL(reason_of(r), "MISSING-FIELD:time_us");
  r.time_us = -5;
  BOOST_CHECK_EQUAL(reason_of(r), "MISSING-FIELD:time_us");

  // request_id absent: built by hand, the builder always sets it.
  flatbuffers::FlatBufferBuilder b;
  auto op = fb::CreateRequestEventDirect(b, nullptr, "Ab3dEf7h", "acct1", 5);
  auto actor = fb::CreateActorDirect(b, fb::ActorKind::System);
  b.Finish(
      fb::CreateEnvelopeDirect(b, nullptr, 5, actor, "acct1", fb::Op::RequestEvent, op.Union()),
      fb::EnvelopeIdentifier());
  Decoded no_id = DecodeEnvelope({b.GetBufferPointer(), b.GetSize()});
  BOOST_CHECK_EQUAL(LogName(no_id.reason), "MISSING-FIELD");
  BOOST_CHECK_EQUAL(no_id.detail, "request_id");
  BOOST_CHECK(no_id.envelope != nullptr);  // verified, so the DLQ can name the op

  Decoded key_op = DecodeString(BuildStatusOp(Header(), fb::Op::KeySuspended, ""));
  BOOST_CHECK_EQUAL(std::string(LogName(key_op.reason)) + ":" + key_op.detail,
                    "MISSING-FIELD:key_id");
  Decoded parent = DecodeString(BuildParentSet(Header(), "", "Zz9yXw8v"));
  BOOST_CHECK_EQUAL(std::string(LogName(parent.reason)) + ":" + parent.detail,
                    "MISSING-FIELD:key_id");
  Decoded no_account = DecodeString(BuildStatusOp(Header(""), fb::Op::KeyDeleted, "Ab3dEf7h"));
  BOOST_CHECK_EQUAL(std::string(LogName(no_account.reason)) + ":" + no_account.detail,
                    "MISSING-FIELD:account_id");
}

BOOST_AUTO_TEST_CASE(account_mismatch) {
  RequestFields r = MakeRequest(1, 1);
  flatbuffers::FlatBufferBuilder b;
  const fb::RequestId id(flatbuffers::span<const uint8_t, 16>(r.request_id.data(), 16));
  auto op = fb::CreateRequestEventDirect(b, &id, "Ab3dEf7h", "acct-other", 5);
  auto actor = fb::CreateActorDirect(b, fb::ActorKind::System);
  b.Finish(
      fb::CreateEnvelopeDirect(b, nullptr, 5, actor, "acct1", fb::Op::RequestEvent, op.Union()),
      fb::EnvelopeIdentifier());
  Decoded d = DecodeEnvelope({b.GetBufferPointer(), b.GetSize()});
  BOOST_CHECK_EQUAL(LogName(d.reason), "ACCOUNT-MISMATCH");
  BOOST_CHECK(d.envelope != nullptr);
  // Gateway ops belong to "_gateways" only; they need an id (and a token hash to create).
  Digest hash{};
  BOOST_CHECK_EQUAL(LogName(DecodeString(BuildGatewayCreated(Header(), "gw1", "e", hash)).reason),
                    "ACCOUNT-MISMATCH");
  const EnvelopeHeader gateways = Header(std::string(kGatewaysAccount));
  BOOST_CHECK_EQUAL(LogName(DecodeString(BuildGatewayRevoked(gateways, "")).reason),
                    "MISSING-FIELD");
}

BOOST_AUTO_TEST_CASE(random_bytes_never_decode) {
  std::mt19937_64 rng(42);
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes(rng() % 600);
    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng());
    if (i % 2 == 0 && bytes.size() >= 8) {  // give half of them the right identifier
      bytes[4] = 'K', bytes[5] = 'M', bytes[6] = 'E', bytes[7] = 'V';
    }
    Decoded d = DecodeEnvelope(bytes);
    if (d.ok()) BOOST_FAIL("random bytes decoded, case " << i);
    ++rejected;
  }
  BOOST_CHECK_EQUAL(rejected, 20000);
}

BOOST_AUTO_TEST_CASE(truncated_and_mutated_buffers_do_not_crash) {
  const std::string request = BuildRequestEvent(MakeRequest(7, 3));
  // Only the builder's trailing alignment padding (under 8 bytes) may be cut harmlessly.
  for (size_t n = 0; n < request.size(); ++n) {
    Decoded d = DecodeString(request.substr(0, n));
    if (d.ok() && n + 8 <= request.size()) BOOST_FAIL("truncated to " << n << " bytes decoded");
  }
  // Every single-byte mutation either fails cleanly or yields a readable envelope.
  size_t accepted = 0;
  for (size_t i = 0; i < request.size(); ++i) {
    for (int v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string mutated = request;
      mutated[i] = static_cast<char>(v);
      Decoded d = DecodeString(mutated);
      if (!d.ok()) continue;
      ++accepted;
      const fb::RequestEvent* r = d.envelope->op_as_RequestEvent();
      if (r != nullptr) BOOST_CHECK(!r->key_id()->str().empty());
    }
  }
  BOOST_TEST_MESSAGE(accepted << " mutations still decode");
}

BOOST_AUTO_TEST_CASE(ten_megabyte_buffers) {
  std::vector<uint8_t> big(10u << 20);
  std::mt19937 rng(7);
  for (uint8_t& byte : big) byte = static_cast<uint8_t>(rng());
  BOOST_CHECK_EQUAL(LogName(DecodeEnvelope(big).reason), "OVERSIZED");
  BOOST_CHECK_EQUAL(LogName(DecodeEnvelope(big, 16u << 20).reason), "UNDECODABLE");
  // A valid envelope followed by 10 MB of padding verifies when the limit allows it.
  const std::string request = BuildRequestEvent(MakeRequest(1, 1));
  std::copy(request.begin(), request.end(), big.begin());
  BOOST_CHECK(DecodeEnvelope(big, 16u << 20).ok());
  BOOST_CHECK_EQUAL(LogName(DecodeEnvelope(big).reason), "OVERSIZED");
}

}  // namespace
}  // namespace keymeter
