// Test-side helpers for talking to a real `keymeter` process: spawning it (or curl), one HTTP
// request per connection with every wait bounded (no test can hang), and a JSON reader for the
// answers. Helpers use Boost.Test's REQUIRE, so call them from the test thread only.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
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

extern char** environ;
namespace keymeter::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A parsed JSON answer. Paths are looked up with at_pointer ("/keys/0/key_id").
class Json {
 public:
  explicit Json(const std::string& text) : text_(text) {
    ok_ = parser_.parse(text_).get(root_) == simdjson::SUCCESS;
  }
  bool ok() const { return ok_; }
  simdjson::dom::element root() const { return root_; }
  bool Has(std::string_view pointer) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(pointer).get(e) == simdjson::SUCCESS;
  }
  bool IsNull(std::string_view pointer) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(pointer).get(e) == simdjson::SUCCESS && e.is_null();
  }
  std::string Str(std::string_view pointer) const {
    std::string_view s;
    if (!ok_ || root_.at_pointer(pointer).get_string().get(s) != simdjson::SUCCESS) return "<none>";
    return std::string(s);
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v = -1;
    if (!ok_ || root_.at_pointer(pointer).get_int64().get(v) != simdjson::SUCCESS) return -1;
    return v;
  }
  bool Bool(std::string_view pointer) const {
    bool v = false;
    return ok_ && root_.at_pointer(pointer).get_bool().get(v) == simdjson::SUCCESS && v;
  }
  size_t Size(std::string_view pointer = "") const {
    simdjson::dom::array a;
    simdjson::dom::object o;
    if (!ok_) return 0;
    simdjson::dom::element e = root_;
    if (!pointer.empty() && root_.at_pointer(pointer).get(e) != simdjson::SUCCESS) return 0;
    if (e.get_array().get(a) == simdjson::SUCCESS) return a.size();
    if (e.get_object().get(o) == simdjson::SUCCESS) return o.size();
    return 0;
  }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
  Json json() const { return Json(body); }
  std::string code() const { return Json(body).Str("/error/code"); }
};

// A child process with stdout on a pipe and stderr in a file; killed if still running at the
// end.
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
    for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  // stdout up to the next '\n' (or EOF, or the timeout).
  std::string ReadLine(std::chrono::milliseconds timeout) {
    std::string line;
    char c = 0;
    for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (::read(out, &c, 1) != 1 || c == '\n') break;
      line.push_back(c);
    }
    return line;
  }
  // All of stdout up to EOF (or 10 s).
  std::string ReadAll() {
    std::string all;
    char buf[4096];
    for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
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

// Runs `path` with `args`; `env` replaces every KEYMETER_* variable of this process.
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

// One request on a fresh connection; status 0 when nothing parsable answers within 10 s.
inline Reply HttpCall(uint16_t port, std::string_view method, std::string_view target,
                      std::string_view body = {}, std::string_view bearer = {},
                      std::string_view content_type = "application/json") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string data;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = std::string(method) + " " + std::string(target) +
                          " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
    if (!bearer.empty()) request += "Authorization: Bearer " + std::string(bearer) + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
      request += "Content-Type: " + std::string(content_type) + "\r\n";
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n";
    request += body;
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += size_t(n);
    }
    char buf[16384];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 10000) > 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, size_t(n));
    }
  }
  ::close(fd);
  namespace bhttp = boost::beast::http;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 << 20);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  Reply reply;
  if (ec || !parser.is_done()) return reply;
  auto response = parser.release();
  reply.status = int(response.result_int());
  reply.body = response.body();
  reply.content_type = std::string(response[bhttp::field::content_type]);
  reply.retry_after = std::string(response[bhttp::field::retry_after]);
  return reply;
}

}  // namespace keymeter::testing
