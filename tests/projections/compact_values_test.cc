// SmallString and AccountRef: the compact values a key carries in memory.
#define BOOST_TEST_MODULE compact_values
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "projections/account_ref.h"
#include "projections/small_string.h"

using namespace keymeter;

BOOST_AUTO_TEST_CASE(small_string_holds_any_length_in_16_bytes) {
  static_assert(sizeof(SmallString) == 16);
  for (size_t n : {0, 1, 14, 15, 16, 17, 100, 5000}) {
    std::string text;
    for (size_t i = 0; i < n; ++i) text.push_back(char('a' + i % 26));
    BOOST_TEST_CONTEXT("length " << n) {
      SmallString s(text);
      BOOST_TEST(s.size() == n);
      BOOST_TEST(s.view() == text);
      BOOST_TEST(std::string(s.c_str()) == text);  // NUL-terminated
      BOOST_TEST(s.empty() == (n == 0));
      SmallString copy = s;
      BOOST_TEST(copy == text);
      SmallString moved = std::move(copy);
      BOOST_TEST(moved == text);
      BOOST_TEST(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
      copy = moved;              // reassigning a moved-from value
      BOOST_TEST(copy.str() == text);
      copy = "short";
      BOOST_TEST(copy == "short");
      copy = text;
      BOOST_TEST(copy == text);
      moved = std::move(copy);
      BOOST_TEST(moved == text);
    }
  }
  SmallString self(std::string(30, 's'));
  self = self.view();  // assigning a view of itself
  BOOST_TEST(self == std::string(30, 's'));
  self = self.view().substr(2, 5);
  BOOST_TEST(self == "sssss");
  std::vector<SmallString> many(1000, SmallString(std::string(40, 'x')));
  many.resize(3000, SmallString("y"));
  BOOST_TEST(many[999] == std::string(40, 'x'));
  BOOST_TEST(many[2999] == "y");
}

BOOST_AUTO_TEST_CASE(account_ref_interns_equal_ids_to_one_string) {
  static_assert(sizeof(AccountRef) == 8);
  const AccountRef a(std::string("acctAAAAAAAAAAAA"));
  const AccountRef b("acctAAAAAAAAAAAA");
  const AccountRef c("acctBBBBBBBBBBBB");
  BOOST_TEST(&a.str() == &b.str());
  BOOST_TEST(&a.str() != &c.str());
  BOOST_TEST((a == b));
  BOOST_TEST(!(a == c));
  BOOST_TEST(a == "acctAAAAAAAAAAAA");
  BOOST_TEST(AccountRef().empty());
  const std::string& s = a;
  BOOST_TEST(s == "acctAAAAAAAAAAAA");
}
