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
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/temp_dir.h"

extern char** environ;

using namespace std::chrono_literals;
using keymeter::testing::TempDir;
namespace bhttp = boost::beast::http;
using Reply = bhttp::response<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

namespace {

// A child `keymeter` with its stdout on a pipe and its stderr in a file. Killed if still
// running when the object dies.
struct Process {
  pid_t pid = -1;
  int out = -1;
  std::string err_path;

  ~Process() {
    if (out >= 0) ::close(out);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  // The exit code, or -1 when it did not exit normally within `timeout`.
  int Wait(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

  // Reads stdout up to and without the next '\n' (or what came before EOF or the timeout).
  std::string ReadLine(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    std::string line;
    char c = 0;
    while (Clock::now() < deadline) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (::read(out, &c, 1) != 1 || c == '\n') break;
      line.push_back(c);
    }
    return line;
  }

  // Everything left on stdout, up to EOF (or 5 s).
  std::string ReadStdout() {
    std::string all;
    char buf[4096];
    for (const Clock::time_point deadline = Clock::now() + 5s; Clock::now() < deadline;) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, size_t(n));
    }
    return all;
  }

  std::string Stderr() const {
    std::ifstream in(err_path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

std::unique_ptr<Process> Spawn(const std::vector<std::string>& args, const std::string& err_path,
                               const std::vector<std::string>& env = {}) {
  auto process = std::make_unique<Process>();
  process->err_path = err_path;
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_s = {KEYMETER_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("KEYMETER_", 0) != 0) env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  for (auto& e : env_s) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  const int rc =
      posix_spawn(&process->pid, KEYMETER_BINARY, &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  process->out = fds[0];
  BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn " << KEYMETER_BINARY << ": " << rc);
  return process;
}

// One GET on a fresh connection; nullopt when nothing (parsable) answers within 2 s.
std::optional<Reply> Get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string data;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
      char buf[8192];
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, 2000) > 0) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, size_t(n));
      }
    }
  }
  ::close(fd);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

// The port in "keymeter listening on http://127.0.0.1:PORT (...)".
uint16_t PortOf(const std::string& line) {
  const std::string prefix = "keymeter listening on http://127.0.0.1:";
  BOOST_REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0, "unexpected first line: " << line);
  return uint16_t(std::stoi(line.substr(prefix.size())));
}

std::optional<Reply> WaitHealthy(uint16_t port) {
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    if (auto r = Get(port, "/healthz"); r && r->result_int() == 200) return r;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

}  // namespace

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
  BOOST_TEST(top->ReadStdout().find("serve") != std::string::npos);
  auto serve = Spawn({"serve", "--help"}, dir.sub("err"));
  BOOST_TEST(serve->Wait(10s) == 0);
  const std::string help = serve->ReadStdout();
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
