// `keymeter serve --config FILE`: the TOML file's strict reading (unknown keys, wrong types and
// ranges named with their line), the precedence flag > KEYMETER_* > file > default through the
// real CLI11 parser in process, and the binary's exit code 2 with the key named on stderr.
#define BOOST_TEST_MODULE serve_config
#include "cli/serve_config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>

#include "cli/serve.h"
#include "engine/secrets.h"
#include "tests/common/process_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr char kFull[] = R"(# every setting
data_dir = "/var/lib/keymeter"
listen = "0.0.0.0:9000"
brokers = "k1:9092,k2:9092"
topic = "events"
group = "meters"
dlq_topic = "dead"
http_threads = 3
read_only = true
operator_token = "file-token"
advertise = "http://10.0.0.5:9000"
standby_replicas = 2
session_timeout_ms = 6000
drop_partition_after = 60
)";

// Parses `args` (after "keymeter") as main() does; returns the options, or the parse error's
// message (empty when parsing succeeded) and exit code.
struct Parsed {
  ServeOptions options;
  std::string error;
  int exit_code = 0;
};

Parsed ParseServe(std::vector<std::string> args) {
  Parsed out;
  CLI::App app("test", "keymeter");
  app.require_subcommand(0, 1);
  AddServeCommand(app, &out.options);
  args.insert(args.begin(), "serve");
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    out.error = e.what();
    out.exit_code = e.get_exit_code();
  }
  return out;
}

// Sets KEYMETER_* variables for the life of the object.
struct Env {
  std::vector<std::string> names;
  Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      ::setenv(name, value, 1);
      names.emplace_back(name);
    }
  }
  ~Env() {
    for (const std::string& n : names) ::unsetenv(n.c_str());
  }
};

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.sub(name);
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0600);
  return path;
}

// The parser reads this process's KEYMETER_* variables: start without any (scripts/test sets
// KEYMETER_BROKERS), so that only the test's own Env applies.
struct CleanEnvironment {
  CleanEnvironment() {
    std::vector<std::string> names;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (entry.rfind("KEYMETER_", 0) == 0) names.emplace_back(entry.substr(0, entry.find('=')));
    }
    for (const std::string& n : names) ::unsetenv(n.c_str());
  }
};
BOOST_TEST_GLOBAL_FIXTURE(CleanEnvironment);

}  // namespace

BOOST_AUTO_TEST_CASE(every_setting_reads_with_its_type) {
  Result<ServeConfigFile> c = ParseServeConfig(kFull, "k.toml");
  BOOST_REQUIRE(c.has_value());
  BOOST_TEST(*c.value().data_dir == "/var/lib/keymeter");
  BOOST_TEST(*c.value().listen == "0.0.0.0:9000");
  BOOST_TEST(*c.value().brokers == "k1:9092,k2:9092");
  BOOST_TEST(*c.value().topic == "events");
  BOOST_TEST(*c.value().group == "meters");
  BOOST_TEST(*c.value().http_threads == 3u);
  BOOST_TEST(*c.value().read_only);
  BOOST_TEST(*c.value().operator_token == "file-token");
  BOOST_TEST(*c.value().dlq_topic == "dead");
  BOOST_TEST(*c.value().advertise == "http://10.0.0.5:9000");
  BOOST_TEST(*c.value().standby_replicas == 2);
  BOOST_TEST(*c.value().session_timeout_ms == 6000);
  BOOST_TEST(*c.value().drop_partition_after == 60);
  Result<ServeConfigFile> empty = ParseServeConfig("# nothing\n", "e.toml");
  BOOST_REQUIRE(empty.has_value());
  BOOST_TEST(!empty.value().data_dir.has_value());
  BOOST_TEST(!empty.value().read_only.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_keys_wrong_types_and_bad_syntax_name_the_key_and_line) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"listen = \"a:1\"\ndatadir = \"/x\"\n", "CONFIG-UNKNOWN-KEY", "k.toml:2: unknown key 'datadir'"},
      {"[server]\nlisten = \"a:1\"\n", "CONFIG-UNKNOWN-KEY", "unknown key 'server' (a table)"},
      {"http_threads = \"4\"\n", "CONFIG-WRONG-TYPE",
       "k.toml:1: 'http_threads' must be an integer, not a string"},
      {"read_only = 1\n", "CONFIG-WRONG-TYPE", "'read_only' must be a boolean (true or false)"},
      {"listen = 8080\n", "CONFIG-WRONG-TYPE", "'listen' must be a string, not an integer"},
      {"brokers = [\"a:1\"]\n", "CONFIG-WRONG-TYPE", "'brokers' must be a string, not an array"},
      {"http_threads = 5000\n", "CONFIG-OUT-OF-RANGE", "'http_threads' must be in 0..1024"},
      {"session_timeout_ms = 10\n", "CONFIG-OUT-OF-RANGE",
       "'session_timeout_ms' must be in 1000..300000, not 10"},
      {"listen = \n", "CONFIG-SYNTAX", "k.toml:1:"},
      {"listen = \"a\"\nlisten = \"b\"\n", "CONFIG-SYNTAX", "k.toml:2:"},
  };
  for (const auto& [text, code, says] : cases) {
    BOOST_TEST_CONTEXT(text) {
      Result<ServeConfigFile> c = ParseServeConfig(text, "k.toml");
      BOOST_REQUIRE(!c.has_value());
      BOOST_TEST(c.error().name() == code);
      BOOST_CHECK_MESSAGE(c.error().message().find(says) != std::string::npos,
                          c.error().message());
    }
  }
  BOOST_TEST(LoadServeConfig("/nonexistent/k.toml").error().name() == "CONFIG-UNREADABLE");
}

BOOST_AUTO_TEST_CASE(flags_win_over_environment_over_file_over_defaults) {
  TempDir dir;
  const std::string file = Write(dir, "k.toml", kFull);
  {  // The file alone fills every setting.
    Parsed p = ParseServe({"--config", file});
    BOOST_REQUIRE_MESSAGE(p.error.empty(), p.error);
    BOOST_TEST(p.options.data_dir == "/var/lib/keymeter");
    BOOST_TEST(p.options.listen == "0.0.0.0:9000");
    BOOST_TEST(p.options.brokers == "k1:9092,k2:9092");
    BOOST_TEST(p.options.topic == "events");
    BOOST_TEST(p.options.group == "meters");
    BOOST_TEST(p.options.http_threads == 3u);
    BOOST_TEST(p.options.read_only);
    BOOST_TEST((p.options.api.operator_token_hash == Sha256("file-token")));
    BOOST_TEST(p.options.dlq_topic == "dead");
    BOOST_TEST(p.options.advertise == "http://10.0.0.5:9000");
    BOOST_TEST(p.options.standby_replicas == 2);
    BOOST_TEST(p.options.session_timeout_ms == 6000);
    BOOST_TEST(p.options.drop_partition_after_s == 60);
  }
  {  // The environment beats the file; flags beat both; the rest stays the file's.
    Env env({{"KEYMETER_LISTEN", "127.0.0.1:7000"},
             {"KEYMETER_TOPIC", "env-topic"},
             {"KEYMETER_HTTP_THREADS", "5"},
             {"KEYMETER_OPERATOR_TOKEN", "env-token"},
             {"KEYMETER_CONFIG", file.c_str()}});
    Parsed p = ParseServe({"--topic", "flag-topic", "--data-dir", "/flag"});
    BOOST_REQUIRE_MESSAGE(p.error.empty(), p.error);
    BOOST_TEST(p.options.data_dir == "/flag");
    BOOST_TEST(p.options.listen == "127.0.0.1:7000");
    BOOST_TEST(p.options.topic == "flag-topic");
    BOOST_TEST(p.options.http_threads == 5u);
    BOOST_TEST((p.options.api.operator_token_hash == Sha256("env-token")));
    BOOST_TEST(p.options.group == "meters");
    BOOST_TEST(p.options.brokers == "k1:9092,k2:9092");
  }
  {  // Without the file: the defaults.
    Parsed p = ParseServe({"--data-dir", "/d"});
    BOOST_REQUIRE_MESSAGE(p.error.empty(), p.error);
    BOOST_TEST(p.options.listen == "127.0.0.1:8080");
    BOOST_TEST(p.options.topic == "keymeter.events");
    BOOST_TEST(p.options.brokers.empty());
    BOOST_TEST(!p.options.read_only);
    BOOST_TEST(!p.options.api.operator_token_hash.has_value());
  }
  {  // A flag set to false on the command line is not overridden by the file either.
    const std::string partial = Write(dir, "p.toml", "data_dir = \"/p\"\nread_only = true\n");
    Env env({{"KEYMETER_READ_ONLY", "false"}});
    Parsed p = ParseServe({"--config", partial});
    BOOST_REQUIRE_MESSAGE(p.error.empty(), p.error);
    BOOST_TEST(p.options.data_dir == "/p");
    BOOST_TEST(!p.options.read_only);
  }
}

BOOST_AUTO_TEST_CASE(a_bad_file_is_a_usage_error_naming_the_key) {
  TempDir dir;
  Parsed unknown = ParseServe({"--config", Write(dir, "u.toml", "data_dir = \"/d\"\nlisten_on = \"x\"\n")});
  BOOST_TEST(unknown.exit_code != 0);
  BOOST_TEST(unknown.error.find("unknown key 'listen_on'") != std::string::npos, unknown.error);
  Parsed missing = ParseServe({"--config", dir.sub("none.toml")});
  BOOST_TEST(missing.error.find("cannot read the config file") != std::string::npos, missing.error);
  Parsed no_dir = ParseServe({"--config", Write(dir, "n.toml", "listen = \"127.0.0.1:1\"\n")});
  BOOST_TEST(no_dir.error.find("data_dir in --config") != std::string::npos, no_dir.error);

  // The binary: exit 2, the key and line on stderr, nothing started.
  const std::string bad = Write(dir, "bad.toml", "data_dir = \"" + dir.sub("db") +
                                                     "\"\nhttp_threads = \"two\"\n");
  auto process = Spawn({"serve", "--config", bad}, dir.sub("err"));
  BOOST_TEST(process->Wait(20s) == 2);
  const std::string err = process->Stderr();
  BOOST_TEST(err.find("bad.toml:2: 'http_threads' must be an integer, not a string") !=
                 std::string::npos,
             err);
  BOOST_TEST(!std::filesystem::exists(dir.sub("db")));
}

BOOST_AUTO_TEST_CASE(serve_runs_from_the_example_file_with_a_flag_on_top) {
  // examples/keymeter.toml as shipped, with the data dir and port overridden by flags.
  TempDir dir;
  auto process = Spawn({"serve", "--config", std::string(KEYMETER_SOURCE_DIR) + "/examples/keymeter.toml",
                        "--data-dir", dir.sub("db"), "--listen", "127.0.0.1:0"},
                       dir.sub("err"));
  const std::string line = process->ReadLine(30s);
  BOOST_REQUIRE_MESSAGE(line.find("keymeter listening on http://127.0.0.1:") == 0,
                        line << process->Stderr());
  BOOST_TEST(line.find("embedded log") != std::string::npos, line);
  BOOST_REQUIRE(WaitHealthy(PortOf(line)));
  ::kill(process->pid, SIGTERM);
  BOOST_TEST(process->Wait(20s) == 0);
}

BOOST_AUTO_TEST_CASE(a_token_in_a_readable_file_works_and_is_warned_about_never_logged) {
  TempDir dir;
  const std::string path = dir.sub("open.toml");
  std::ofstream(path) << "data_dir = \"" << dir.sub("db")
                      << "\"\nlisten = \"127.0.0.1:0\"\noperator_token = \"file-secret-42\"\n";
  ::chmod(path.c_str(), 0644);
  auto process = Spawn({"serve", "--config", path}, dir.sub("err"));
  const std::string line = process->ReadLine(30s);
  BOOST_REQUIRE_MESSAGE(line.find("keymeter listening on http://127.0.0.1:") == 0,
                        line << process->Stderr());
  const uint16_t port = PortOf(line);
  BOOST_REQUIRE(WaitHealthy(port));
  // The token from the file enables the operator endpoints (curl, for the Authorization header).
  auto status_with = [port](const std::string& token) {
    const std::string command = "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " +
                                token + "' 'http://127.0.0.1:" + std::to_string(port) +
                                "/v1/billing/usage?month=2026-01'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    char out[8] = {};
    if (pipe == nullptr || std::fgets(out, sizeof out, pipe.get()) == nullptr) return std::string();
    return std::string(out);
  };
  BOOST_TEST(status_with("file-secret-42") == "200");
  BOOST_TEST(status_with("wrong") == "401");
  ::kill(process->pid, SIGTERM);
  BOOST_TEST(process->Wait(20s) == 0);
  const std::string err = process->Stderr();
  BOOST_TEST(err.find("holds operator_token and is readable by other users") != std::string::npos,
             err);
  BOOST_TEST(err.find("file-secret-42") == std::string::npos);
}
