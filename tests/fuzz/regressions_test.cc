// The fuzz targets of this folder, built without libFuzzer (their entry points renamed by
// CMakeLists.txt), replaying every committed input: the seed corpus and the regression inputs
// of tests/fuzz/regressions/. One test case per regression input, named after it; a target
// that finds something aborts, which fails the test.
#define BOOST_TEST_MODULE fuzz_regressions
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "consumers/ndjson.h"
#include "projections/allowed_sources.h"

extern "C" int FuzzOne_envelope(const uint8_t* data, size_t size);
extern "C" int FuzzOne_ndjson(const uint8_t* data, size_t size);
extern "C" int FuzzOne_log_line(const uint8_t* data, size_t size);
extern "C" int FuzzOne_form(const uint8_t* data, size_t size);
extern "C" int FuzzOne_http(const uint8_t* data, size_t size);
extern "C" int FuzzInit_http(int* argc, char*** argv);

namespace {

using FuzzOne = int (*)(const uint8_t*, size_t);

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path Dir(const std::string& kind, const std::string& target) {
  return std::filesystem::path(KEYMETER_SOURCE_DIR) / "tests/fuzz" / kind / target;
}

int Run(FuzzOne target, const std::string& bytes) {
  return target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Every input of `kind` for `target`; how many there were.
size_t RunAll(FuzzOne one, const std::string& kind, const std::string& target) {
  size_t n = 0;
  if (!std::filesystem::exists(Dir(kind, target))) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(Dir(kind, target))) {
    BOOST_TEST_CONTEXT(entry.path().string()) { BOOST_TEST(Run(one, Read(entry.path())) == 0); }
    ++n;
  }
  return n;
}

void InitHttp() {
  static const bool done = [] {
    FuzzInit_http(nullptr, nullptr);
    return true;
  }();
  (void)done;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_seed_and_regression_input_passes_its_target) {
  InitHttp();
  const std::pair<const char*, FuzzOne> targets[] = {
      {"envelope", FuzzOne_envelope}, {"ndjson", FuzzOne_ndjson}, {"log_line", FuzzOne_log_line},
      {"form", FuzzOne_form},         {"http", FuzzOne_http}};
  for (const auto& [name, one] : targets) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(RunAll(one, "corpus", name) >= 5u);
      RunAll(one, "regressions", name);
    }
  }
}

// regressions/ndjson/ip_with_escaped_nul: "ip":"203.0.113.7\u0000<script>" was accepted, the
// address check (inet_pton) stopping at the NUL; the text after it rode along into the log.
BOOST_AUTO_TEST_CASE(ndjson_ip_with_escaped_nul) {
  const std::string line = Read(Dir("regressions", "ndjson") / "ip_with_escaped_nul");
  keymeter::Result<keymeter::RequestFields> parsed =
      keymeter::ParseRequestLine(line.substr(0, line.find('\n')));
  BOOST_REQUIRE(parsed.has_error());
  BOOST_TEST(parsed.error().name() == "INVALID-FIELD");
  BOOST_TEST(parsed.error().message().rfind("ip:", 0) == 0u);
  // The same check where addresses are parsed for allowed sources and X-Real-IP.
  BOOST_TEST(!keymeter::ParseIp(std::string_view("10.0.0.1\0junk", 13)).has_value());
  BOOST_TEST(!keymeter::Cidr::Parse(std::string_view("10.0.0.0\0/8", 11)).has_value());
  BOOST_TEST(keymeter::ParseIp("10.0.0.1").has_value());
}
