// Helpers for tests that run the real `keymeter` binary (KEYMETER_BINARY) as a child process
// and talk to it over HTTP on loopback.
#pragma once

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

namespace keymeter::testing {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
using Reply = bhttp::response<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

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

}  // namespace keymeter::testing
