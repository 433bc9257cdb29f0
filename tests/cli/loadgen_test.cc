// `keymeter loadgen` end to end against a real `keymeter serve` on a real broker: --setup creates
// the population through the API, posts events over HTTP and saves the population (ids only);
// a second run without --setup reads the file and produces its events straight into the Kafka
// topic; every event of both runs shows up in the operator's billing usage.
#define BOOST_TEST_MODULE loadgen
#include <boost/test/unit_test.hpp>
#include <ctime>
#include <fstream>
#include <sstream>

#include "cli/loadgen_population.h"
#include "tests/api/api_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

struct Run {
  int code = -1;
  std::string summary;
  std::string err;
};

Run Loadgen(const ApiServer& s, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"loadgen"};
  all.insert(all.end(), args.begin(), args.end());
  auto process = Spawn(KEYMETER_BINARY, all, s.dir().sub("loadgen.err"),
                       {std::string("KEYMETER_OPERATOR_TOKEN=") + kOperatorToken});
  Run run;
  run.summary = process->ReadLine(120s);
  run.code = process->Wait(60s);
  run.err = process->Stderr();
  return run;
}

int64_t BilledRequests(const ApiServer& s) {
  char month[8];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(month, sizeof month, "%Y-%m", &tm);
  Reply r = s.Call("GET", std::string("/v1/billing/usage?month=") + month, {}, kOperatorToken);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  Json j = r.json();
  int64_t total = 0;
  for (size_t a = 0; a < j.Size("/accounts"); ++a) {
    total += j.Int("/accounts/" + std::to_string(a) + "/totals/requests");
  }
  return total;
}

}  // namespace

BOOST_AUTO_TEST_CASE(setup_saves_the_population_and_a_second_run_feeds_kafka) {
  ::setenv("KEYMETER_TEST_LOG", "kafka", 1);  // this server follows a fresh topic
  ApiServer s;
  BOOST_REQUIRE(!s.topic().empty());
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port());
  const std::string population = s.dir().sub("population.json");

  Run setup = Loadgen(s, {"--setup", "--url", url, "--accounts", "3", "--keys", "12",
                          "--population", population, "--count", "300"});
  BOOST_REQUIRE_MESSAGE(setup.code == 0, setup.summary << " / " << setup.err);
  BOOST_TEST(setup.summary.find(R"("target":"http","accounts":3,"keys":12,)") == 1u,
             setup.summary);
  BOOST_TEST(setup.summary.find(R"("events_sent":300,"accepted":300,"rejected":0)") !=
                 std::string::npos,
             setup.summary);

  // The file: ids only, no admin token, no plain key.
  std::ifstream in(population);
  std::stringstream text;
  text << in.rdbuf();
  BOOST_TEST(text.str().find("kmt_") == std::string::npos);
  BOOST_TEST(text.str().find("token") == std::string::npos);
  Result<Population> saved = DecodePopulation(text.str());
  BOOST_REQUIRE(saved.has_value());
  BOOST_TEST(saved.value().accounts.size() == 3u);
  BOOST_TEST(saved.value().keys.size() == 12u);
  size_t children = 0;
  for (const PopulationKey& k : saved.value().keys) {
    BOOST_TEST(k.key_id.size() == 8u);
    children += k.parent.empty() ? 0 : 1;
  }
  BOOST_TEST(children > 0u);

  Run kafka = Loadgen(s, {"--population", population, "--brokers", Brokers(), "--topic",
                          s.topic(), "--count", "700", "--rate", "5000"});
  BOOST_REQUIRE_MESSAGE(kafka.code == 0, kafka.summary << " / " << kafka.err);
  BOOST_TEST(kafka.summary.find(R"("target":"kafka","accounts":3,"keys":12,)") == 1u,
             kafka.summary);
  BOOST_TEST(kafka.summary.find(R"("events_sent":700,"accepted":700,"rejected":0)") !=
                 std::string::npos,
             kafka.summary);

  int64_t billed = 0;
  for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline && billed < 1000;) {
    billed = BilledRequests(s);
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(billed == 1000);
}
