#define BOOST_TEST_MODULE secrets
#include <boost/test/unit_test.hpp>

#include <set>

#include "engine/secrets.h"

using namespace keymeter;

BOOST_AUTO_TEST_CASE(keys_are_24_characters_of_the_alphabet) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string key = GenerateKey([](KeyId) { return false; }).value();
    BOOST_REQUIRE(key.size() == kKeyLength);
    for (char c : key) BOOST_REQUIRE(IsKeyChar(c));
    BOOST_REQUIRE(seen.insert(key).second);
  }
}

BOOST_AUTO_TEST_CASE(a_taken_id_is_retried_never_accepted) {
  int asked = 0;
  std::string key = GenerateKey([&](KeyId) { return ++asked < 3; }).value();
  BOOST_TEST(asked == 3);
  BOOST_TEST(key.size() == kKeyLength);
  BOOST_TEST(GenerateKey([](KeyId) { return true; }).has_error());
}

BOOST_AUTO_TEST_CASE(rotation_keeps_the_id) {
  KeyId id = *KeyId::Parse("Abcd1234");
  std::string key = RotateKey(id);
  BOOST_TEST(key.size() == kKeyLength);
  BOOST_TEST(key.substr(0, 8) == "Abcd1234");
  BOOST_TEST(RotateKey(id) != key);
}

BOOST_AUTO_TEST_CASE(sha256_and_constant_time_compare) {
  // FIPS 180-2 test vector.
  Digest abc = Sha256("abc");
  BOOST_TEST(abc[0] == 0xba);
  BOOST_TEST(abc[31] == 0xad);
  BOOST_TEST(DigestEqual(abc, Sha256("abc")));
  BOOST_TEST(!DigestEqual(abc, Sha256("abd")));
}

BOOST_AUTO_TEST_CASE(tokens_and_account_ids) {
  std::string token = GenerateAdminToken();
  BOOST_TEST(token.size() == 44u);
  BOOST_TEST(token.substr(0, 4) == "kmt_");
  BOOST_TEST(GenerateAccountId().size() == 16u);
  BOOST_TEST(GenerateAdminToken() != token);
}

BOOST_AUTO_TEST_CASE(key_id_parsing) {
  BOOST_TEST(KeyId::Parse("Abcd1234").has_value());
  BOOST_TEST(KeyId::Parse("Abcd1234EFGH5678ijkl9012").has_value());
  BOOST_TEST((*KeyId::Parse("Abcd1234EFGH5678ijkl9012") == *KeyId::Parse("Abcd1234")));
  BOOST_TEST(!KeyId::Parse("Abcd123").has_value());
  BOOST_TEST(!KeyId::Parse("Abcd12345").has_value());
  BOOST_TEST(!KeyId::Parse("Abcd-234").has_value());
  BOOST_TEST(KeyId::Parse("Abcd1234")->str() == "Abcd1234");
}
