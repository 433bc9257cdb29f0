// A Pipeline on a temp dir (embedded log) with helpers to set up accounts and keys and to send
// request events the way the admin API and gateways would: envelopes from
// schemas/envelope_builder.h, published, and awaited (ops by their outcome, requests by a
// barrier op behind them on the same partition). Engine adds an Authorizer whose Reservations
// are hooked into the projector, as `keymeter serve` wires them.
#pragma once

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "engine/authorizer.h"
#include "engine/pipeline.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "schemas/clock.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"
#include "tests/common/temp_dir.h"

namespace keymeter::testing {

using namespace std::chrono_literals;

// 16 random bytes, as a gateway's request id; ToHex() gives its 32-digit text.
inline std::array<uint8_t, 16> RandomRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::array<uint8_t, 16> id{};
  for (uint8_t& b : id) b = uint8_t(rng());
  return id;
}

// Publishes setup ops and traffic into `pipeline` (started) and waits until they are applied.
class Seeder {
 public:
  explicit Seeder(Pipeline& pipeline) : pipeline_(pipeline) {}

  EnvelopeHeader Header(const std::string& account) {
    return EnvelopeHeader{.command_id = "seed-" + std::to_string(++seq_),
                          .time_us = NowUs(),
                          .actor = fb::ActorKind::AccountAdmin,
                          .account_id = account};
  }

  // Publishes an op built with Header(account) and returns its outcome code ("OK", ...).
  std::string Op(const std::string& account, const std::string& envelope,
                 const std::string& command_id) {
    BOOST_REQUIRE(pipeline_.Publish(Bytes(envelope), account).ok());
    std::optional<Status> outcome = pipeline_.AwaitOutcome(command_id, 10s);
    BOOST_REQUIRE_MESSAGE(outcome.has_value(), "no outcome for " << command_id);
    return std::string(outcome->name());
  }

  // Each of these requires the op to be accepted.
  void Account(const std::string& account, bool require_confirmation = false) {
    EnvelopeHeader h = Header(account);
    h.actor = fb::ActorKind::Operator;
    Require(account, BuildAccountCreated(h, account, Sha256("t"), require_confirmation), h);
  }
  // Issues key `id` (8 characters) and returns the full 24-character key.
  std::string Key(const std::string& account, const std::string& id, const std::string& parent = "",
                  fb::KeyStatus status = fb::KeyStatus::Active) {
    const std::string key = id + RandomKeyChars(16);
    EnvelopeHeader h = Header(account);
    Require(account, BuildKeyIssued(h, id, Sha256(key), "label " + id, parent, status), h);
    return key;
  }
  void SetStatus(const std::string& account, fb::Op op, const std::string& id) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildStatusOp(h, op, id), h);
  }
  void Quota(const std::string& account, const std::string& id, uint64_t daily, uint64_t monthly) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildQuotaSet(h, id, daily, monthly), h);
  }
  void Cap(const std::string& account, const std::string& id, uint64_t daily,
           uint64_t monthly = 0) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildMemberCapSet(h, id, daily, monthly), h);
  }
  void Rate(const std::string& account, const std::string& id, const RateLimits& limits) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildRateLimitSet(h, id, limits), h);
  }
  void Expiry(const std::string& account, const std::string& id, TimeUs at) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildKeyExpirySet(h, id, at), h);
  }
  // Ops at event time `at` (refills count from the op's time).
  void Credits(const std::string& account, const std::string& id, int64_t units,
               TimeUs at = NowUs()) {
    EnvelopeHeader h = Header(account);
    h.time_us = at;
    Require(account, BuildCreditsAdded(h, id, units, "test"), h);
  }
  void Refill(const std::string& account, const std::string& id, uint64_t units,
              fb::RefillPeriod period, bool rollover, TimeUs at = NowUs(), bool enabled = true) {
    EnvelopeHeader h = Header(account);
    h.time_us = at;
    Require(account, BuildCreditsConfigSet(h, id, enabled, units, period, rollover), h);
  }
  void Products(const std::string& account, const std::string& id,
                const std::vector<std::string>& products) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildConfigSet(h, id, products, {}), h);
  }
  void Sources(const std::string& account, const std::string& id,
               const std::vector<std::string>& ips, const std::vector<std::string>& domains = {}) {
    EnvelopeHeader h = Header(account);
    Require(account, BuildAllowedSourcesSet(h, id, ips, domains), h);
  }
  // Creates gateway `gateway_id` (as the operator would) and returns its token.
  std::string Gateway(const std::string& gateway_id) {
    const std::string token = "kmg_" + RandomKeyChars(40);
    const std::string account(kGatewaysAccount);
    EnvelopeHeader h = Header(account);
    h.actor = fb::ActorKind::Operator;
    Require(account, BuildGatewayCreated(h, gateway_id, "gateway " + gateway_id, Sha256(token)),
            h);
    return token;
  }
  // Rotates `id` to a new secret; the old one works until `grace_until_us` (0: revoked).
  std::string Rotate(const std::string& account, const std::string& id, TimeUs grace_until_us) {
    const std::string key = id + RandomKeyChars(16);
    EnvelopeHeader h = Header(account);
    Require(account, BuildKeyRotated(h, id, Sha256(key), grace_until_us), h);
    return key;
  }

  // Publishes one request event of `key_id` now; returns its request id.
  std::array<uint8_t, 16> Request(const std::string& account, const std::string& key_id,
                                  uint32_t units = 1,
                                  std::array<uint8_t, 16> request_id = RandomRequestId(),
                                  TimeUs at = 0) {
    RequestFields r{.request_id = request_id,
                    .key_id = key_id,
                    .account_id = account,
                    .time_us = at != 0 ? at : NowUs(),
                    .units = units};
    BOOST_REQUIRE(pipeline_.Publish(Bytes(BuildRequestEvent(r)), account).ok());
    return request_id;
  }

  // Returns once everything published for `account` before it is applied: an op on the same
  // partition, after them in the log, has its outcome.
  void Barrier(const std::string& account) {
    EnvelopeHeader h = Header(account);
    BOOST_REQUIRE(Op(account, BuildStatusOp(h, fb::Op::KeySuspended, "NoSuchK1"), h.command_id) ==
                  "NO-SUCH-API-KEY");
  }

 private:
  static std::span<const uint8_t> Bytes(const std::string& s) {
    return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  void Require(const std::string& account, const std::string& envelope, const EnvelopeHeader& h) {
    const std::string code = Op(account, envelope, h.command_id);
    BOOST_REQUIRE_MESSAGE(code == "OK", h.command_id << ": " << code);
  }

  Pipeline& pipeline_;
  int seq_ = 0;
};

inline std::unique_ptr<Pipeline> OpenPipeline(const std::string& dir) {
  Result<std::unique_ptr<Pipeline>> opened = Pipeline::Open({.data_dir = dir});
  BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().ToString()));
  return std::move(opened.value());
}

// An engine with an authorizer, its reservations hooked into the projector. Members are
// destroyed in reverse: the pipeline (and its projector thread) before the reservations.
struct Engine {
  explicit Engine(ReservationOptions reservation_options = {})
      : reservations(reservation_options),
        pipeline(OpenPipeline(tmp.sub("db"))),
        authorizer(pipeline->projector().state_mutex(), pipeline->directory(), pipeline->quota(),
                   reservations),
        seed(*pipeline) {
    pipeline->projector().set_request_listener(
        [this](KeyId root, KeyId key, const RequestIdBytes& id) {
          reservations.OnRequestApplied(root, key, id);
        });
    pipeline->Start();
  }

  AuthorizeResult Ask(std::string_view key, TimeUs now = NowUs(), std::string_view ip = "",
                      std::string_view product = "", uint32_t units = 1) {
    return authorizer.Authorize({.key = key, .ip = ip, .product = product, .units = units}, now);
  }
  AuthorizeResult Reserve(std::string_view key, const std::string& request_id, TimeUs now,
                          uint32_t units = 1) {
    return authorizer.Authorize(
        {.key = key, .units = units, .reserve = true, .request_id = request_id}, now);
  }

  TempDir tmp;
  Reservations reservations;
  std::unique_ptr<Pipeline> pipeline;
  Authorizer authorizer;
  Seeder seed;
};

}  // namespace keymeter::testing
