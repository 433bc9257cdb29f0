// Helpers for tests that run a real program (the `keymeter` binary, KEYMETER_BINARY, or any
// other) as a child process and talk to it over HTTP on loopback. Every wait is bounded (no test
// can hang); helpers use Boost.Test's REQUIRE, so call them from the test thread only.
#pragma once

#include <arpa/inet.h>
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
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/common/temp_dir.h"

extern char** environ;

namespace keymeter::testing {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
using HttpResponse = bhttp::response<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

// All of the file at `path` (empty when it cannot be read).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with its stdout on a pipe and its stderr in a file. Killed if still running
// when the object dies.
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

  // Everything left on stdout, up to EOF (or `timeout`).
  std::string ReadAll(std::chrono::milliseconds timeout = 10s) {
    std::string all;
    char buf[65536];
    for (const Clock::time_point deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, size_t(n));
    }
    return all;
  }

  std::string Stderr() const { return ReadFile(err_path); }
};

// Runs `path` (looked up in PATH when it has no '/') with `args`, stdout on a pipe and stderr into
// `err_path`; `env` replaces every KEYMETER_* variable of this process. SIGINT, SIGTERM and
// SIGPIPE are back at their defaults and nothing is blocked in the child.
inline std::unique_ptr<Process> Spawn(const std::string& path, const std::vector<std::string>& args,
                                      const std::string& err_path,
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

  std::vector<std::string> argv_s = {path};
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
      posix_spawnp(&process->pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  process->out = fds[0];
  BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn " << path << ": " << rc);
  return process;
}

#ifdef KEYMETER_BINARY
// `keymeter args...` (the binary under test).
inline std::unique_ptr<Process> Spawn(const std::vector<std::string>& args,
                                      const std::string& err_path,
                                      const std::vector<std::string>& env = {}) {
  return Spawn(KEYMETER_BINARY, args, err_path, env);
}
#endif

// A loopback port nobody listens on now.
inline uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One request on a fresh connection to 127.0.0.1:`port` (from the local address `source`, a
// 127.x.y.z, when given): sends `request` as it is, then reads until the response is whole, the
// peer closes, or nothing comes for `wait`. nullopt when no parsable response came.
inline std::optional<HttpResponse> Exchange(uint16_t port, std::string_view request,
                                            std::chrono::milliseconds wait,
                                            const char* source = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (source != nullptr) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    BOOST_REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 << 20);
  boost::beast::error_code ec;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += size_t(n);
    }
    std::string data;  // received, not parsed yet
    char buf[16384];
    pollfd p{fd, POLLIN, 0};
    while (!ec && !parser.is_done() && ::poll(&p, 1, int(wait.count())) > 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        parser.put_eof(ec);
        break;
      }
      data.append(buf, size_t(n));
      while (!data.empty() && !ec && !parser.is_done()) {
        const size_t used = parser.put(boost::asio::buffer(data), ec);
        data.erase(0, used);
        if (ec == bhttp::error::need_more) {
          ec = {};
          break;
        }
        if (used == 0) break;
      }
    }
  }
  ::close(fd);
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

// One GET on a fresh connection; nullopt when nothing (parsable) answers within 2 s.
inline std::optional<HttpResponse> Get(uint16_t port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 2s);
}

// The port in "keymeter listening on http://127.0.0.1:PORT (...)".
inline uint16_t PortOf(const std::string& line) {
  const std::string prefix = "keymeter listening on http://127.0.0.1:";
  BOOST_REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0, "unexpected first line: " << line);
  return uint16_t(std::stoi(line.substr(prefix.size())));
}

inline std::optional<HttpResponse> WaitHealthy(uint16_t port) {
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    if (auto r = Get(port, "/healthz"); r && r->result_int() == 200) return r;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

}  // namespace keymeter::testing
