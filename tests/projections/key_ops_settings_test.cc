// KeyDirectory::Apply's settings ops (projections/key_ops_settings.cc): allowed sources and
// configs within their list limits, quotas on roots and caps on children as the hierarchy
// changes.
#define BOOST_TEST_MODULE key_ops_settings
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "tests/projections/key_ops_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

BOOST_FIXTURE_TEST_SUITE(key_ops_settings, KeyOpsFixture)

BOOST_AUTO_TEST_CASE(allowed_sources_hold_at_most_256_of_each) {
  Setup();
  const std::vector<std::string> ips = Numbered(256, "10.", ".", ".0/24");
  const std::vector<std::string> domains = Numbered(256, "h", "-", ".example.com");
  BOOST_TEST(Outcome(BuildAllowedSourcesSet(A(), "Lonely01", ips, domains)) == "OK");
  BOOST_TEST(Key("Lonely01").extras().sources.AllowsIp(*ParseIp("10.0.255.1")));
  const std::vector<std::string> ips257 = Numbered(257, "10.", ".", ".0/24");
  const std::vector<std::string> domains257 = Numbered(257, "h", "-", ".example.com");
  BOOST_TEST(Outcome(BuildAllowedSourcesSet(A(), "Lonely01", ips257, {})) == "TOO-MANY-SOURCES");
  BOOST_TEST(Outcome(BuildAllowedSourcesSet(A(), "Lonely01", {}, domains257)) ==
             "TOO-MANY-SOURCES");
  BOOST_TEST(History(kAcct).at(0).outcome == "TOO-MANY-SOURCES");
  BOOST_TEST(Key("Lonely01").extras().ips == ips);  // refused: the 256 of each stay
  BOOST_TEST(Key("Lonely01").extras().domains == domains);
  BOOST_TEST(Outcome(BuildAllowedSourcesSet(A(), "Foreign1", {}, {})) ==
             "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  // A member sets its own key's sources only.
  const EnvelopeHeader m = As(fb::ActorKind::Member, kAcct, "ChildAA1");
  BOOST_TEST(Outcome(BuildAllowedSourcesSet(m, "Lonely01", {}, {})) == "FORBIDDEN");
  Reopen();
  BOOST_TEST(Key("Lonely01").extras().ips == ips);
  BOOST_TEST(!Key("Lonely01").extras().sources.AllowsIp(*ParseIp("11.0.0.1")));
}

BOOST_AUTO_TEST_CASE(configs_are_sorted_bounded_and_held_by_roots) {
  Setup();
  BOOST_TEST(Outcome(BuildConfigSet(A(), "Lonely01", {"whois", "dns", "whois", "ssl"},
                                    {{"zeta", "1"}, {"alpha", "2"}})) == "OK");
  const KeyConfig& c = Key("Lonely01").extras().config;
  BOOST_TEST(c.products == (std::vector<std::string>{"dns", "ssl", "whois"}));
  BOOST_REQUIRE(c.settings.size() == 2u);
  BOOST_TEST((c.settings[0].first == "alpha" && c.settings[1].second == "1"));
  BOOST_TEST(History(kAcct).at(0).detail == "config: 3 products, 2 settings");
  BOOST_TEST(Outcome(BuildConfigSet(A(), "Lonely01", Numbered(256, "p", "_", ""), {})) == "OK");
  BOOST_TEST(Outcome(BuildConfigSet(A(), "Lonely01", Numbered(257, "p", "_", ""), {})) ==
             "CONFIG-TOO-LARGE");
  std::vector<std::pair<std::string, std::string>> settings;
  for (const std::string& name : Numbered(257, "s", "_", "")) settings.emplace_back(name, "v");
  BOOST_TEST(Outcome(BuildConfigSet(A(), "Lonely01", {}, settings)) == "CONFIG-TOO-LARGE");
  BOOST_TEST(Key("Lonely01").extras().config.products.size() == 256u);  // refused ops keep it
  // A child's config is its parent's: its own can't be set, even to nothing.
  BOOST_TEST(Outcome(BuildConfigSet(A(), "ChildAA1", {}, {})) == "CONFIG-INHERITED-FROM-PARENT");
  BOOST_TEST(History(kAcct).at(0).outcome == "CONFIG-INHERITED-FROM-PARENT");
  BOOST_REQUIRE(CodeName(Parent("ChildAA1", "")) == "OK");
  BOOST_TEST(Outcome(BuildConfigSet(A(), "ChildAA1", {"a"}, {})) == "OK");
  BOOST_TEST(directory->EffectiveConfig(Key("ChildAA1")).products == std::vector<std::string>{"a"});
}

BOOST_AUTO_TEST_CASE(quotas_go_to_roots_and_caps_to_children_as_the_hierarchy_changes) {
  Setup();
  BOOST_TEST(Outcome(BuildQuotaSet(A(), "Lonely01", 10, 20)) == "OK");
  BOOST_TEST(Outcome(BuildQuotaSet(A(), "Lonely01", 0, 0)) == "OK");  // unlimited
  BOOST_TEST((Key("Lonely01").daily_requests == 0u && Key("Lonely01").monthly_units == 0u));
  BOOST_TEST(Outcome(BuildMemberCapSet(A(), "Lonely01", 5)) == "NOT-A-CHILD-KEY");
  BOOST_REQUIRE(CodeName(Parent("Lonely01", "ParentAA")) == "OK");
  BOOST_TEST(Outcome(BuildQuotaSet(A(), "Lonely01", 10, 20)) == "NOT-A-ROOT-KEY");
  BOOST_TEST(History(kAcct).at(0).outcome == "NOT-A-ROOT-KEY");
  BOOST_TEST(Outcome(BuildMemberCapSet(A(), "Lonely01", 5)) == "OK");
  BOOST_TEST((Key("Lonely01").member_cap == 5u && Key("Lonely01").daily_requests == 0u));
  BOOST_REQUIRE(CodeName(Parent("Lonely01", "")) == "OK");
  BOOST_TEST(Outcome(BuildMemberCapSet(A(), "Lonely01", 6)) == "NOT-A-CHILD-KEY");
  BOOST_TEST(History(kAcct).at(0).outcome == "NOT-A-CHILD-KEY");
  BOOST_TEST(Outcome(BuildQuotaSet(A(), "Lonely01", 7, 8)) == "OK");
  BOOST_TEST(Key("Lonely01").daily_requests == 7u);
  BOOST_TEST(Outcome(BuildQuotaSet(A(), "Foreign1", 1, 1)) == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY");
  BOOST_TEST(Outcome(BuildMemberCapSet(A(), "Nokey000", 1)) == "NO-SUCH-API-KEY");
}

BOOST_AUTO_TEST_CASE(limits_rate_expiry_and_credits_are_admin_ops_with_their_rules) {
  Setup();
  // Rate limits on any key: a root's are its pool's, a child's its own.
  BOOST_TEST(Outcome(BuildRateLimitSet(A(), "ParentAA", {.per_second = 5})) == "OK");
  BOOST_TEST(Outcome(BuildRateLimitSet(A(), "ChildAA1", {.per_hour = 9})) == "OK");
  BOOST_TEST(Key("ChildAA1").extras().rate.per_hour == 9u);
  BOOST_TEST(directory->any_rate_limits());
  BOOST_TEST(Outcome(BuildMemberCapSet(A(), "ChildAA1", 3, 40)) == "OK");
  BOOST_TEST(Key("ChildAA1").extras().member_monthly_units == 40u);
  // Expiry: negative is refused; 0 clears it.
  BOOST_TEST(Outcome(BuildKeyExpirySet(A(), "ChildAA1", -1)) == "INVALID-EXPIRY");
  BOOST_TEST(Outcome(BuildKeyExpirySet(A(), "ChildAA1", 5'000'000)) == "OK");
  BOOST_TEST(Key("ChildAA1").extras().expires_at_us == 5'000'000);
  BOOST_TEST(Outcome(BuildKeyExpirySet(A(), "ChildAA1", 0)) == "OK");
  BOOST_TEST(Key("ChildAA1").extras().expires_at_us == 0);
  // Credits belong to root keys; a top-up turns them on; negative units take some back.
  BOOST_TEST(Outcome(BuildCreditsAdded(A(), "ChildAA1", 10, "no")) == "NOT-A-ROOT-KEY");
  BOOST_TEST(Outcome(BuildCreditsConfigSet(A(), "ChildAA1", true, 1, fb::RefillPeriod::Day, false)) ==
             "NOT-A-ROOT-KEY");
  BOOST_TEST(Outcome(BuildCreditsAdded(A(), "ParentAA", 100, "invoice 1")) == "OK");
  BOOST_TEST(Outcome(BuildCreditsAdded(A(), "ParentAA", -30, "correction")) == "OK");
  BOOST_TEST(Key("ParentAA").extras().credits.enabled);
  BOOST_TEST(Key("ParentAA").extras().credits.balance == 70);
  BOOST_TEST(History(kAcct).at(0).detail == "credits: -30 units, balance 70 (correction)");
  BOOST_TEST(Outcome(BuildCreditsConfigSet(A(), "ParentAA", false, 0, fb::RefillPeriod::None,
                                           false)) == "OK");
  BOOST_TEST(!Key("ParentAA").extras().credits.enabled);
  BOOST_TEST(Key("ParentAA").extras().credits.balance == 70);  // kept while off
  // A member may do none of it, not even on its own key.
  for (const std::string& op :
       {BuildRateLimitSet(As(fb::ActorKind::Member, kAcct, "ChildAA1"), "ChildAA1", {}),
        BuildKeyExpirySet(As(fb::ActorKind::Member, kAcct, "ChildAA1"), "ChildAA1", 0),
        BuildCreditsAdded(As(fb::ActorKind::Member, kAcct, "ParentAA"), "ParentAA", 5, "")}) {
    BOOST_TEST(Outcome(op) == "FORBIDDEN");
  }
}

BOOST_AUTO_TEST_SUITE_END()
