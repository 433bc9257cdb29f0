// The authorizer against a real embedded Pipeline: every reason, rotation grace, the parent's
// status, CIDR v4/v6, inherited products, seed 002's shared pool, member caps, monthly units.
// Exact quotas (reserve) are in reservations_test.cc.
#define BOOST_TEST_MODULE authorizer
#include "engine/authorizer.h"

#include <boost/test/unit_test.hpp>

#include "projections/time_buckets.h"
#include "tests/engine/authorizer_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

BOOST_AUTO_TEST_CASE(each_denial_reason_and_its_status) {
  Engine e;
  e.seed.Account("acctA");
  e.seed.Account("acctC", /*require_confirmation=*/true);
  const std::string parent = e.seed.Key("acctA", "ParentA1");
  const std::string child = e.seed.Key("acctA", "ChildA01", "ParentA1");
  const std::string gone = e.seed.Key("acctA", "GoneA001");
  const std::string paused = e.seed.Key("acctA", "PausedA1");
  const std::string invited = e.seed.Key("acctA", "InviteA1", "", fb::KeyStatus::Pending);
  const std::string unconfirmed = e.seed.Key("acctC", "InviteC1", "", fb::KeyStatus::Pending);
  e.seed.SetStatus("acctA", fb::Op::KeyDeleted, "GoneA001");
  e.seed.SetStatus("acctA", fb::Op::KeySuspended, "PausedA1");

  AuthorizeResult ok = e.Ask(child);
  BOOST_TEST(ok.allowed);
  BOOST_TEST(HttpName(ok.reason) == "OK");
  BOOST_TEST(ok.http_status == 204);
  BOOST_TEST(ok.account_id == "acctA");
  BOOST_TEST(ok.key_id.str() == "ChildA01");
  BOOST_TEST(ok.root_key_id.str() == "ParentA1");
  BOOST_TEST(ok.remaining_daily_requests == AuthorizeResult::kUnlimited);  // no quota set
  const TimeUs now = NowUs();
  BOOST_TEST(e.Ask(parent, now).reset_daily == DayStart(now) + kMicrosPerDay);
  BOOST_TEST(e.Ask(parent, now).reset_monthly == NextMonthStart(now));

  const std::vector<std::tuple<std::string, Code, int>> cases = {
      {"short", reason::kMalformedKey, 401},
      {"", reason::kMalformedKey, 401},
      {parent.substr(0, 23) + "-", reason::kMalformedKey, 401},
      {parent + "x", reason::kMalformedKey, 401},
      {"NoSuchK1" + parent.substr(8), reason::kNotFound, 401},
      // A wrong secret of an existing id looks like an unknown key.
      {parent.substr(0, 8) + RandomKeyChars(16), reason::kNotFound, 401},
      {gone, reason::kDeleted, 403},
      {paused, reason::kSuspended, 403},
      {unconfirmed, reason::kPendingConfirmation, 403},
      {invited, reason::kOk, 204},  // pending keys authorize unless the account says otherwise
  };
  for (const auto& [key, why, status] : cases) {
    BOOST_TEST_CONTEXT("expecting " << why) {
      AuthorizeResult r = e.Ask(key);
      BOOST_TEST(r.reason == why);
      BOOST_TEST(r.http_status == status);
      BOOST_TEST(r.allowed == (why == reason::kOk));
      BOOST_TEST(r.identified == (status != 401));
      if (status == 401) BOOST_TEST(r.account_id.empty());
    }
  }
  BOOST_TEST(
      e.authorizer.Authorize({.key = parent, .reserve = true, .request_id = "nope"}, now).reason ==
      reason::kInvalidRequestId);
}

BOOST_AUTO_TEST_CASE(a_suspended_or_deleted_parent_denies_its_children) {
  Engine e;
  e.seed.Account("acctP");
  e.seed.Key("acctP", "ParentP1");
  const std::string child = e.seed.Key("acctP", "ChildP01", "ParentP1");
  BOOST_TEST(e.Ask(child).allowed);
  e.seed.SetStatus("acctP", fb::Op::KeySuspended, "ParentP1");
  BOOST_TEST(e.Ask(child).reason == reason::kParentSuspended);
  BOOST_TEST(e.Ask(child).http_status == 403);
  e.seed.SetStatus("acctP", fb::Op::KeyActivated, "ParentP1");
  BOOST_TEST(e.Ask(child).allowed);
}

BOOST_AUTO_TEST_CASE(rotated_keys_keep_the_old_secret_only_during_the_grace_period) {
  Engine e;
  e.seed.Account("acctR");
  const std::string first = e.seed.Key("acctR", "RotateR1");
  const TimeUs grace_until = NowUs() + 3600 * kMicrosPerSecond;
  const std::string second = e.seed.Rotate("acctR", "RotateR1", grace_until);
  BOOST_TEST(e.Ask(second).allowed);
  BOOST_TEST(e.Ask(first).allowed);
  BOOST_TEST(e.Ask(first, grace_until - 1).allowed);
  BOOST_TEST(e.Ask(first, grace_until).reason == reason::kNotFound);
  BOOST_TEST(e.Ask(second, grace_until).allowed);
  // Rotating without grace revokes the previous secret at once (and the one before it too).
  const std::string third = e.seed.Rotate("acctR", "RotateR1", 0);
  BOOST_TEST(e.Ask(third).allowed);
  BOOST_TEST(e.Ask(second).reason == reason::kNotFound);
  BOOST_TEST(e.Ask(first).reason == reason::kNotFound);
}

BOOST_AUTO_TEST_CASE(allowed_sources_match_ipv4_and_ipv6_blocks) {
  Engine e;
  e.seed.Account("acctS");
  const std::string fenced = e.seed.Key("acctS", "FencedS1");
  const std::string open = e.seed.Key("acctS", "OpenS001");
  e.seed.Sources("acctS", "FencedS1", {"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"});
  for (const auto& [ip, allowed] :
       std::vector<std::pair<std::string, bool>>{{"10.1.2.3", true},
                                                 {"192.0.2.7", true},
                                                 {"192.0.2.8", false},
                                                 {"11.0.0.1", false},
                                                 {"2001:db8::5", true},
                                                 {"2001:db9::1", false},
                                                 {"::ffff:10.0.0.1", true},
                                                 {"not an ip", false},
                                                 {"", false}}) {
    BOOST_TEST_CONTEXT("ip " << ip) {
      AuthorizeResult r = e.Ask(fenced, NowUs(), ip);
      BOOST_TEST(r.allowed == allowed);
      if (!allowed) BOOST_TEST(r.reason == reason::kForbiddenSource);
      BOOST_TEST(e.Ask(open, NowUs(), ip).allowed);  // no list: any source
    }
  }
}

// Seed 002's allowed domains: each key is checked on its own list, against the calling site.
BOOST_AUTO_TEST_CASE(allowed_domains_match_the_calling_site_per_key) {
  Engine e;
  e.seed.Account("acctD");
  const std::string root = e.seed.Key("acctD", "RootD001");
  const std::string fenced = e.seed.Key("acctD", "ChildD01", "RootD001");
  const std::string open = e.seed.Key("acctD", "ChildD02", "RootD001");
  e.seed.Sources("acctD", "RootD001", {}, {"acme.test"});
  e.seed.Sources("acctD", "ChildD01", {}, {"app.acme.test", "*.cdn.acme.test"});
  auto ask = [&](const std::string& key, std::string_view origin) {
    return e.authorizer.Authorize({.key = key, .origin = origin}, NowUs());
  };
  for (const auto& [origin, allowed] : std::vector<std::pair<std::string, bool>>{
           {"https://app.acme.test", true},
           {"https://App.Acme.Test:8443/page", true},
           {"https://eu.cdn.acme.test/x.js", true},
           {"https://cdn.acme.test", false},  // a wildcard does not cover the bare domain
           {"https://acme.test", false},      // the parent's list is not the child's
           {"https://evil.test", false},
           {"", false}}) {
    BOOST_TEST_CONTEXT("origin '" << origin << "'") {
      const AuthorizeResult r = ask(fenced, origin);
      BOOST_TEST(r.allowed == allowed);
      if (!allowed) BOOST_TEST((r.reason == reason::kForbiddenOrigin && r.http_status == 403));
      BOOST_TEST(ask(open, origin).allowed);  // a child without a list is not checked
    }
  }
  BOOST_TEST(ask(root, "https://acme.test").allowed);
  BOOST_TEST(ask(root, "https://app.acme.test").reason == reason::kForbiddenOrigin);
}

BOOST_AUTO_TEST_CASE(children_use_their_parents_products) {
  Engine e;
  e.seed.Account("acctG");
  const std::string parent = e.seed.Key("acctG", "ParentG1");
  const std::string child = e.seed.Key("acctG", "ChildG01", "ParentG1");
  BOOST_TEST(e.Ask(child, NowUs(), "", "anything").allowed);  // no list: every product
  e.seed.Products("acctG", "ParentG1", {"search", "maps"});
  BOOST_TEST(e.Ask(child, NowUs(), "", "maps").allowed);
  BOOST_TEST(e.Ask(child, NowUs(), "", "video").reason == reason::kForbiddenProduct);
  BOOST_TEST(e.Ask(child, NowUs(), "", "").reason == reason::kForbiddenProduct);
  BOOST_TEST(e.Ask(parent, NowUs(), "", "search").allowed);
}

// Seed 002: the members of a parent share its daily pool; request N+1 of the family is refused,
// whichever member sends it.
BOOST_AUTO_TEST_CASE(members_share_the_parents_daily_pool) {
  Engine e;
  constexpr uint64_t kQuota = 7;
  e.seed.Account("acctQ");
  const std::string parent = e.seed.Key("acctQ", "ParentQ1");
  e.seed.Quota("acctQ", "ParentQ1", kQuota, 0);
  std::vector<std::string> members;
  for (std::string id : {"MemberQ1", "MemberQ2", "MemberQ3"}) {
    members.push_back(e.seed.Key("acctQ", id, "ParentQ1"));
  }
  for (uint64_t i = 0; i < kQuota; ++i) {
    BOOST_TEST_CONTEXT("request " << i) {
      for (const std::string& m : members) {
        AuthorizeResult r = e.Ask(m);
        BOOST_TEST(r.allowed);
        BOOST_TEST(r.remaining_daily_requests == kQuota - i - 1);
      }
    }
    e.seed.Request("acctQ", members[i % 3].substr(0, 8));
    e.seed.Barrier("acctQ");
  }
  for (const std::string& key : {members[0], members[1], members[2], parent}) {
    AuthorizeResult r = e.Ask(key);
    BOOST_TEST(r.reason == reason::kDailyQuotaExceeded);
    BOOST_TEST(r.http_status == 429);
    BOOST_TEST(r.remaining_daily_requests == 0u);
  }
  // Tomorrow the pool is empty again.
  BOOST_TEST(e.Ask(members[0], NowUs() + kMicrosPerDay).allowed);
}

BOOST_AUTO_TEST_CASE(a_member_cap_limits_one_child_inside_the_pool) {
  Engine e;
  e.seed.Account("acctM");
  e.seed.Key("acctM", "ParentM1");
  e.seed.Quota("acctM", "ParentM1", 100, 0);
  const std::string capped = e.seed.Key("acctM", "CappedM1", "ParentM1");
  const std::string free = e.seed.Key("acctM", "FreeM001", "ParentM1");
  e.seed.Cap("acctM", "CappedM1", 2);
  BOOST_TEST(e.Ask(capped).remaining_daily_requests == 1u);  // min(pool 99, cap 1)
  e.seed.Request("acctM", "CappedM1");
  e.seed.Request("acctM", "CappedM1");
  e.seed.Barrier("acctM");
  BOOST_TEST(e.Ask(capped).reason == reason::kMemberCapExceeded);
  BOOST_TEST(e.Ask(capped).http_status == 429);
  AuthorizeResult sibling = e.Ask(free);
  BOOST_TEST(sibling.allowed);
  BOOST_TEST(sibling.remaining_daily_requests == 97u);
}

BOOST_AUTO_TEST_CASE(monthly_units_count_the_units_of_each_request) {
  Engine e;
  e.seed.Account("acctU");
  const std::string parent = e.seed.Key("acctU", "ParentU1");
  const std::string child = e.seed.Key("acctU", "ChildU01", "ParentU1");
  e.seed.Quota("acctU", "ParentU1", 0, 10);
  e.seed.Request("acctU", "ChildU01", 4);
  e.seed.Request("acctU", "ParentU1", 4);
  e.seed.Barrier("acctU");
  AuthorizeResult fits = e.Ask(child, NowUs(), "", "", 2);
  BOOST_TEST(fits.allowed);
  BOOST_TEST(fits.remaining_monthly_units == 0u);
  BOOST_TEST(fits.remaining_daily_requests == AuthorizeResult::kUnlimited);
  AuthorizeResult over = e.Ask(parent, NowUs(), "", "", 3);
  BOOST_TEST(over.reason == reason::kMonthlyQuotaExceeded);
  BOOST_TEST(over.remaining_monthly_units == 2u);
  BOOST_TEST(e.Ask(parent, NextMonthStart(NowUs()), "", "", 10).allowed);
}
