// KeyDirectory::Apply (projections/key_ops*.cc) op by op, beyond key_directory_test: the fields
// each op sets, the refused ops that change nothing but the audit, the full status matrix, a
// deleted child's pool, and one audit entry per op with a byte-identical replay. The settings
// ops: key_ops_settings_test.cc.
#define BOOST_TEST_MODULE key_ops
#include <rocksdb/db.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "tests/projections/key_ops_fixture.h"

namespace keymeter::fb {
// For the names of BOOST_DATA_TEST_CASE's samples.
std::ostream& operator<<(std::ostream& out, KeyStatus s) { return out << EnumNameKeyStatus(s); }
std::ostream& operator<<(std::ostream& out, Op op) { return out << EnumNameOp(op); }
}  // namespace keymeter::fb

using namespace keymeter;
using namespace keymeter::testing;
namespace bdata = boost::unit_test::data;

BOOST_FIXTURE_TEST_SUITE(key_ops, KeyOpsFixture)

BOOST_AUTO_TEST_CASE(accounts_hold_what_their_ops_set) {
  const EnvelopeHeader h = As(fb::ActorKind::System, kAcct);
  BOOST_TEST(Outcome(BuildAccountCreated(h, "Team A", Sha256("tok"), true)) == "OK");
  const AccountState& a = *directory->FindAccount(kAcct);  // valid: no account is added below
  BOOST_TEST(a.name == "Team A");
  BOOST_TEST((a.admin_token_hash == Sha256("tok")));
  BOOST_TEST(a.require_confirmation);
  BOOST_TEST((a.created_us == h.time_us && a.updated_us == h.time_us));
  const EnvelopeHeader set = A();
  BOOST_TEST(Outcome(BuildAccountConfigSet(set, false)) == "OK");
  BOOST_TEST(!a.require_confirmation);
  BOOST_TEST((a.updated_us == set.time_us && a.created_us == h.time_us));
  // A second creation is refused, changes nothing, and is audited under the existing account.
  BOOST_TEST(Outcome(BuildAccountCreated(As(fb::ActorKind::Operator, kAcct), "Other", Sha256("x"),
                                         true)) == "DUPLICATE-ACCOUNT");
  BOOST_TEST((a.name == "Team A" && a.admin_token_hash == Sha256("tok")));
  const std::vector<AuditEntry> history = History(kAcct);
  BOOST_REQUIRE(history.size() == 3u);
  BOOST_TEST(history[0].outcome == "DUPLICATE-ACCOUNT");
  BOOST_TEST(history[1].detail == "require_confirmation=false");
  BOOST_TEST((history[2].actor_kind == fb::ActorKind::System));
  // An empty account id names no account.
  BOOST_TEST(Outcome(BuildAccountCreated(As(fb::ActorKind::Operator, ""), "x", Sha256("t"),
                                         false)) == "MISSING-FIELD");
  BOOST_TEST(directory->account_count() == 1u);
  Reopen();
  BOOST_TEST(directory->FindAccount(kAcct)->next_audit_seq == 3u);
}

BOOST_AUTO_TEST_CASE(ops_on_a_missing_account_change_and_audit_nothing) {
  Setup();
  const std::string checksum = store->Checksum().value();
  auto none = [&] { return Admin("acctNONE"); };
  for (const std::string& bytes :
       {BuildAccountConfigSet(none(), true), BuildParentSet(none(), "Lonely01", ""),
        BuildKeyRotated(none(), "Lonely01", Sha256("n"), 0),
        BuildStatusOp(none(), fb::Op::KeySuspended, "Lonely01"),
        BuildAllowedSourcesSet(none(), "Lonely01", {}, {}),
        BuildConfigSet(none(), "Lonely01", {}, {}), BuildQuotaSet(none(), "Lonely01", 1, 1),
        BuildMemberCapSet(none(), "ChildAA1", 1)}) {
    BOOST_TEST(Outcome(bytes) == "NO-SUCH-ACCOUNT");
  }
  BOOST_TEST(store->Checksum().value() == checksum);
  BOOST_TEST(directory->FindAccount("acctNONE") == nullptr);
}

BOOST_AUTO_TEST_CASE(issued_keys_hold_their_fields_and_join_their_parent) {
  Setup();
  const EnvelopeHeader h = A();
  BOOST_TEST(Outcome(BuildKeyIssued(h, "NewKey01", Sha256("s1"), "CI runner",
                                    "ParentAAxxxxxxxxxxxxxxxx", fb::KeyStatus::Suspended)) == "OK");
  const KeyState& k = Key("NewKey01");
  BOOST_TEST(k.account_id == kAcct);
  BOOST_TEST((k.secret_hash == Sha256("s1")));
  BOOST_TEST(std::string_view(k.label) == "CI runner");
  BOOST_TEST((k.status == fb::KeyStatus::Suspended));
  BOOST_TEST((k.parent == *KeyId::Parse("ParentAA")));
  BOOST_TEST(k.created_us == h.time_us);
  BOOST_TEST(Key("ParentAA").children == 2u);
  BOOST_TEST(History(kAcct).at(0).detail == "issued, status suspended, parent ParentAA");
  // A key id is 8 characters: the 24-character form is for naming existing keys only.
  BOOST_TEST(CodeName(NewKey(kAcct, "NewKey02xxxxxxxxxxxxxxxx")) == "MALFORMED-KEY-ID");
  // Every parent rule refuses the issue, which then creates nothing.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"Par", "INVALID-PARENT-API-KEY"},
      {"Nokey000", "UNABLE-TO-SET-PARENT-API-KEY"},
      {"Deleted1", "UNABLE-TO-SET-PARENT-API-KEY"},
      {"ChildAA1", "UNABLE-TO-SET-PARENT-API-KEY"},
      {"Foreign1", "UNABLE-TO-CHANGE-NOT-OWN-API-KEY"}};
  for (const auto& [parent, code] : refused) {
    BOOST_TEST_CONTEXT("parent " << parent) {
      BOOST_TEST(CodeName(NewKey(kAcct, "NewKey03", parent)) == code);
      BOOST_TEST(directory->FindKey(*KeyId::Parse("NewKey03")) == nullptr);
      BOOST_TEST(History(kAcct).at(0).key_id == "NewKey03");
    }
  }
  BOOST_TEST(Key("ParentAA").children == 2u);
  BOOST_TEST(Key("Foreign1").children == 0u);
  BOOST_TEST(directory->KeysOf(kAcct).size() == 6u);
}

BOOST_AUTO_TEST_CASE(refused_parent_changes_leave_state_and_an_audit_entry) {
  Setup();
  BOOST_REQUIRE(CodeName(Parent("Lonely01", "ParentBB")) == "OK");
  const std::map<std::string, std::string> keys = KeyRecords();
  const std::string kNotOwn = "UNABLE-TO-CHANGE-NOT-OWN-API-KEY";
  const std::string kUnable = "UNABLE-TO-SET-PARENT-API-KEY";
  struct Case {
    std::string key, parent, code;
  };
  const std::vector<Case> cases = {
      {"Foreign1", "ParentAA", kNotOwn},
      {"Foreign1xxxxxxxxxxxxxxxx", "", kNotOwn},
      {"Lonely01", "Foreign1xxxxxxxxxxxxxxxx", kNotOwn},
      {"Nokey000", "", "NO-SUCH-API-KEY"},
      {"Lonely01x", "ParentAA", "NO-SUCH-API-KEY"},  // neither 8 nor 24 characters
      {"", "ParentAA", "NO-SUCH-API-KEY"},
      {"Lonely01", "P", "INVALID-PARENT-API-KEY"},
      {"Lonely01", "ParentA", "INVALID-PARENT-API-KEY"},
      {"Lonely01", "Nokey000xxxxxxxxxxxxxxxx", kUnable},
      {"Lonely01", "ChildAA1", kUnable},
      {"ParentBB", "ParentAA", kUnable},  // ParentBB has a child
      {"Lonely01", "Lonely01xxxxxxxxxxxxxxxx", kUnable},
      {"Deleted1", "", "KEY-DELETED"}};
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.key << " -> '" << c.parent << "'") {
      BOOST_TEST(CodeName(Parent(c.key, c.parent)) == c.code);
      const AuditEntry last = History(kAcct).at(0);
      BOOST_TEST((last.op == "ParentSet" && last.outcome == c.code));
      BOOST_TEST(last.key_id == c.key.substr(0, 8));
      BOOST_TEST(!last.detail.empty());  // the refusal's message
    }
  }
  // Refused ops wrote audit entries and accounts, nothing of the keys.
  BOOST_TEST((KeyRecords() == keys));
  Reopen();
  BOOST_TEST((Key("Lonely01").parent == *KeyId::Parse("ParentBB")));
  BOOST_TEST(Key("ParentBB").children == 1u);
  BOOST_TEST(Key("ParentAA").children == 1u);
  // Setting the same parent again keeps one child; removing a root's parent is a no-op.
  BOOST_TEST(CodeName(Parent("Lonely01", "ParentBB")) == "OK");
  BOOST_TEST(Key("ParentBB").children == 1u);
  BOOST_TEST(CodeName(Parent("ParentAA", "")) == "OK");
  BOOST_TEST(History(kAcct).at(0).detail == "parent none -> none");
  // A member may not change parents, even of its own key.
  const EnvelopeHeader m = As(fb::ActorKind::Member, kAcct, "ChildAA1");
  BOOST_TEST(Outcome(BuildParentSet(m, "ChildAA1", "")) == "FORBIDDEN");
}

// pending -> active (confirm); active <-> suspended; pending -> suspended.
BOOST_DATA_TEST_CASE_F(
    KeyOpsFixture, status_transitions,
    bdata::make({fb::KeyStatus::Pending, fb::KeyStatus::Active, fb::KeyStatus::Suspended}) *
        bdata::make({fb::Op::KeyConfirmed, fb::Op::KeyActivated, fb::Op::KeySuspended}),
    from, op) {
  using S = fb::KeyStatus;
  const bool allowed = (op == fb::Op::KeyConfirmed && from == S::Pending) ||
                       (op == fb::Op::KeyActivated && from == S::Suspended) ||
                       (op == fb::Op::KeySuspended && from != S::Suspended);
  Setup();
  BOOST_REQUIRE(CodeName(NewKey(kAcct, "Subject1", "", from)) == "OK");
  const TimeUs issued = Key("Subject1").updated_us;
  const std::string code = Outcome(BuildStatusOp(A(), op, "Subject1"));
  BOOST_TEST(code == (allowed ? "OK" : "INVALID-STATUS-TRANSITION"));
  const S to = op == fb::Op::KeySuspended ? S::Suspended : S::Active;
  BOOST_TEST((Key("Subject1").status == (allowed ? to : from)));
  BOOST_TEST((Key("Subject1").updated_us > issued) == allowed);
  Reopen();
  BOOST_TEST((Key("Subject1").status == (allowed ? to : from)));
}

BOOST_AUTO_TEST_CASE(a_deleted_child_leaves_the_hierarchy_but_keeps_its_pool) {
  Setup();
  BOOST_REQUIRE(Outcome(BuildKeyRotated(A(), "ChildAA1", Sha256("n"), now + 60'000'000)) == "OK");
  BOOST_REQUIRE(Outcome(BuildMemberCapSet(A(), "ChildAA1", 10)) == "OK");
  BOOST_TEST(Outcome(BuildStatusOp(A(), fb::Op::KeyDeleted, "ChildAA1")) == "OK");
  BOOST_TEST(History(kAcct).at(0).detail ==
             "status active -> deleted, detached from parent ParentAA");
  const KeyState& child = Key("ChildAA1");
  BOOST_TEST((child.status == fb::KeyStatus::Deleted));
  BOOST_TEST(!child.is_child());
  BOOST_TEST(!child.extras().has_old_secret);  // the old secret stops at once
  BOOST_TEST((directory->RootOf(child) == *KeyId::Parse("ParentAA")));
  BOOST_TEST(Key("ParentAA").children == 0u);
  Reopen();
  BOOST_TEST((directory->RootOf(Key("ChildAA1")) == *KeyId::Parse("ParentAA")));
  BOOST_TEST(Key("ParentAA").children == 0u);
  BOOST_TEST(directory->KeysOf(kAcct).size() == 5u);  // deleted keys stay listed
  // Every op on a deleted key is refused.
  for (const std::string& bytes :
       {BuildAllowedSourcesSet(A(), "ChildAA1", {}, {}), BuildConfigSet(A(), "ChildAA1", {}, {}),
        BuildQuotaSet(A(), "ChildAA1", 1, 1), BuildMemberCapSet(A(), "ChildAA1", 1),
        BuildParentSet(A(), "ChildAA1", "ParentAA")}) {
    BOOST_TEST(Outcome(bytes) == "KEY-DELETED");
  }
  // A root without children is deleted as it is, and is its own pool.
  BOOST_TEST(Outcome(BuildStatusOp(A(), fb::Op::KeyDeleted, "Lonely01")) == "OK");
  BOOST_TEST((directory->RootOf(Key("Lonely01")) == *KeyId::Parse("Lonely01")));
}

// Seed 000: an invited member's e-mail is not associated with another key of the account.
BOOST_AUTO_TEST_CASE(a_member_email_is_unique_among_the_accounts_live_keys) {
  Setup();
  auto issue = [&](const std::string& account, const std::string& id, const std::string& label) {
    return Outcome(BuildKeyIssued(Admin(account), id, Sha256(id), label, "", fb::KeyStatus::Active));
  };
  BOOST_TEST(issue(kAcct, "MailKey1", "dev@acme.test") == "OK");
  BOOST_TEST(issue(kAcct, "MailKey2", "  DEV@Acme.TEST ") == "DUPLICATE-MEMBER");
  BOOST_TEST(directory->FindKey(*KeyId::Parse("MailKey2")) == nullptr);
  BOOST_TEST(History(kAcct)[0].outcome == "DUPLICATE-MEMBER");
  BOOST_TEST(issue(kOther, "MailKey3", "dev@acme.test") == "OK");  // another account
  int env = 0;
  for (const char* label : {"Production", "Production", "not@an-email", "a b@c.d"}) {
    BOOST_TEST(issue(kAcct, "EnvKey0" + std::to_string(++env), label) == "OK", label);
  }
  // Deleted, the address may be invited again; a reopened directory remembers who holds one.
  BOOST_TEST(Outcome(BuildStatusOp(A(), fb::Op::KeyDeleted, "MailKey1")) == "OK");
  BOOST_TEST(issue(kAcct, "MailKey4", "dev@acme.test") == "OK");
  Reopen();
  BOOST_TEST(issue(kAcct, "MailKey5", "dev@acme.test") == "DUPLICATE-MEMBER");
  BOOST_TEST(MemberEmail(" A@B.io ") == "a@b.io");
  for (const char* not_email : {"", "@b.io", "a@", "a@b", "a@.io", "a@b.", "a@@b.io", "a b@c.io"}) {
    BOOST_TEST(MemberEmail(not_email).empty(), not_email);
  }
}

BOOST_AUTO_TEST_CASE(rotation_keeps_only_the_secret_just_replaced) {
  Setup();
  const Digest first = Key("Lonely01").secret_hash;
  BOOST_TEST(Outcome(BuildKeyRotated(A(), "Lonely01", Sha256("2"), now + 100'000'000)) == "OK");
  BOOST_TEST(Outcome(BuildKeyRotated(A(), "Lonely01", Sha256("3"), now + 100'000'000)) == "OK");
  BOOST_TEST((Key("Lonely01").extras().old_secret_hash == Sha256("2")));
  BOOST_TEST((Key("Lonely01").extras().old_secret_hash != first));
  // The secret it has, or had: an Idempotency-Key sent again after its window, refused.
  for (const char* again : {"3", "2"}) {
    BOOST_TEST(Outcome(BuildKeyRotated(A(), "Lonely01", Sha256(again), now + 100'000'000)) ==
               "IDEMPOTENCY-KEY-REUSED");
  }
  BOOST_TEST((Key("Lonely01").secret_hash == Sha256("3")));
  // A deadline equal to the op's event time keeps nothing (valid while event time < deadline).
  const EnvelopeHeader h = A();
  BOOST_TEST(Outcome(BuildKeyRotated(h, "Lonely01", Sha256("4"), h.time_us)) == "OK");
  BOOST_TEST(!Key("Lonely01").extras().has_old_secret);
  BOOST_TEST(Key("Lonely01").updated_us == h.time_us);
}

BOOST_AUTO_TEST_CASE(every_op_is_audited_once_and_a_replay_is_byte_identical) {
  Setup();
  std::vector<std::pair<std::string, std::string>> ops;  // command id, outcome
  auto run = [&](const std::string& bytes) {
    const fb::Envelope* env =
        VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    ops.emplace_back(Str(env->command_id()), Outcome(bytes));
  };
  const size_t before = History(kAcct).size();
  run(BuildKeyRotated(As(fb::ActorKind::Member, kAcct, "ChildAA1"), "ChildAA1xxxxxxxxxxxxxxxx",
                      Sha256("m"), 0));
  run(BuildStatusOp(A(), fb::Op::KeyActivated, "ChildAA1"));
  run(BuildQuotaSet(A(), "ParentAA", 100, 1000));
  run(BuildParentSet(A(), "ParentBB", "ParentAA"));
  run(BuildStatusOp(A(), fb::Op::KeyDeleted, "ParentAA"));
  run(BuildAccountConfigSet(A(), true));
  const std::vector<AuditEntry> history = History(kAcct);
  BOOST_REQUIRE(history.size() == before + ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const AuditEntry& e = history[ops.size() - 1 - i];
    BOOST_TEST(e.command_id == ops[i].first);
    BOOST_TEST(e.outcome == ops[i].second);
    BOOST_TEST(e.seq == before + i);  // the account's own counter, from 0
  }
  const AuditEntry& rotated = history[ops.size() - 1];
  BOOST_TEST(rotated.key_id == "ChildAA1");  // 8 characters: the op's target
  BOOST_TEST((rotated.actor_kind == fb::ActorKind::Member && rotated.actor_key_id == "ChildAA1"));
  BOOST_TEST(history[1].outcome == "KEY-HAS-CHILDREN");
  BOOST_TEST(directory->FindAccount(kAcct)->next_audit_seq == history.size());
  // The same log applied to a fresh store gives the same outcomes and the same bytes.
  DirectoryFixture replay;
  std::vector<std::string> replayed;
  for (const std::string& bytes : log) replayed.push_back(replay.Apply(bytes));
  std::vector<std::string> codes;
  for (const auto& op : ops) codes.push_back(op.second);
  BOOST_TEST((std::vector(replayed.end() - ops.size(), replayed.end()) == codes));
  BOOST_TEST(replay.store->Checksum().value() == store->Checksum().value());
}

BOOST_AUTO_TEST_SUITE_END()
