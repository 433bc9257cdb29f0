// `keymeter serve` as a real process: the ops endpoints, flags from the command line and the
// environment, exit codes (0 after SIGTERM/SIGINT, 1 unusable data dir or address, 2 usage).
#define BOOST_TEST_MODULE serve
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/process_fixture.h"
#include "tests/common/temp_dir.h"

using namespace keymeter::testing;

BOOST_AUTO_TEST_CASE(serves_the_ops_endpoints_and_stops_cleanly_on_sigterm) {
  TempDir dir;
  auto server = Spawn(
      {"serve", "--data-dir", dir.sub("db"), "--listen", "127.0.0.1:0", "--http-threads", "2"},
      dir.sub("err"));
  const std::string line = server->ReadLine(30s);
  const uint16_t port = PortOf(line);
  BOOST_TEST(line.find("data dir " + dir.sub("db")) != std::string::npos);
  BOOST_TEST(line.find("embedded log") != std::string::npos);

  auto health = WaitHealthy(port);
  BOOST_REQUIRE(health);
  BOOST_TEST(health->body() == R"({"status":"ok"})");
  // Ready once the projector has caught up with the (empty) embedded log.
  auto ready = Get(port, "/readyz");
  for (int i = 0; i < 100 && ready && ready->result_int() != 200u; ++i) {
    std::this_thread::sleep_for(50ms);
    ready = Get(port, "/readyz");
  }
  BOOST_REQUIRE(ready);
  BOOST_TEST(ready->result_int() == 200u);
  BOOST_TEST(ready->body() == R"({"ready":true})");
  auto metrics = Get(port, "/metrics");
  BOOST_REQUIRE(metrics);
  BOOST_TEST(metrics->result_int() == 200u);
  BOOST_TEST(std::string((*metrics)[bhttp::field::content_type]) == "text/plain; version=0.0.4");
  BOOST_TEST(
      metrics->body().find("keymeter_http_requests_total{route=\"/healthz\",status=\"200\"}") !=
      std::string::npos);
  BOOST_TEST(metrics->body().find("keymeter_http_request_duration_seconds_bucket") !=
             std::string::npos);
  // keymeter's own threads carry names (top -H, perf): the projector's, two HTTP threads, and
  // the offload pool's thread that answered /metrics.
  std::set<std::string> names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(server->pid) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  for (const char* name : {"km-apply", "km-http-0", "km-http-1", "km-offload"}) {
    BOOST_TEST(names.count(name) == 1u, name << " among the process's threads");
  }

  // A second process cannot open the same data dir (RocksDB's lock): exit 1, and says why.
  auto second =
      Spawn({"serve", "--data-dir", dir.sub("db"), "--listen", "127.0.0.1:0"}, dir.sub("err2"));
  BOOST_TEST(second->Wait(30s) == 1);
  BOOST_TEST(second->Stderr().find("cannot open data dir") != std::string::npos);

  BOOST_REQUIRE(::kill(server->pid, SIGTERM) == 0);
  BOOST_TEST(server->Wait(15s) == 0);
  BOOST_TEST(!Get(port, "/healthz").has_value());
}

// scripts/run passes --data-dir and --listen before the user's flags: the last one wins.
BOOST_AUTO_TEST_CASE(flags_come_from_the_environment_and_the_command_line_wins) {
  TempDir dir;
  auto server =
      Spawn({"serve", "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:0"}, dir.sub("err"),
            {"KEYMETER_DATA_DIR=" + dir.sub("envdb"), "KEYMETER_LISTEN=127.0.0.1:1"});
  const std::string line = server->ReadLine(30s);
  const uint16_t port = PortOf(line);
  BOOST_TEST(port != 1);
  BOOST_TEST(line.find("data dir " + dir.sub("envdb")) != std::string::npos);
  BOOST_REQUIRE(WaitHealthy(port));
  BOOST_REQUIRE(::kill(server->pid, SIGINT) == 0);
  BOOST_TEST(server->Wait(15s) == 0);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_a_message) {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"serve", "--bogus"}, "--bogus"},
      {{"serve"}, "--data-dir"},
      {{"serve", "--data-dir"}, "--data-dir"},
      {{"serve", "--data-dir", dir.sub("db"), "--http-threads", "many"}, "--http-threads"},
      {{}, "subcommand"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const auto& [args, mention] : cases) {
    BOOST_TEST_CONTEXT("args: " << args.size() << " mention " << mention) {
      auto p = Spawn(args, dir.sub("err"));
      BOOST_TEST(p->Wait(10s) == 2);
      BOOST_CHECK_MESSAGE(p->Stderr().find(mention) != std::string::npos, p->Stderr());
    }
  }
}

BOOST_AUTO_TEST_CASE(help_exits_0) {
  TempDir dir;
  auto top = Spawn({"--help"}, dir.sub("err"));
  BOOST_TEST(top->Wait(10s) == 0);
  BOOST_TEST(top->ReadAll(5s).find("serve") != std::string::npos);
  auto serve = Spawn({"serve", "--help"}, dir.sub("err"));
  BOOST_TEST(serve->Wait(10s) == 0);
  const std::string help = serve->ReadAll(5s);
  BOOST_TEST(help.find("--data-dir") != std::string::npos);
  BOOST_TEST(help.find("KEYMETER_LISTEN") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unusable_data_dir_or_address_exits_1) {
  TempDir dir;
  std::ofstream(dir.sub("file")) << "not a directory";
  auto p = Spawn({"serve", "--data-dir", dir.sub("file") + "/db"}, dir.sub("err"));
  BOOST_TEST(p->Wait(10s) == 1);
  BOOST_CHECK_MESSAGE(p->Stderr().find("cannot create data dir") != std::string::npos, p->Stderr());
  auto q =
      Spawn({"serve", "--data-dir", dir.sub("db"), "--listen", "127.0.0.1:nope"}, dir.sub("err"));
  BOOST_TEST(q->Wait(30s) == 1);
  BOOST_CHECK_MESSAGE(q->Stderr().find("listen address") != std::string::npos, q->Stderr());
}
