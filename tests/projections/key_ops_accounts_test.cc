// The operator's ops in KeyDirectory::Apply (projections/key_ops_accounts.cc): gateways created
// and revoked, admin tokens replaced and revoked, accounts suspended and activated — who may send
// them, what they change, that a suspended account refuses everything but the operator, that
// the directory's credentials version moves with each, and that a reopened store holds the same.
#define BOOST_TEST_MODULE key_ops_accounts
#include <boost/test/unit_test.hpp>
#include <string>

#include "schemas/envelope.h"
#include "projections/adjustments.h"
#include "tests/projections/key_ops_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

const std::string kGateways(kGatewaysAccount);

}  // namespace

BOOST_FIXTURE_TEST_SUITE(key_ops_accounts, KeyOpsFixture)

BOOST_AUTO_TEST_CASE(gateways_are_the_operators_and_are_revoked_for_good) {
  const EnvelopeHeader op = As(fb::ActorKind::Operator, kGateways);
  const uint64_t v0 = directory->credentials_version();
  BOOST_TEST(Outcome(BuildGatewayCreated(Admin(kGateways), "gwA", "a", Sha256("ta"))) ==
             "FORBIDDEN");
  BOOST_TEST(directory->FindGateway("gwA") == nullptr);
  BOOST_TEST(directory->credentials_version() == v0);
  BOOST_TEST(Outcome(BuildGatewayCreated(op, "gwA", "edge", Sha256("ta"))) == "OK");
  BOOST_TEST(directory->credentials_version() > v0);
  BOOST_TEST(Outcome(BuildGatewayCreated(op, "gwA", "again", Sha256("tb"))) == "DUPLICATE-GATEWAY");
  const GatewayState* g = directory->FindGateway("gwA");
  BOOST_REQUIRE(g != nullptr);
  BOOST_TEST(g->name == "edge");
  BOOST_TEST((g->token_hash == Sha256("ta")));
  BOOST_TEST(!g->revoked());
  BOOST_TEST(Outcome(BuildGatewayRevoked(op, "gwNone")) == "NO-SUCH-GATEWAY");
  BOOST_TEST(Outcome(BuildGatewayRevoked(op, "gwA")) == "OK");
  BOOST_TEST(directory->FindGateway("gwA")->revoked());
  BOOST_TEST(Outcome(BuildGatewayRevoked(op, "gwA")) == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(Outcome(BuildGatewayCreated(op, "gwB", "second", Sha256("tc"))) == "OK");
  Reopen();
  BOOST_REQUIRE(directory->Gateways().size() == 2u);
  BOOST_TEST(directory->Gateways()[0]->gateway_id == "gwA");
  BOOST_TEST(directory->Gateways()[0]->revoked());
  BOOST_TEST(!directory->Gateways()[1]->revoked());
  BOOST_TEST(directory->account_count() == 0u);  // "_gateways" is no account
}

BOOST_AUTO_TEST_CASE(admin_tokens_are_replaced_and_revoked_by_the_operator_only) {
  Setup();
  const uint64_t v0 = directory->credentials_version();
  const Digest fresh = Sha256("fresh");
  BOOST_TEST(Outcome(BuildAdminTokenSet(A(), &fresh)) == "FORBIDDEN");
  BOOST_TEST((directory->FindAccount(kAcct)->admin_token_hash == Sha256(kAcct)));
  BOOST_TEST(Outcome(BuildAdminTokenSet(As(fb::ActorKind::Operator, kAcct), &fresh)) == "OK");
  BOOST_TEST((directory->FindAccount(kAcct)->admin_token_hash == fresh));
  BOOST_TEST(directory->credentials_version() > v0);
  BOOST_TEST(Outcome(BuildAdminTokenSet(As(fb::ActorKind::Operator, kAcct), nullptr)) == "OK");
  BOOST_TEST(directory->FindAccount(kAcct)->admin_token_revoked);
  const std::vector<AuditEntry> history = History(kAcct);
  BOOST_TEST(history[0].detail == "admin token revoked");
  BOOST_TEST(history[1].detail == "admin token replaced");
  BOOST_TEST(history[2].outcome == "FORBIDDEN");
  Reopen();
  BOOST_TEST(directory->FindAccount(kAcct)->admin_token_revoked);
  BOOST_TEST(!directory->FindAccount(kOther)->admin_token_revoked);
}

BOOST_AUTO_TEST_CASE(a_suspended_account_refuses_all_but_the_operator) {
  Setup();
  const EnvelopeHeader op = As(fb::ActorKind::Operator, kAcct);
  BOOST_TEST(Outcome(BuildAccountStatusSet(A(), true)) == "FORBIDDEN");
  BOOST_TEST(Outcome(BuildAccountStatusSet(op, false)) == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(Outcome(BuildAccountStatusSet(op, true)) == "OK");
  BOOST_TEST(directory->FindAccount(kAcct)->suspended);
  BOOST_TEST(Outcome(BuildStatusOp(A(), fb::Op::KeySuspended, "ParentAA")) == "ACCOUNT-SUSPENDED");
  BOOST_TEST(Outcome(BuildKeyIssued(A(), "NewKey01", Sha256("n"), "n", "", fb::KeyStatus::Active)) ==
             "ACCOUNT-SUSPENDED");
  BOOST_TEST(Outcome(BuildStatusOp(As(fb::ActorKind::Member, kAcct, "ChildAA1"),
                                   fb::Op::KeySuspended, "ChildAA1")) == "ACCOUNT-SUSPENDED");
  BOOST_TEST((directory->FindKey(*KeyId::Parse("ParentAA"))->status == fb::KeyStatus::Active));
  // The other account is untouched; the operator still acts on the suspended one.
  BOOST_TEST(Outcome(BuildStatusOp(Admin(kOther), fb::Op::KeySuspended, "Foreign1")) == "OK");
  BOOST_TEST(Outcome(BuildStatusOp(op, fb::Op::KeySuspended, "ParentAA")) == "OK");
  Reopen();
  BOOST_TEST(directory->FindAccount(kAcct)->suspended);
  BOOST_TEST(Outcome(BuildAccountStatusSet(As(fb::ActorKind::Operator, kAcct), false)) == "OK");
  BOOST_TEST(Outcome(BuildStatusOp(A(), fb::Op::KeyActivated, "ParentAA")) == "OK");
  BOOST_TEST(History(kAcct)[1].detail == "account suspended -> active");
}

BOOST_AUTO_TEST_CASE(a_closed_month_takes_corrections_with_a_version) {
  Setup();
  const TimeUs march = DaysFromCivil(2026, 3, 1) * kMicrosPerDay;
  const TimeUs april = DaysFromCivil(2026, 4, 1) * kMicrosPerDay;
  closed_before = april - 1;  // March ends after it: open
  BOOST_TEST(Outcome(BuildUsageAdjusted(A(), "ChildAA1", march, 5, -1, "replay")) ==
             "MONTH-NOT-CLOSED");
  closed_before = april;
  BOOST_TEST(Outcome(BuildUsageAdjusted(A(), "ChildAA1", march + 1, 5, 0, "x")) ==
             "INVALID-ADJUSTMENT");  // not a month start
  BOOST_TEST(Outcome(BuildUsageAdjusted(A(), "ChildAA1", march, 0, 0, "x")) == "INVALID-ADJUSTMENT");
  BOOST_TEST(Outcome(BuildUsageAdjusted(As(fb::ActorKind::Member, kAcct, "ChildAA1"), "ChildAA1",
                                        march, 1, 1, "x")) == "FORBIDDEN");
  BOOST_TEST(Outcome(BuildUsageAdjusted(A(), "Foreign1", march, 1, 1, "x")) ==
             "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(Outcome(BuildUsageAdjusted(A(), "ChildAA1", march, 5, -1, "replay")) == "OK");
  BOOST_TEST(History(kAcct).at(0).detail == "2026-03 version 1: requests 5, units -1 (replay)");
  // A deleted key's past usage may be corrected; the operator corrects any account's key.
  BOOST_TEST(Outcome(BuildUsageAdjusted(As(fb::ActorKind::Operator, kAcct), "Deleted1", march, 0,
                                        7, "goodwill")) == "OK");
  BOOST_TEST(directory->FindAccount(kAcct)->MonthVersion(march) == 2u);
  BOOST_TEST(directory->FindAccount(kAcct)->MonthVersion(april) == 0u);
  Reopen();  // the versions are the account's, stored with it
  BOOST_TEST(directory->FindAccount(kAcct)->MonthVersion(march) == 2u);
  const std::vector<Adjustment> kept =
      ReadAdjustments(store->db(), store->cfs()[Cf::kAdjustments], kAcct, march).value();
  BOOST_REQUIRE_EQUAL(kept.size(), 2u);
  BOOST_TEST(kept[0].version == 1u);
  BOOST_TEST(kept[0].key_id == "ChildAA1");
  BOOST_TEST(kept[0].units == -1);
  BOOST_TEST(kept[1].key_id == "Deleted1");
  BOOST_TEST((kept[1].actor_kind == fb::ActorKind::Operator));
  const auto sums = SumByKey(kept);
  BOOST_TEST(sums.at("ChildAA1").requests == 5);
  BOOST_TEST(sums.at("Deleted1").units == 7);
}

BOOST_AUTO_TEST_SUITE_END()
