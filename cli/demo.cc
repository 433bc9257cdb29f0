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
#include <random>
#include <thread>
#include <vector>

#include "cli/common.h"
#include "engine/secrets.h"
#include "http/client.h"

extern char** environ;

namespace keymeter {

namespace {

using namespace std::chrono_literals;

struct SeededKey {
  std::string label, status, id, key, note;
};

struct Seeded {
  std::string account_id, admin_token;
  std::vector<SeededKey> keys;  // parent, active member, pending member, suspended member
  int64_t accepted = 0;
};

// A call that must answer with a 2xx; the JSON body on success.
Result<std::string> Expect2xx(http::Client& client, std::string_view what, std::string_view method,
                              std::string_view target, std::string_view bearer,
                              std::string_view body = "",
                              std::string_view content_type = "application/json") {
  Result<http::ClientReply> reply = client.Send(method, target, bearer, body, content_type);
  if (!reply) return reply.error();
  if (reply.value().status / 100 != 2) {
    return Status(Code::kDemoSeedFailed, fmt::format("{} answered {}: {}", what,
                                                     reply.value().status, reply.value().body));
  }
  return std::move(reply.value().body);
}

std::string Rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The NDJSON lines of `count` request events over the last three days, most of them for the
// active member, all in the past, each with a unique request id.
std::vector<std::string> EventChunks(const Seeded& s, int count, size_t chunk_lines) {
  std::mt19937_64 rng(std::random_device{}());
  const std::string run_id = RandomKeyChars(8);
  const std::time_t now = std::time(nullptr);
  static const char* kProducts[] = {"whois", "dns", "ssl"};
  // By weight: parent 30%, active member 50%, pending 5%, suspended 15%.
  const int weights[] = {30, 50, 5, 15};
  std::vector<std::string> chunks;
  std::string chunk;
  for (int i = 0; i < count; ++i) {
    int pick = int(rng() % 100), k = 0;
    while (pick >= weights[k]) pick -= weights[k++];
    const int roll = int(rng() % 100);
    const int status = roll < 90 ? 200 : roll < 94 ? 404 : roll < 97 ? 429 : 500;
    const std::time_t t = now - 60 - std::time_t(rng() % (3 * 86400 - 60));
    uint64_t seq = uint64_t(i);
    std::string request_id;
    for (char c : run_id) request_id += fmt::format("{:02x}", unsigned(uint8_t(c)));
    request_id += fmt::format("{:016x}", seq);
    chunk += fmt::format(
        R"({{"request_id":"{}","key_id":"{}","time":"{}","product":"{}","units":{},)"
        R"("status":{},"bytes_in":{},"bytes_out":{},"latency_us":{},"ip":"203.0.113.7",)"
        R"("gateway":"demo"}})"
        "\n",
        request_id, s.keys[size_t(k)].id, Rfc3339(t), kProducts[rng() % 3], 1 + rng() % 3,
        status, 200 + rng() % 800, 500 + rng() % 5000, 1000 + rng() % 20000);
    if ((size_t(i) + 1) % chunk_lines == 0) chunks.push_back(std::move(chunk)), chunk.clear();
  }
  if (!chunk.empty()) chunks.push_back(std::move(chunk));
  return chunks;
}

Result<Seeded> Seed(http::Client& client, const std::string& operator_token, int requests) {
  Seeded s;
  Result<std::string> body = Expect2xx(client, "POST /v1/accounts", "POST", "/v1/accounts",
                                       operator_token, R"({"name":"Demo Co"})");
  if (!body) return body.error();
  s.admin_token = http::JsonString(body.value(), "/admin_token").value_or("");
  s.account_id = http::JsonString(body.value(), "/account_id").value_or("");
  const std::string& admin = s.admin_token;
  auto issue = [&](std::string label, std::string status, const std::string& parent,
                   std::string note) -> Status {
    std::string request = fmt::format(R"({{"label":"{}","status":"{}","parent":"{}"}})", label,
                                      status == "suspended" ? "active" : status, parent);
    Result<std::string> issued = Expect2xx(client, "POST /v1/keys", "POST", "/v1/keys", admin,
                                           request);
    if (!issued) return issued.error();
    s.keys.push_back({std::move(label), std::move(status),
                      http::JsonString(issued.value(), "/key_id").value_or(""),
                      http::JsonString(issued.value(), "/key").value_or(""), std::move(note)});
    return Status::Ok();
  };
  auto put = [&](std::string_view what, const std::string& target,
                 std::string_view json) -> Status {
    Result<std::string> r = Expect2xx(client, what, "PUT", target, admin, json);
    return r ? Status::Ok() : r.error();
  };
  Status st = issue("owner@demo.test", "active", "", "parent: daily 5000 requests, monthly 100000 units");
  if (!st.ok()) return st;
  const std::string parent = s.keys[0].id;
  if (st = put("PUT quota", "/v1/keys/" + parent + "/quota",
               R"({"daily_requests":5000,"monthly_units":100000})");
      !st.ok()) {
    return st;
  }
  if (st = put("PUT config", "/v1/keys/" + parent + "/config",
               R"({"products":["whois","dns","ssl"],"settings":{"tier":"demo"}})");
      !st.ok()) {
    return st;
  }
  if (st = issue("dev@demo.test", "active", parent, "member, allowed from 203.0.113.0/24 and 127.0.0.1");
      !st.ok()) {
    return st;
  }
  if (st = put("PUT allowed-sources", "/v1/keys/" + s.keys[1].id + "/allowed-sources",
               R"({"ips":["203.0.113.0/24","127.0.0.1"]})");
      !st.ok()) {
    return st;
  }
  if (st = issue("invited@demo.test", "pending", parent, "member, invitation not confirmed"); !st.ok()) {
    return st;
  }
  if (st = issue("contractor@demo.test", "suspended", parent, "member, suspended"); !st.ok()) {
    return st;
  }
  Result<std::string> suspended = Expect2xx(client, "POST suspend", "POST",
                                            "/v1/keys/" + s.keys[3].id + "/suspend", admin);
  if (!suspended) return suspended.error();
  for (const std::string& chunk : EventChunks(s, requests, 1000)) {
    Result<std::string> r = Expect2xx(client, "POST /v1/events", "POST", "/v1/events", "", chunk,
                                      "application/x-ndjson");
    if (!r) return r.error();
    s.accepted += http::JsonInt(r.value(), "/accepted").value_or(0);
  }
  // Let the projector apply them, so that the first usage call shows them all.
  for (auto deadline = std::chrono::steady_clock::now() + 15s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(100ms)) {
    Result<http::ClientReply> usage = client.Send("GET", "/v1/usage?granularity=day", admin);
    if (usage && http::JsonInt(usage.value().body, "/totals/requests") == s.accepted) break;
  }
  return s;
}

void PrintDemo(const std::string& url, const std::string& data_dir, bool temporary,
               const std::string& operator_token, int requests, const Seeded& s) {
  const SeededKey& parent = s.keys[0];
  const SeededKey& dev = s.keys[1];
  const SeededKey& invited = s.keys[2];
  const std::string admin = "-H \"Authorization: Bearer " + s.admin_token + "\"";
  fmt::print("keymeter demo: listening on {}\n", url);
  fmt::print("data dir        {}{}\n", data_dir, temporary ? " (removed on exit)" : "");
  fmt::print("operator token  {}\n", operator_token);
  fmt::print("admin token     {}  (account {})\n\nkeys:\n", s.admin_token, s.account_id);
  for (const SeededKey& k : s.keys) {
    fmt::print("  {}  {:<22} {:<10} {}  {}\n", k.id, k.label, k.status, k.key, k.note);
  }
  fmt::print("\nweb console     {}/console/  sign in by pasting\n"
             "  the admin token  {}\n  or a member key  {}  ({})\n",
             url, s.admin_token, dev.key, dev.label);
  fmt::print("\n{} request events over the last 3 days, {} accepted\n\nTry:\n", requests,
             s.accepted);
  fmt::print("# authorize the active member (204)\n");
  fmt::print("curl -s -o /dev/null -w '%{{http_code}}\\n' {}/v1/authorize -H \"X-Api-Key: {}\" "
             "-H \"X-Product: whois\"\n", url, dev.key);
  fmt::print("# usage by member, per day\n");
  fmt::print("curl -s \"{}/v1/usage?key={}&granularity=day&group_by=key\" {}\n", url, parent.id,
             admin);
  fmt::print("# audit history\ncurl -s \"{}/v1/audit?limit=20\" {}\n", url, admin);
  fmt::print("# request log\ncurl -s \"{}/v1/requests?limit=5\" {}\n", url, admin);
  fmt::print("# the member's own view\ncurl -s {}/v1/me -H \"Authorization: Bearer {}\"\n", url,
             dev.key);
  fmt::print("# n1ed: set the invited member's parent\n");
  fmt::print("curl -X POST {}/a/admin/api-key-set-parent -d \"adminToken={}&apiKey={}&"
             "parentApiKey={}\"\n", url, s.admin_token, invited.id, parent.id);
  fmt::print("\nPress Ctrl-C to stop.\n");
  std::fflush(stdout);
}

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
      seeded = Seed(client, token, options.requests);
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
