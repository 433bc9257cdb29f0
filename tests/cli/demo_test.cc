// `keymeter demo` end to end: it starts, every curl line it prints works as printed, `keymeter
// loadgen --setup` can drive it, SIGTERM stops it cleanly and removes its temp dir; a taken port
// is a clear error.
#define BOOST_TEST_MODULE demo_test
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/common/process_fixture.h"

namespace keymeter::testing {
namespace {

// Runs `command` with /bin/sh; {exit status, stdout}.
std::pair<int, std::string> Shell(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string After(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const std::string& line : lines) {
    if (line.rfind(prefix, 0) == 0) {
      std::string rest = line.substr(prefix.size());
      return rest.substr(0, rest.find(' '));
    }
  }
  return "";
}

BOOST_AUTO_TEST_CASE(printed_curl_lines_work_and_loadgen_drives_it) {
  TempDir tmp;
  const uint16_t port = FreePort();
  auto demo = Spawn({"demo", "--listen", "127.0.0.1:" + std::to_string(port), "--requests", "2500"},
                    tmp.path() + "/demo.err");
  std::vector<std::string> lines, curls;
  for (auto deadline = Clock::now() + 120s; Clock::now() < deadline;) {
    lines.push_back(demo->ReadLine(deadline - Clock::now() > 0s
                                       ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                             deadline - Clock::now())
                                       : 0ms));
    if (lines.back().rfind("curl ", 0) == 0) curls.push_back(lines.back());
    if (lines.back() == "Press Ctrl-C to stop.") break;
  }
  BOOST_REQUIRE_MESSAGE(lines.back() == "Press Ctrl-C to stop.",
                        "demo did not finish seeding; stderr: " << demo->Stderr());
  BOOST_CHECK_EQUAL(lines.front(), "keymeter demo: listening on http://127.0.0.1:" +
                                       std::to_string(port));
  BOOST_CHECK(std::find(lines.begin(), lines.end(),
                        "2500 request events over the last 3 days, 2500 accepted") != lines.end());
  const std::string data_dir = After(lines, "data dir        ");
  const std::string operator_token = After(lines, "operator token  ");
  BOOST_CHECK(std::filesystem::is_directory(data_dir));
  BOOST_REQUIRE_EQUAL(curls.size(), 7u);

  for (const std::string& curl : curls) {
    BOOST_TEST_CONTEXT(curl) {
      // As printed, plus: fail on an HTTP error status, show transport errors.
      const auto [status, out] = Shell(curl + " --fail -sS");
      BOOST_CHECK_EQUAL(status, 0);
      if (curl.find("/v1/authorize") != std::string::npos) {
        BOOST_CHECK_EQUAL(out, "204\n");
      } else if (curl.find("/v1/events") != std::string::npos) {
        BOOST_CHECK(out.find(R"({"accepted":1,"rejected":[])") == 0);
      } else if (curl.find("api-key-set-parent") != std::string::npos) {
        BOOST_CHECK(out.find("\"error\"") != std::string::npos);
        BOOST_CHECK(out.find("\"OK\"") != std::string::npos);
      } else {
        BOOST_CHECK(out.rfind("{", 0) == 0);
      }
      if (curl.find("group_by=key") != std::string::npos) {
        BOOST_CHECK(out.find("\"requests\":2500") != std::string::npos ||
                    out.find("\"requests\": 2500") != std::string::npos);
      }
    }
  }

  auto loadgen = Spawn({"loadgen", "--url", "http://127.0.0.1:" + std::to_string(port), "--setup",
                        "--operator-token", operator_token, "--accounts", "3", "--keys", "15",
                        "--count", "2000"},
                       tmp.path() + "/loadgen.err");
  const std::string summary = loadgen->ReadLine(120s);
  BOOST_TEST_MESSAGE("loadgen: " << summary);
  BOOST_CHECK_MESSAGE(summary.find("\"events_sent\":2000,\"accepted\":2000,\"rejected\":0") !=
                          std::string::npos,
                      summary << " / " << loadgen->Stderr());
  BOOST_CHECK_EQUAL(loadgen->Wait(30s), 0);

  ::kill(demo->pid, SIGTERM);
  BOOST_CHECK_EQUAL(demo->Wait(60s), 0);
  BOOST_CHECK(!std::filesystem::exists(data_dir));
}

BOOST_AUTO_TEST_CASE(a_taken_port_is_a_clear_error) {
  TempDir tmp;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto demo = Spawn({"demo", "--listen", "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))},
                    tmp.path() + "/demo.err");
  BOOST_CHECK_EQUAL(demo->Wait(30s), 1);
  BOOST_CHECK_MESSAGE(demo->Stderr().find("in use") != std::string::npos, demo->Stderr());
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(loadgen_requires_setup) {
  TempDir tmp;
  auto loadgen = Spawn({"loadgen", "--url", "http://127.0.0.1:1"}, tmp.path() + "/loadgen.err");
  BOOST_CHECK_EQUAL(loadgen->Wait(10s), 2);
  BOOST_CHECK_MESSAGE(loadgen->Stderr().find("--setup") != std::string::npos, loadgen->Stderr());
}

}  // namespace
}  // namespace keymeter::testing
