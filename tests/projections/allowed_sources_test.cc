#define BOOST_TEST_MODULE allowed_sources
#include <boost/test/unit_test.hpp>

#include "projections/allowed_sources.h"

using namespace keymeter;

BOOST_AUTO_TEST_CASE(parses_addresses_and_blocks_of_both_families) {
  BOOST_TEST(Cidr::Parse("203.0.113.7").has_value());
  BOOST_TEST(Cidr::Parse("10.0.0.0/8").has_value());
  BOOST_TEST(Cidr::Parse("0.0.0.0/0").has_value());
  BOOST_TEST(Cidr::Parse("2001:db8::/32").has_value());
  BOOST_TEST(Cidr::Parse("::1").has_value());
  BOOST_TEST(Cidr::Parse("::/0").has_value());
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "10.0.0.1/8", "1.2.3", "1.2.3.4.5",
                          "2001:db8::/129", "2001:db8::1/32", "example.com", "10.0.0.0/8x",
                          "10.0.0.0/-1", " 10.0.0.1"}) {
    BOOST_TEST(!Cidr::Parse(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(matches_by_prefix) {
  AllowedSources s({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "172.16.0.0/12"});
  BOOST_TEST(s.AllowsIp(*ParseIp("10.255.1.2")));
  BOOST_TEST(s.AllowsIp(*ParseIp("192.168.1.7")));
  BOOST_TEST(!s.AllowsIp(*ParseIp("192.168.1.8")));
  BOOST_TEST(s.AllowsIp(*ParseIp("172.31.255.255")));
  BOOST_TEST(!s.AllowsIp(*ParseIp("172.32.0.0")));
  BOOST_TEST(s.AllowsIp(*ParseIp("2001:db8:ffff::1")));
  BOOST_TEST(!s.AllowsIp(*ParseIp("2001:db9::1")));
  BOOST_TEST(!s.AllowsIp(*ParseIp("11.0.0.1")));
  BOOST_TEST(AllowedSources().AllowsIp(*ParseIp("8.8.8.8")));  // empty list allows all
}

BOOST_AUTO_TEST_CASE(validates_domains) {
  for (const char* good : {"example.com", "a.b.c", "*.example.com", "x-1.example"}) {
    BOOST_TEST(IsValidDomain(good), good);
  }
  for (const char* bad : {"", "-a.com", "a-.com", "a..com", "EXAMPLE.com", "a_b.com", "*.", ".",
                          "a.com.", "*.com", "*", "b\xc3\xbc" "cher.example"}) {
    BOOST_TEST(!IsValidDomain(bad), bad);
  }
  BOOST_TEST(IsValidDomain("xn--bcher-kva.example"));  // an IDN in its ASCII form
}

BOOST_AUTO_TEST_CASE(origin_host_is_the_bare_lowercase_host) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://App.Acme.test", "app.acme.test"},
      {"https://app.acme.test:8443", "app.acme.test"},
      {"https://app.acme.test/page?q=1#x", "app.acme.test"},
      {"http://user:pw@app.acme.test/", "app.acme.test"},
      {"app.acme.test.", "app.acme.test"},
      {" https://app.acme.test ", "app.acme.test"},
      {"http://[2001:db8::1]:8080/", "2001:db8::1"},
      {"null", "null"},  // what a browser sends from a sandboxed page: matches no domain
      {"", ""},
      {"https://", ""},
  };
  for (const auto& [value, host] : cases) BOOST_TEST(OriginHost(value) == host, value);
}

BOOST_AUTO_TEST_CASE(domains_match_exactly_or_under_a_wildcard) {
  const std::vector<std::string> domains = {"app.acme.test", "*.cdn.acme.test"};
  for (const char* host : {"app.acme.test", "eu.cdn.acme.test", "a.b.cdn.acme.test"}) {
    BOOST_TEST(DomainAllowed(domains, host), host);
  }
  for (const char* host : {"cdn.acme.test", "acme.test", "evil-app.acme.test", "app.acme.test.evil",
                           "xcdn.acme.test", "", "null"}) {
    BOOST_TEST(!DomainAllowed(domains, host), host);
  }
  BOOST_TEST(DomainAllowed(domains, OriginHost("HTTPS://APP.ACME.TEST:443/")));
  BOOST_TEST(!DomainAllowed({}, "app.acme.test"));  // an empty list allows nothing here:
  // the authorizer checks domains only for a key that has some
}
