// The rules of DESIGN §1 and the behaviours of the three announcements in shared/seeds/, one
// test case per rule, applied through real RocksDB commits.
#define BOOST_TEST_MODULE key_directory
#include <boost/test/unit_test.hpp>

#include "projections/audit.h"
#include "tests/projections/directory_fixture.h"

using namespace keymeter;
using keymeter::testing::DirectoryFixture;

namespace {
const std::string kAcct = "acctAAAA";
const std::string kOther = "acctBBBB";
}  // namespace

BOOST_FIXTURE_TEST_SUITE(key_directory, DirectoryFixture)

BOOST_AUTO_TEST_CASE(accounts_are_created_once_by_the_operator) {
  BOOST_TEST(CreateAccount(kAcct) == "OK");
  BOOST_TEST(CreateAccount(kAcct) == "DUPLICATE-ACCOUNT");
  BOOST_TEST(Apply(BuildAccountCreated(Admin(kOther), "x", Sha256("t"), false)) == "FORBIDDEN");
  BOOST_TEST(Issue("acctNONE", "Abcd1234") == "NO-SUCH-ACCOUNT");
  BOOST_TEST(directory->account_count() == 1u);
}

BOOST_AUTO_TEST_CASE(key_ids_are_unique_and_well_formed) {
  CreateAccount(kAcct);
  CreateAccount(kOther);
  BOOST_TEST(Issue(kAcct, "Abcd1234") == "OK");
  BOOST_TEST(Issue(kAcct, "Abcd1234") == "DUPLICATE-KEY-ID");
  BOOST_TEST(Issue(kOther, "Abcd1234") == "DUPLICATE-KEY-ID");
  BOOST_TEST(Issue(kAcct, "Abcd-234") == "MALFORMED-KEY-ID");
  BOOST_TEST(Issue(kAcct, "Abcd123") == "MALFORMED-KEY-ID");
  BOOST_TEST(Apply(BuildKeyIssued(Admin(kAcct), "Zzzz0000", Sha256("k"), "", "",
                                  fb::KeyStatus::Deleted)) == "INVALID-STATUS-TRANSITION");
}

// Seed 000: invite -> key usable at once -> disable -> rotate -> delete.
BOOST_AUTO_TEST_CASE(whoisxml_team_member_lifecycle) {
  CreateAccount(kAcct);
  BOOST_TEST(Issue(kAcct, "Parent01", "", fb::KeyStatus::Active) == "OK");
  BOOST_TEST(Issue(kAcct, "Child001", "Parent01") == "OK");
  BOOST_TEST((Key("Child001").status == fb::KeyStatus::Pending));
  // "API key can be used immediately without team member account confirmation".
  BOOST_TEST(!directory->FindAccount(kAcct)->require_confirmation);
  BOOST_TEST(Do(kAcct, fb::Op::KeySuspended, "Child001") == "OK");
  BOOST_TEST((Key("Child001").status == fb::KeyStatus::Suspended));
  const Digest before = Key("Child001").secret_hash;
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Child001", Sha256("new"), 0)) == "OK");
  BOOST_TEST((Key("Child001").secret_hash != before));
  BOOST_TEST(!Key("Child001").extras().has_old_secret);
  BOOST_TEST(Do(kAcct, fb::Op::KeyActivated, "Child001") == "OK");
  BOOST_TEST(Do(kAcct, fb::Op::KeyDeleted, "Child001") == "OK");
  BOOST_TEST((Key("Child001").status == fb::KeyStatus::Deleted));
  BOOST_TEST(Key("Parent01").children == 0u);
  BOOST_TEST(!Key("Child001").is_child());  // a deleted key leaves the hierarchy
}

// Seed 000's table: a member manages only its own key's secret and sources, nothing else.
BOOST_AUTO_TEST_CASE(members_may_only_rotate_and_set_sources_of_their_own_key) {
  CreateAccount(kAcct);
  Issue(kAcct, "Parent01", "", fb::KeyStatus::Active);
  Issue(kAcct, "Child001", "Parent01");
  Issue(kAcct, "Child002", "Parent01");
  auto member = [&] { return As(fb::ActorKind::Member, kAcct, "Child001"); };
  BOOST_TEST(Apply(BuildKeyRotated(member(), "Child001", Sha256("n"), 0)) == "OK");
  BOOST_TEST(Apply(BuildAllowedSourcesSet(member(), "Child001", {"10.0.0.0/8"}, {})) == "OK");
  BOOST_TEST(Apply(BuildKeyRotated(member(), "Child002", Sha256("n"), 0)) == "FORBIDDEN");
  BOOST_TEST(Apply(BuildStatusOp(member(), fb::Op::KeySuspended, "Child002")) == "FORBIDDEN");
  BOOST_TEST(Apply(BuildStatusOp(member(), fb::Op::KeyDeleted, "Child001")) == "FORBIDDEN");
  BOOST_TEST(Apply(BuildQuotaSet(member(), "Parent01", 1, 1)) == "FORBIDDEN");
  BOOST_TEST(Apply(BuildKeyIssued(member(), "Child003", Sha256("x"), "", "", fb::KeyStatus::Active)) ==
             "FORBIDDEN");
  BOOST_TEST(Apply(BuildAccountConfigSet(member(), true)) == "FORBIDDEN");
}

// Seed 001: set, replace and remove a parent, with 8- and 24-character ids.
BOOST_AUTO_TEST_CASE(n1ed_set_replace_remove_parent) {
  CreateAccount(kAcct);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "ParentBB", "", fb::KeyStatus::Active);
  Issue(kAcct, "SiteKey1", "", fb::KeyStatus::Active);
  BOOST_TEST(SetParent(kAcct, "SiteKey1", "ParentAA") == "OK");
  BOOST_TEST((Key("SiteKey1").parent == *KeyId::Parse("ParentAA")));
  BOOST_TEST(Key("ParentAA").children == 1u);
  // Full 24-character keys name the same keys.
  BOOST_TEST(SetParent(kAcct, "SiteKey1xxxxxxxxxxxxxxxx", "ParentBBxxxxxxxxxxxxxxxx") == "OK");
  BOOST_TEST((Key("SiteKey1").parent == *KeyId::Parse("ParentBB")));
  BOOST_TEST(Key("ParentAA").children == 0u);
  BOOST_TEST(Key("ParentBB").children == 1u);
  BOOST_TEST(SetParent(kAcct, "SiteKey1", "") == "OK");
  BOOST_TEST(!Key("SiteKey1").is_child());
  BOOST_TEST(Key("ParentBB").children == 0u);
}

// A partition's projection depends on its own log only (docs/events.md, Outcomes): another
// account's key on another partition is, to an op, a key that does not exist; on the same
// partition it is another account's.
BOOST_AUTO_TEST_CASE(keys_of_accounts_on_other_partitions_are_unknown_to_an_op) {
  CreateAccount(kAcct);
  CreateAccount(kOther);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "Lonely01");
  Issue(kOther, "Foreign1");
  same_log = [](std::string_view account) { return account == kAcct; };  // kOther elsewhere
  BOOST_TEST(SetParent(kAcct, "Foreign1", "ParentAA") == "NO-SUCH-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Foreign1") == "UNABLE-TO-SET-PARENT-API-KEY");
  same_log = [](std::string_view) { return true; };  // both on one partition
  BOOST_TEST(SetParent(kAcct, "Foreign1", "ParentAA") == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Foreign1") == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
}

BOOST_AUTO_TEST_CASE(n1ed_error_codes) {
  CreateAccount(kAcct);
  CreateAccount(kOther);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "ChildAA1", "ParentAA");
  Issue(kAcct, "Lonely01");
  Issue(kOther, "Foreign1");
  Issue(kAcct, "Deleted1");
  Do(kAcct, fb::Op::KeyDeleted, "Deleted1");
  BOOST_TEST(SetParent(kAcct, "Foreign1", "ParentAA") == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Foreign1") == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Nokey000", "ParentAA") == "NO-SUCH-API-KEY");
  BOOST_TEST(SetParent(kAcct, "short", "ParentAA") == "NO-SUCH-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Paren") == "INVALID-PARENT-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Nokey000") == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Lonely01") == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Lonely01", "Deleted1") == "UNABLE-TO-SET-PARENT-API-KEY");
  // One level only: a child can't be a parent, a parent can't become a child.
  BOOST_TEST(SetParent(kAcct, "Lonely01", "ChildAA1") == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(SetParent(kAcct, "ParentAA", "Lonely01") == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(Issue(kAcct, "Grandkid", "ChildAA1") == "UNABLE-TO-SET-PARENT-API-KEY");
  BOOST_TEST(SetParent(kAcct, "Deleted1", "ParentAA") == "KEY-DELETED");
  BOOST_TEST(!Key("Lonely01").is_child());
}

// Seed 002: pending -> active on confirmation; suspend/activate; delete is permanent.
BOOST_AUTO_TEST_CASE(team_dashboard_status_lifecycle) {
  CreateAccount(kAcct, /*require_confirmation=*/true);
  Issue(kAcct, "OwnerKey", "", fb::KeyStatus::Active);
  Issue(kAcct, "Member01", "OwnerKey");
  BOOST_TEST(directory->FindAccount(kAcct)->require_confirmation);
  BOOST_TEST(Do(kAcct, fb::Op::KeyActivated, "Member01") == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(Do(kAcct, fb::Op::KeyConfirmed, "Member01") == "OK");
  BOOST_TEST((Key("Member01").status == fb::KeyStatus::Active));
  BOOST_TEST(Do(kAcct, fb::Op::KeyConfirmed, "Member01") == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(Do(kAcct, fb::Op::KeySuspended, "Member01") == "OK");
  BOOST_TEST(Do(kAcct, fb::Op::KeySuspended, "Member01") == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(Do(kAcct, fb::Op::KeyActivated, "Member01") == "OK");
  BOOST_TEST(Do(kAcct, fb::Op::KeyDeleted, "Member01") == "OK");
  for (fb::Op op : {fb::Op::KeyActivated, fb::Op::KeyConfirmed, fb::Op::KeySuspended,
                    fb::Op::KeyDeleted}) {
    BOOST_TEST(Do(kAcct, op, "Member01") == "KEY-DELETED");
  }
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Member01", Sha256("n"), 0)) == "KEY-DELETED");
  BOOST_TEST(Issue(kAcct, "Member01") == "DUPLICATE-KEY-ID");
  BOOST_TEST((Key("Member01").status == fb::KeyStatus::Deleted));
}

BOOST_AUTO_TEST_CASE(a_parent_with_children_is_not_deleted) {
  CreateAccount(kAcct);
  Issue(kAcct, "OwnerKey", "", fb::KeyStatus::Active);
  Issue(kAcct, "Member01", "OwnerKey");
  BOOST_TEST(Do(kAcct, fb::Op::KeyDeleted, "OwnerKey") == "KEY-HAS-CHILDREN");
  BOOST_TEST(Do(kAcct, fb::Op::KeyDeleted, "Member01") == "OK");
  BOOST_TEST(Do(kAcct, fb::Op::KeyDeleted, "OwnerKey") == "OK");
}

BOOST_AUTO_TEST_CASE(rotation_keeps_the_old_secret_until_the_grace_deadline) {
  CreateAccount(kAcct);
  Issue(kAcct, "Rotate01", "", fb::KeyStatus::Active);
  const Digest first = Key("Rotate01").secret_hash;
  const TimeUs grace = now + 60'000'000;
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Rotate01", Sha256("second"), grace)) == "OK");
  BOOST_TEST(Key("Rotate01").extras().has_old_secret);
  BOOST_TEST((Key("Rotate01").extras().old_secret_hash == first));
  BOOST_TEST(Key("Rotate01").extras().grace_until_us == grace);
  BOOST_TEST((Key("Rotate01").secret_hash == Sha256("second")));
  // A deadline already past at the op's event time keeps nothing.
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Rotate01", Sha256("third"), now - 1)) == "OK");
  BOOST_TEST(!Key("Rotate01").extras().has_old_secret);
}

BOOST_AUTO_TEST_CASE(children_inherit_their_parents_config_live) {
  CreateAccount(kAcct);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "SiteKey1", "", fb::KeyStatus::Active);
  BOOST_TEST(Apply(BuildConfigSet(Admin(kAcct), "SiteKey1", {"own"}, {{"theme", "dark"}})) == "OK");
  BOOST_TEST(Apply(BuildConfigSet(Admin(kAcct), "ParentAA", {"whois", "dns"}, {{"lang", "en"}})) ==
             "OK");
  SetParent(kAcct, "SiteKey1", "ParentAA");
  const KeyConfig& effective = directory->EffectiveConfig(Key("SiteKey1"));
  BOOST_TEST(effective.products == (std::vector<std::string>{"dns", "whois"}));
  BOOST_TEST(Apply(BuildConfigSet(Admin(kAcct), "SiteKey1", {"x"}, {})) ==
             "CONFIG-INHERITED-FROM-PARENT");
  // Changing the parent changes the child at once.
  Apply(BuildConfigSet(Admin(kAcct), "ParentAA", {"ssl"}, {}));
  BOOST_TEST(directory->EffectiveConfig(Key("SiteKey1")).products ==
             (std::vector<std::string>{"ssl"}));
  // Removing the parent gives the child its own config back.
  SetParent(kAcct, "SiteKey1", "");
  BOOST_TEST(directory->EffectiveConfig(Key("SiteKey1")).products ==
             (std::vector<std::string>{"own"}));
  BOOST_TEST(directory->EffectiveConfig(Key("SiteKey1")).settings.at(0).second == "dark");
}

BOOST_AUTO_TEST_CASE(quotas_belong_to_roots_and_caps_to_children) {
  CreateAccount(kAcct);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "ChildAA1", "ParentAA");
  BOOST_TEST(Apply(BuildQuotaSet(Admin(kAcct), "ParentAA", 1000, 50000)) == "OK");
  BOOST_TEST(Key("ParentAA").daily_requests == 1000u);
  BOOST_TEST(Key("ParentAA").monthly_units == 50000u);
  BOOST_TEST(Apply(BuildQuotaSet(Admin(kAcct), "ChildAA1", 5, 5)) == "NOT-A-ROOT-KEY");
  BOOST_TEST(Apply(BuildMemberCapSet(Admin(kAcct), "ChildAA1", 100)) == "OK");
  BOOST_TEST(Key("ChildAA1").member_cap == 100u);
  BOOST_TEST(Apply(BuildMemberCapSet(Admin(kAcct), "ParentAA", 100)) == "NOT-A-CHILD-KEY");
}

BOOST_AUTO_TEST_CASE(allowed_sources_are_validated) {
  CreateAccount(kAcct);
  Issue(kAcct, "Member01", "", fb::KeyStatus::Active);
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01",
                                          {"203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "::1"},
                                          {"example.com", "*.api.example.org"})) == "OK");
  const KeyState& key = Key("Member01");
  BOOST_TEST(key.extras().sources.AllowsIp(*ParseIp("10.20.30.40")));
  BOOST_TEST(key.extras().sources.AllowsIp(*ParseIp("2001:db8:1::5")));
  BOOST_TEST(!key.extras().sources.AllowsIp(*ParseIp("192.168.1.1")));
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {"10.0.0.1/8"}, {})) ==
             "INVALID-CIDR");
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {"300.1.1.1"}, {})) ==
             "INVALID-CIDR");
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {"1.2.3.4/33"}, {})) ==
             "INVALID-CIDR");
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {}, {"bad_domain!"})) ==
             "INVALID-DOMAIN");
  BOOST_TEST(Key("Member01").extras().ips.size() == 4u);  // refused ops change nothing
}

BOOST_AUTO_TEST_CASE(extras_are_held_only_while_a_key_has_some) {
  CreateAccount(kAcct);
  Issue(kAcct, "Member01", "", fb::KeyStatus::Active);
  BOOST_TEST(!Key("Member01").has_extras());
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {"10.0.0.0/8"}, {})) == "OK");
  BOOST_TEST(Key("Member01").has_extras());
  const KeyState copy = Key("Member01");  // a deep copy
  BOOST_TEST(Apply(BuildAllowedSourcesSet(Admin(kAcct), "Member01", {}, {})) == "OK");
  BOOST_TEST(!Key("Member01").has_extras());
  BOOST_TEST(copy.extras().ips == std::vector<std::string>{"10.0.0.0/8"});
  BOOST_TEST(copy.extras().sources.AllowsIp(*ParseIp("10.1.2.3")));
  BOOST_TEST(!(copy == Key("Member01")));
  // A rotation with a grace period needs them until the key is rotated again without one.
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Member01", Sha256("b"), now + 60'000'000)) ==
             "OK");
  BOOST_TEST(Key("Member01").has_extras());
  BOOST_TEST(Apply(BuildKeyRotated(Admin(kAcct), "Member01", Sha256("c"), 0)) == "OK");
  BOOST_TEST(!Key("Member01").has_extras());
}

BOOST_AUTO_TEST_CASE(audit_keeps_every_op_newest_first_with_paging) {
  CreateAccount(kAcct);
  Issue(kAcct, "Member01");
  Issue(kAcct, "Member02");
  Do(kAcct, fb::Op::KeyConfirmed, "Member01");
  Do(kAcct, fb::Op::KeyActivated, "Member01");  // refused, still audited
  AuditQuery q{.account_id = kAcct};
  AuditPage page = ReadAudit(store->db(), store->cfs()[Cf::kAudit], q).value();
  BOOST_REQUIRE(page.entries.size() == 5u);
  BOOST_TEST(page.entries[0].op == "KeyActivated");
  BOOST_TEST(page.entries[0].outcome == "INVALID-STATUS-TRANSITION");
  BOOST_TEST(page.entries[1].detail == "status pending -> active");
  BOOST_TEST((page.entries[1].actor_kind == fb::ActorKind::AccountAdmin));
  BOOST_TEST(page.entries[4].op == "AccountCreated");
  q.key = KeyId::Parse("Member01");
  q.limit = 2;
  page = ReadAudit(store->db(), store->cfs()[Cf::kAudit], q).value();
  BOOST_REQUIRE(page.entries.size() == 2u);
  BOOST_REQUIRE(page.next_cursor.has_value());
  q.before = page.next_cursor;
  AuditPage rest = ReadAudit(store->db(), store->cfs()[Cf::kAudit], q).value();
  BOOST_REQUIRE(rest.entries.size() == 1u);
  BOOST_TEST(rest.entries[0].op == "KeyIssued");
  BOOST_TEST(!rest.next_cursor.has_value());
}

BOOST_AUTO_TEST_CASE(reopen_restores_the_same_directory) {
  CreateAccount(kAcct);
  Issue(kAcct, "ParentAA", "", fb::KeyStatus::Active);
  Issue(kAcct, "ChildAA1", "ParentAA");
  Apply(BuildAllowedSourcesSet(Admin(kAcct), "ChildAA1", {"10.0.0.0/8"}, {"a.example"}));
  Apply(BuildKeyRotated(Admin(kAcct), "ChildAA1", Sha256("n"), now + 10'000'000));
  Apply(BuildConfigSet(Admin(kAcct), "ParentAA", {"p"}, {{"k", "v"}}));
  std::vector<KeyState> before;
  directory->ForEachKey([&](const KeyState& k) { before.push_back(k); });
  const AccountState account = *directory->FindAccount(kAcct);
  const std::string checksum = store->Checksum().value();
  Reopen();
  for (const KeyState& k : before) BOOST_TEST((*directory->FindKey(k.id) == k));
  BOOST_TEST(directory->key_count() == before.size());
  BOOST_TEST((*directory->FindAccount(kAcct) == account));
  BOOST_TEST(directory->FindKey(*KeyId::Parse("ChildAA1"))->extras().sources.AllowsIp(*ParseIp("10.1.1.1")));
  BOOST_TEST(store->Checksum().value() == checksum);
}

BOOST_AUTO_TEST_SUITE_END()
