#include "cli/demo.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli/common.h"
#include "cli/demo_seed.h"
#include "engine/secrets.h"
#include "http/client.h"

extern char** environ;

namespace keymeter {

namespace {

using namespace std::chrono_literals;

// Whether HOST:PORT can be bound now (the child binds it right after).
bool CanBind(const std::string& host, uint16_t port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc);
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (ec) return true;  // a name: let the server resolve it and report
  const boost::asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  return !ec;
}

struct Child {
  pid_t pid = -1;
  int out = -1;
};

// Spawns `/proc/self/exe serve ...` with stdout on a pipe and the operator token in its
// environment (the other KEYMETER_ variables that choose where it serves are dropped).
Result<Child> SpawnServe(const std::string& data_dir, const std::string& listen,
                         const std::string& token) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status(Code::kIoError, "pipe failed");
  std::vector<std::string> args = {"keymeter", "serve", "--data-dir", data_dir, "--listen", listen};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (v.starts_with("KEYMETER_DATA_DIR=") || v.starts_with("KEYMETER_LISTEN=") ||
        v.starts_with("KEYMETER_BROKERS=") || v.starts_with("KEYMETER_OPERATOR_TOKEN=")) {
      continue;
    }
    env.emplace_back(v);
  }
  env.push_back("KEYMETER_OPERATOR_TOKEN=" + token);
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  for (std::string& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  Child child;
  const int rc = posix_spawn(&child.pid, "/proc/self/exe", &actions, &attr, argv.data(),
                             envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Status(Code::kIoError,
                  fmt::format("cannot start keymeter serve: {}", std::strerror(rc)));
  }
  child.out = fds[0];
  return child;
}

// The child's first stdout line ("keymeter listening on http://ADDR (...)"): ADDR, or "" when
// it exits or says nothing within 60 s.
std::string ListeningAddress(int fd) {
  std::string line;
  char c = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < deadline;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if (::read(fd, &c, 1) != 1 || c == '\n') break;
    line.push_back(c);
  }
  const std::string prefix = "keymeter listening on http://";
  if (!line.starts_with(prefix)) return "";
  const size_t end = line.find(' ', prefix.size());
  return line.substr(prefix.size(), end == std::string::npos ? end : end - prefix.size());
}

// SIGTERM to the child, then its exit code (SIGKILL after 30 s: -1).
int StopChild(Child& child) {
  int status = 0;
  if (::waitpid(child.pid, &status, WNOHANG) == 0) {
    ::kill(child.pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (::waitpid(child.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(child.pid, SIGKILL);
        ::waitpid(child.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  ::close(child.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

CLI::App* AddDemoCommand(CLI::App& app, DemoOptions* options) {
  CLI::App* demo = app.add_subcommand(
      "demo", "Start keymeter seeded with an account, keys and traffic; print curl lines to try");
  demo->add_option("--listen", options->listen, "HOST:PORT to serve HTTP on")
      ->capture_default_str();
  demo->add_option("--data-dir", options->data_dir,
                   "Store directory, kept on exit (default: a temporary one, removed on exit)");
  demo->add_option("--requests", options->requests, "Request events to seed, 0..1000000")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  return demo;
}

int RunDemo(const DemoOptions& options) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const auto host_port = http::ParseHostPort(options.listen);
  if (!host_port) return cli::FailWith("--listen wants HOST:PORT, got " + options.listen);
  if (host_port->second != 0 && !CanBind(host_port->first, host_port->second)) {
    return cli::FailWith(fmt::format(
        "cannot listen on {}: the address is in use (another keymeter?); choose another with "
        "--listen HOST:PORT", options.listen));
  }
  std::string data_dir = options.data_dir;
  const bool temporary = data_dir.empty();
  if (temporary) {
    std::string pattern = (std::filesystem::temp_directory_path() / "keymeter-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return cli::FailWith("cannot create a temp dir");
    data_dir = pattern;
  }
  auto cleanup = [&] {
    std::error_code ec;
    if (temporary) std::filesystem::remove_all(data_dir, ec);
  };
  const std::string token = "kmo_" + RandomKeyChars(32);
  Result<Child> spawned = SpawnServe(data_dir, options.listen, token);
  if (!spawned) {
    cleanup();
    return cli::FailWith(spawned.error().message());
  }
  Child child = spawned.value();
  auto fail = [&](const std::string& message) {
    StopChild(child);
    cleanup();
    return cli::FailWith(message);
  };
  const std::string address = ListeningAddress(child.out);
  const auto bound = http::ParseHostPort(address);
  if (!bound) return fail("keymeter serve did not start on " + options.listen + " (see above)");
  http::Client client(bound->first, bound->second);
  Result<Seeded> seeded = Status(Code::kDemoSeedFailed, "/healthz never answered 200");
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    Result<http::ClientReply> health = client.Send("GET", "/healthz");
    if (health && health.value().status == 200) {
      seeded = SeedDemo(client, token, options.requests);
      break;
    }
  }
  if (!seeded) return fail("seeding failed: " + seeded.error().ToString());
  PrintDemo("http://" + address, data_dir, temporary, token, options.requests, seeded.value());

  int child_status = 0;
  for (;;) {
    const timespec tick{0, 200'000'000};
    if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) break;
    if (::waitpid(child.pid, &child_status, WNOHANG) == child.pid) {
      ::close(child.out);
      cleanup();
      return cli::FailWith("keymeter serve stopped unexpectedly");
    }
  }
  const int code = StopChild(child);
  cleanup();
  if (code != 0) return cli::FailWith(fmt::format("keymeter serve exited with {}", code));
  return 0;
}

}  // namespace keymeter
