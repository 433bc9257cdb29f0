// GET /metrics of a running `keymeter serve` after real traffic (authorize decisions, request
// events, a dead letter, admin routes, an unknown route) passes `promtool check metrics`
// (Debian's prometheus package) with no complaint, and carries the lag per partition. The other
// routes without a credential answer too: GET /v1/openapi.yaml serves docs/openapi.yaml as it
// is, and the console its pages (so their answers are checked against the spec like every
// other: tests/api/openapi_recorder.h). Runs on the embedded log and, as metrics_test_kafka, on
// a real broker.
#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>

#include "tests/api/api_fixture.h"

using namespace keymeter::testing;

namespace {

// The value of every sample of `name` (by its label text), from the text format.
std::map<std::string, double> Samples(const std::string& text, const std::string& name) {
  std::map<std::string, double> out;
  const std::regex line("^" + name + R"((\{[^}]*\})? ([^ ]+)$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out[m[1].str()] = std::stod(m[2].str());
  }
  return out;
}

// Runs promtool on `metrics`; returns its exit code and everything it printed.
std::pair<int, std::string> Promtool(const TempDir& dir, const std::string& metrics) {
  const std::string in = dir.sub("metrics.txt"), out = dir.sub("promtool.txt");
  std::ofstream(in) << metrics;
  const std::string command =
      std::string(PROMTOOL) + " check metrics < " + in + " > " + out + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream result(out);
  std::stringstream printed;
  printed << result.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, printed.str()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(metrics_pass_promtool_and_show_lag_per_partition) {
  ApiServer s;
  auto [account, token] = s.CreateAccount("Metered");
  const std::string key = s.IssueKey(token, "owner", "", "active");
  const std::string id = key.substr(0, 8);
  BOOST_REQUIRE_EQUAL(s.Call("PUT", "/v1/keys/" + id + "/quota", R"({"daily_requests":3})", token)
                          .status,
                      200);

  // Authorize decisions: allowed, unknown key, malformed key.
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, key).status == 204);
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, id + std::string(16, 'x')).status ==
             401);
  BOOST_TEST(HttpCall(s.port(), "GET", "/v1/authorize", {}, "short").status == 401);
  // Request events, and one an hour ahead of the log's time: a FUTURE-TIMESTAMP dead letter.
  std::string events;
  for (int i = 0; i < 5; ++i) events += EventLine(id, i, 10 + i, "search", 200);
  events += EventLine(id, 99, -3600, "search", 200);
  s.PostEvents(events);
  s.WaitForRequests(token, id, 5);
  // Routes: reads, a 404 route, a 405.
  BOOST_TEST(s.Call("GET", "/v1/usage", {}, token).status == 200);
  BOOST_TEST(s.Call("GET", "/v1/nowhere").status == 404);
  BOOST_TEST(s.Call("DELETE", "/healthz").status == 405);

  // The dead letter and the lag reach /metrics within a batch or two.
  std::string text;
  std::map<std::string, double> lag, end, next, dead;
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    Reply r = s.Call("GET", "/metrics");
    BOOST_REQUIRE_EQUAL(r.status, 200);
    BOOST_TEST(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0u);
    text = r.body;
    lag = Samples(text, "keymeter_partition_lag_messages");
    end = Samples(text, "keymeter_partition_log_end_offset");
    next = Samples(text, "keymeter_partition_next_offset");
    dead = Samples(text, "keymeter_dead_letters_total");
    double ends = 0, nexts = 0, lags = 0;
    for (const auto& [labels, v] : end) ends += v;
    for (const auto& [labels, v] : next) nexts += v;
    for (const auto& [labels, v] : lag) lags += v;
    if (!dead.empty() && end.size() == 4 && lag.size() == 4 && ends == nexts && lags == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST_MESSAGE("lag " << lag.size() << " partitions");
  BOOST_TEST(dead[R"({reason="FUTURE-TIMESTAMP"})"] == 1.0);
  // One lag and one end gauge per partition the source reads (4 in both modes), all caught up;
  // the account's partition holds its ops and 6 events.
  BOOST_TEST(lag.size() == 4u);
  BOOST_TEST(end.size() == 4u);
  double total_end = 0;
  for (const auto& [labels, v] : end) {
    BOOST_TEST_CONTEXT(labels) {
      BOOST_TEST(lag[labels] == 0.0);
      BOOST_TEST(v == (next.count(labels) ? next[labels] : 0.0));
    }
    total_end += v;
  }
  BOOST_TEST(total_end >= 9.0);  // account, key, quota, 6 events
  // No Kafka client failed for good here (kafka_pipeline_test makes one that does).
  const std::map<std::string, double> replaced =
      Samples(text, "keymeter_kafka_clients_replaced_total");
  BOOST_TEST(replaced.size() == 2u);
  BOOST_TEST(replaced.at(R"({client="consumer"})") == 0.0);
  BOOST_TEST(replaced.at(R"({client="producer"})") == 0.0);
  const std::map<std::string, double> dropped = Samples(text, "keymeter_partitions_dropped_total");
  BOOST_TEST(dropped.size() == 1u);
  BOOST_TEST(dropped.contains(""));
  if (dropped.contains("")) BOOST_TEST(dropped.at("") == 0.0);
  for (const std::string part :
       {R"(keymeter_authorize_decisions_total{reason="OK"} 1)",
        R"(keymeter_authorize_decisions_total{reason="NOT_FOUND"} 1)",
        R"(keymeter_authorize_decisions_total{reason="MALFORMED_KEY"} 1)",
        R"(keymeter_http_requests_total{route="unmatched",status="404"} 1)",
        R"(keymeter_http_requests_total{route="/v1/usage",status="200"} 1)",
        R"(keymeter_events_applied_total{op="RequestEvent"} 5)", "keymeter_batch_commit_seconds",
        "keymeter_rocksdb_live_data_bytes", "keymeter_watermark_seconds"}) {
    BOOST_CHECK_MESSAGE(text.find(part) != std::string::npos, "metrics lack " << part);
  }
  // The memory of the bounded parts, beside the resident set that holds them.
  std::map<std::string, double> memory = Samples(text, "keymeter_memory_bytes");
  BOOST_TEST(memory[R"({part="resident"})"] > 1e6);
#ifndef __SANITIZE_ADDRESS__  // ASan's allocator answers mallinfo2() with zeros
  BOOST_TEST(memory[R"({part="heap_in_use"})"] > 0.0);
#endif
  BOOST_TEST(memory[R"({part="heap_in_use"})"] < memory[R"({part="resident"})"]);
  BOOST_TEST(memory[R"({part="dedupe"})"] > 0.0);  // 5 request ids in the window
  BOOST_TEST(memory.count(R"({part="rocksdb_block_cache"})") == 1u);
  BOOST_TEST(memory[R"({part="rocksdb_memtables"})"] > 0.0);
  BOOST_TEST(memory.count(R"({part="rocksdb_table_readers"})") == 1u);
  BOOST_TEST(Samples(text, "keymeter_dedupe_entries")[""] == 5.0);
  // Back-pressure and the projector's own profile: a caught-up source buffers nothing, and the
  // projector has spent some time in each phase by now.
  BOOST_TEST(Samples(text, "keymeter_source_buffered_messages")[""] == 0.0);
  BOOST_TEST(Samples(text, "keymeter_source_buffer_full")[""] == 0.0);
  std::map<std::string, double> phases = Samples(text, "keymeter_projector_seconds_total");
  BOOST_TEST(phases.size() == 3u);
  BOOST_TEST(phases[R"({phase="apply"})"] > 0.0);
  BOOST_TEST(phases[R"({phase="poll"})"] > 0.0);

  const auto [status, printed] = Promtool(s.dir(), text);
  BOOST_TEST(status == 0);
  BOOST_TEST(printed == "", "promtool check metrics said:\n" << printed);
}

BOOST_AUTO_TEST_CASE(the_spec_and_the_console_are_served_without_a_credential) {
  ApiServer s;
  const Reply spec = s.Call("GET", "/v1/openapi.yaml");
  BOOST_TEST(spec.status == 200);
  BOOST_TEST(spec.content_type == "application/yaml");
  BOOST_TEST(spec.body == ReadFile(std::string(KEYMETER_SOURCE_DIR) + "/docs/openapi.yaml"));
  BOOST_TEST(s.Call("GET", "/healthz").status == 200);
  BOOST_TEST(s.Call("GET", "/readyz").status == 200);
  const Reply moved = s.Call("GET", "/console");
  BOOST_TEST(moved.status == 308);
  BOOST_TEST(moved.Header("Location") == "/console/");
  const Reply index = s.Call("GET", "/console/");
  BOOST_TEST(index.status == 200);
  BOOST_TEST(index.content_type == "text/html; charset=utf-8");
  BOOST_TEST(s.Call("GET", "/console/app.js").status == 200);
  BOOST_TEST(s.Call("GET", "/console/style.css").status == 200);
  BOOST_TEST(s.Call("GET", "/console/no-such-file.js").status == 404);
}
