// examples/grafana/keymeter.json against what keymeter exposes: two real members of a cluster on
// the broker of scripts/kafka serve traffic of every kind the dashboard draws (ops, authorize
// allowed and denied, a request forwarded to its owner, a dead letter), and then every metric
// name in every panel's expression must be one that a member's /metrics exposes, every
// expression must parse as PromQL (promtool check rules), and every panel must have a target.
#define BOOST_TEST_MODULE grafana_dashboard
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <regex>
#include <set>

#include "consumers/kafka_producer.h"
#include "tests/cluster/cluster_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;
using namespace std::chrono_literals;

namespace {

// The metric names of the samples of /metrics (histograms' _bucket, _sum and _count included).
std::set<std::string> ExposedNames(Member& m) {
  std::set<std::string> names;
  auto r = m.client->Send("GET", "/metrics");
  BOOST_REQUIRE(r);
  std::istringstream lines(r.value().body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

struct Target {
  std::string panel;
  std::string expr;
};

std::vector<Target> DashboardTargets(size_t* panels) {
  std::ifstream in(std::string(KEYMETER_SOURCE_DIR) + "/examples/grafana/keymeter.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_REQUIRE(!text.empty());
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(text);
  std::vector<Target> out;
  *panels = 0;
  for (simdjson::dom::element panel : root["panels"].get_array()) {
    ++*panels;
    const std::string title{std::string_view(panel["title"])};
    size_t targets = 0;
    for (simdjson::dom::element t : panel["targets"].get_array()) {
      out.push_back({title, std::string(std::string_view(t["expr"]))});
      ++targets;
    }
    BOOST_TEST_CONTEXT(title) { BOOST_TEST(targets > 0u); }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_panel_draws_metrics_that_keymeter_exposes) {
  TempDir tmp;
  TestCluster c(tmp, Brokers(), /*started=*/2);
  BOOST_REQUIRE_MESSAGE(c.Settled(0, 2, 90s), "the members did not split the partitions");
  // Traffic: accounts made through one member and keys through the other (forwarded when the
  // account is the other's), authorize allowed and denied through both, a gateway and a dead
  // letter (junk on the topic).
  std::vector<AccountKeys> accounts;
  for (int i = 0; i < 6; ++i) accounts.push_back(MakeAccount(c, i % 2, (i + 1) % 2, "g" + std::to_string(i)));
  for (const AccountKeys& a : accounts) {
    for (size_t m = 0; m < 2; ++m) {
      auto ok = Authorize(c[m], a.key);
      BOOST_REQUIRE(ok);
      BOOST_TEST(ok.value().status == 204);
      auto denied = Authorize(c[m], a.key.substr(0, 8) + std::string(16, 'x'));
      BOOST_REQUIRE(denied);
      BOOST_TEST(denied.value().status == 401);
    }
  }
  auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
  const std::string junk = "not an envelope";
  for (int i = 0; i < 8; ++i) {
    BOOST_REQUIRE(producer
                      ->Produce(c.topic(), "junk" + std::to_string(i),
                                std::span(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()))
                      .ok());
  }
  BOOST_REQUIRE(producer->Flush(10s).ok());

  std::set<std::string> exposed;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline; std::this_thread::sleep_for(250ms)) {
    exposed = ExposedNames(c[0]);
    for (const std::string& name : ExposedNames(c[1])) exposed.insert(name);
    if (exposed.contains("keymeter_dead_letters_total") &&
        exposed.contains("keymeter_cluster_forwarded_total")) {
      break;
    }
  }
  size_t panels = 0;
  const std::vector<Target> targets = DashboardTargets(&panels);
  BOOST_TEST(panels >= 12u);
  const std::regex metric(R"(keymeter_[a-z0-9_]+)");
  size_t checked = 0, rule = 0;
  std::string rules = "groups:\n  - name: keymeter-dashboard\n    rules:\n";
  for (const Target& t : targets) {
    BOOST_TEST_CONTEXT(t.panel << ": " << t.expr) {
      size_t names = 0;
      for (std::sregex_iterator it(t.expr.begin(), t.expr.end(), metric), end; it != end; ++it) {
        BOOST_TEST(exposed.contains(it->str()), it->str() << " is not on any member's /metrics");
        ++names, ++checked;
      }
      BOOST_TEST(names > 0u);
    }
    std::string quoted;
    for (char ch : t.expr) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
    rules += "      - record: keymeter:dashboard_" + std::to_string(++rule) + "\n        expr: '" +
             quoted + "'\n";
  }
  BOOST_TEST(checked >= 20u);
  // Every expression is PromQL that Prometheus accepts.
  const std::string file = tmp.sub("dashboard.rules.yml");
  std::ofstream(file) << rules;
  const int rc = std::system(("/usr/bin/promtool check rules " + file + " > " +
                              tmp.sub("promtool.out") + " 2>&1")
                                 .c_str());
  BOOST_TEST(rc == 0, ReadFile(tmp.sub("promtool.out")));
}
