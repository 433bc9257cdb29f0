// The operator's ops in KeyDirectory::Apply (projections/key_ops_accounts.cc): gateways created
// and revoked, admin tokens replaced and revoked, accounts suspended and activated — who may send
// them, what they change, that a suspended account refuses everything but the operator, that
// the directory's credentials version moves with each, and that a reopened store holds the same.
#define BOOST_TEST_MODULE key_ops_accounts
#include <boost/test/unit_test.hpp>
#include <string>

#include "schemas/envelope.h"
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

BOOST_AUTO_TEST_SUITE_END()
