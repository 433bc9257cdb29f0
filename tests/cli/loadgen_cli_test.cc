// `keymeter loadgen`'s flags (in process, through the real CLI11 parser: what is required with
// and without --setup, where events go, conflicting flags), and the population file it writes and
// reads: a round trip, strict decoding, no secret in it, Zipf popularity.
#define BOOST_TEST_MODULE loadgen_cli
#include <CLI/CLI.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>

#include "cli/loadgen.h"
#include "cli/loadgen_population.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

struct Parsed {
  LoadgenCommandOptions options;
  std::string error;  // empty when parsing succeeded
};

Parsed Parse(std::vector<std::string> args) {
  Parsed out;
  CLI::App app("test", "keymeter");
  AddLoadgenCommand(app, &out.options);
  args.insert(args.begin(), "loadgen");
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    out.error = e.what();
  }
  return out;
}

Population Sample() {
  Population p;
  p.products = {"whois", "dns"};
  p.accounts = {"acctAAAA", "acctBBBB"};
  p.keys = {{"RootA001", "acctAAAA", ""}, {"RootB001", "acctBBBB", ""},
            {"KidA0001", "acctAAAA", "RootA001"}};
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(flags_say_what_is_missing_or_conflicting) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> errors = {
      {{"--url", "http://127.0.0.1:1"}, "--population FILE (from an earlier --setup"},
      {{"--setup", "--operator-token", "t"}, "--url (the API to create keys with) with --setup"},
      {{"--setup", "--url", "http://127.0.0.1:1"}, "--operator-token"},
      {{"--population", "p.json"}, "--url or --brokers"},
      {{"--population", "p.json", "--topic", "t"}, "--topic requires --brokers"},
      {{"--population", "p.json", "--url", "nope"}, "--url: wants http://HOST:PORT"},
      {{"--population", "p.json", "--brokers", "h:1", "--count", "5", "--duration", "1s"},
       "excludes"},
      {{"--population", "p.json", "--brokers", "h:1", "--duration", "soon"}, "--duration"},
      {{"--population", "p.json", "--brokers", "h:1", "--rate", "-1"}, "--rate"},
      {{"--setup", "--url", "http://h:1", "--operator-token", "t", "--accounts", "5", "--keys",
        "2"},
       "--keys: must be at least --accounts"},
  };
  for (const auto& [args, says] : errors) {
    Parsed p = Parse(args);
    BOOST_CHECK_MESSAGE(p.error.find(says) != std::string::npos,
                        "for " << args[0] << "...: '" << p.error << "' lacks '" << says << "'");
  }
  Parsed kafka = Parse({"--population", "p.json", "--brokers", "h:1", "--topic", "t", "--rate",
                        "500", "--duration", "2m"});
  BOOST_TEST(kafka.error == "");
  BOOST_TEST(kafka.options.topic == "t");
  BOOST_TEST(kafka.options.rate == 500.0);
  Parsed setup = Parse({"--setup", "--url", "http://127.0.0.1:9", "--operator-token", "t",
                        "--population", "p.json", "--count", "10"});
  BOOST_TEST(setup.error == "");
  BOOST_TEST(setup.options.brokers.empty());
  BOOST_TEST(setup.options.topic == "keymeter.events");
}

BOOST_AUTO_TEST_CASE(population_round_trips_and_decodes_strictly) {
  TempDir dir;
  const std::string path = dir.sub("population.json");
  BOOST_REQUIRE(SavePopulation(path, Sample()).ok());
  Result<Population> back = LoadPopulation(path);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back.value().products == Sample().products);
  BOOST_TEST(back.value().accounts == Sample().accounts);
  BOOST_REQUIRE_EQUAL(back.value().keys.size(), 3u);
  BOOST_TEST(back.value().keys[2].parent == "RootA001");
  BOOST_TEST(EncodePopulation(back.value()) == EncodePopulation(Sample()));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{", "not JSON"},
      {R"({"format":"other"})", "not a loadgen population"},
      {R"({"format":"keymeter-loadgen-population/1","products":[],"accounts":[],"keys":[]})",
       "no products"},
      {R"({"format":"keymeter-loadgen-population/1","products":["a"],"accounts":["x"],"keys":[]})",
       "no keys"},
      {R"({"format":"keymeter-loadgen-population/1","products":["a"],"accounts":["x"],)"
       R"("keys":[{"key_id":"short","account_id":"x","parent":""}]})",
       "not 8 characters"},
      {R"({"format":"keymeter-loadgen-population/1","products":["a"],"accounts":["x"],)"
       R"("keys":[{"key_id":"KeyId001","account_id":"y","parent":""}]})",
       "not in \"accounts\""},
  };
  for (const auto& [text, says] : bad) {
    Result<Population> p = DecodePopulation(text);
    BOOST_REQUIRE(!p.has_value());
    BOOST_TEST(p.error().name() == "POPULATION-INVALID");
    BOOST_CHECK_MESSAGE(p.error().message().find(says) != std::string::npos, p.error().message());
  }
  Result<Population> missing = LoadPopulation(dir.sub("none.json"));
  BOOST_TEST(missing.error().name() == "POPULATION-UNREADABLE");
  BOOST_TEST(missing.error().message().find("--setup --population") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(zipf_popularity_is_skewed_and_covers_the_keys) {
  ZipfPicker zipf(100, 1.1, 7);
  std::mt19937_64 rng(1);
  std::map<size_t, int> hits;
  for (int i = 0; i < 100'000; ++i) ++hits[zipf.Pick(rng)];
  int top = 0;
  for (const auto& [index, n] : hits) {
    BOOST_TEST(index < 100u);
    top = std::max(top, n);
  }
  // Rank 1 of Zipf(1.1) over 100 keys takes ~22% of the picks; a uniform pick would take 1%.
  BOOST_TEST(top > 15'000);
  BOOST_TEST(hits.size() > 80u);
}
