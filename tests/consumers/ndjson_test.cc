// NDJSON request events: good lines, every error code, RFC 3339 times, whole bodies.
#define BOOST_TEST_MODULE ndjson_test
#include "consumers/ndjson.h"

#include <boost/test/unit_test.hpp>
#include <ctime>
#include <random>

#include "tests/consumers/envelope_fixture.h"

namespace keymeter {
namespace {

using testing::ErrorText;

const std::string kGood =
    R"({"request_id":"00112233445566778899aabbccddeeff","key_id":"Ab3dEf7h",)"
    R"("time":"2026-11-25T10:00:00.123456Z","product":"translate","units":3,"status":429,)"
    R"("bytes_in":512,"bytes_out":2048,"latency_us":1500,"ip":"2001:db8::1","gateway":"gw-1"})";

std::string CodeOf(const std::string& line) {
  Result<RequestFields> r = ParseRequestLine(line);
  return r ? "OK" : std::string(r.error().name()) + ":" + r.error().message();
}

std::string Code(const std::string& line) {
  Result<RequestFields> r = ParseRequestLine(line);
  return r ? "OK" : std::string(r.error().name());
}

// A minimal good line with `extra` members appended.
std::string Line(const std::string& extra) {
  return R"({"request_id":"00112233-4455-6677-8899-aabbccddeeff","key_id":"Ab3dEf7h","time_us":5)" +
         extra + "}";
}

TimeUs TimegmUs(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return int64_t{timegm(&tm)} * 1'000'000;
}

BOOST_AUTO_TEST_CASE(good_line_with_every_field) {
  Result<RequestFields> r = ParseRequestLine(kGood);
  BOOST_REQUIRE_MESSAGE(r, ErrorText(r));
  const RequestFields& f = r.value();
  BOOST_CHECK_EQUAL(f.request_id[0], 0x00);
  BOOST_CHECK_EQUAL(f.request_id[15], 0xff);
  BOOST_CHECK_EQUAL(f.key_id, "Ab3dEf7h");
  BOOST_CHECK(f.account_id.empty());
  BOOST_CHECK_EQUAL(f.time_us, TimegmUs(2026, 11, 25, 10, 0, 0) + 123456);
  BOOST_CHECK_EQUAL(f.product, "translate");
  BOOST_CHECK_EQUAL(f.units, 3u);
  BOOST_CHECK_EQUAL(f.status, 429);
  BOOST_CHECK_EQUAL(f.bytes_in, 512u);
  BOOST_CHECK_EQUAL(f.bytes_out, 2048u);
  BOOST_CHECK_EQUAL(f.latency_us, 1500u);
  BOOST_CHECK_EQUAL(f.client_ip, "2001:db8::1");
  BOOST_CHECK_EQUAL(f.gateway_id, "gw-1");
}

BOOST_AUTO_TEST_CASE(defaults_uuid_and_ignored_members) {
  Result<RequestFields> r =
      ParseRequestLine(Line(R"(,"account_id":"someone-else","future":{"x":[1,2]},"ip":null)"));
  BOOST_REQUIRE_MESSAGE(r, ErrorText(r));
  BOOST_CHECK_EQUAL(r.value().units, 1u);
  BOOST_CHECK_EQUAL(r.value().status, 200);
  BOOST_CHECK_EQUAL(r.value().time_us, 5);
  BOOST_CHECK(r.value().account_id.empty());
  BOOST_CHECK(r.value().client_ip.empty());
  BOOST_CHECK_EQUAL(r.value().request_id[4], 0x44);
  BOOST_CHECK_EQUAL(CodeOf(Line(R"(,"time":"1970-01-01T00:00:00.000005Z")")), "OK");
  BOOST_CHECK_EQUAL(CodeOf(Line(R"(,"units":0,"status":65535,"bytes_in":18446744073709551615)")),
                    "OK");
  BOOST_CHECK_EQUAL(CodeOf(Line(R"(,"ip":"203.0.113.7")")), "OK");
}

BOOST_AUTO_TEST_CASE(invalid_json) {
  for (const char* line : {"", "{", "not json", R"({"a":1,})", "[1,2]", "42", R"("text")",
                           "{\"request_id\":\"00112233445566778899aabbccddeeff\"} trailing"}) {
    BOOST_CHECK_MESSAGE(Code(line) == "INVALID-JSON", line << " -> " << CodeOf(line));
  }
}

BOOST_AUTO_TEST_CASE(missing_fields) {
  BOOST_CHECK_EQUAL(CodeOf(R"({"key_id":"Ab3dEf7h","time_us":5})"), "MISSING-FIELD:request_id");
  BOOST_CHECK_EQUAL(CodeOf(R"({"request_id":"00112233445566778899aabbccddeeff","time_us":5})"),
                    "MISSING-FIELD:key_id");
  BOOST_CHECK_EQUAL(
      CodeOf(R"({"request_id":"00112233445566778899aabbccddeeff","key_id":"Ab3dEf7h"})"),
      "MISSING-FIELD:time");
  BOOST_CHECK_EQUAL(CodeOf(R"({"request_id":null,"key_id":"Ab3dEf7h","time_us":5})"),
                    "MISSING-FIELD:request_id");
}

BOOST_AUTO_TEST_CASE(invalid_fields) {
  const std::string id = R"("request_id":"00112233445566778899aabbccddeeff")";
  for (
      const std::string& line : std::vector<std::string>{
          R"({"request_id":"0011","key_id":"Ab3dEf7h","time_us":5})",
          R"({"request_id":"00112233445566778899aabbccddeefg","key_id":"Ab3dEf7h","time_us":5})",
          R"({"request_id":"0011223-34455-6677-8899-aabbccddeeff","key_id":"Ab3dEf7h","time_us":5})",
          R"({"request_id":12,"key_id":"Ab3dEf7h","time_us":5})",
          "{" + id + R"(,"key_id":"Ab3dEf7","time_us":5})",
          "{" + id + R"(,"key_id":"Ab3dEf7hXXXXXXXXXXXXXXXX","time_us":5})",
          "{" + id + R"(,"key_id":"Ab3d-f7h","time_us":5})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time_us":"5"})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time_us":0})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time_us":-3})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time":1234})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time":"2026-13-01T00:00:00Z"})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time":"1969-12-31T23:59:59Z"})",
          "{" + id + R"(,"key_id":"Ab3dEf7h","time":"1970-01-01T00:00:01Z","time_us":5})",
          Line(R"(,"units":-1)"),
          Line(R"(,"units":1.5)"),
          Line(R"(,"units":4294967296)"),
          Line(R"(,"units":"3")"),
          Line(R"(,"status":70000)"),
          Line(R"(,"latency_us":4294967296)"),
          Line(R"(,"bytes_in":-1)"),
          Line(R"(,"ip":"999.1.1.1")"),
          Line(R"(,"ip":"example.com")"),
          Line(R"(,"ip":7)"),
          Line(R"(,"product":["a"])"),
          Line(R"(,"gateway":")" + std::string(257, 'g') + "\""),
      }) {
    BOOST_CHECK_MESSAGE(Code(line) == "INVALID-FIELD", line << " -> " << CodeOf(line));
  }
  BOOST_CHECK_EQUAL(CodeOf(Line(R"(,"units":-1)")),
                    "INVALID-FIELD:units: must be an integer from 0 to 4294967295");
}

BOOST_AUTO_TEST_CASE(oversized_line) {
  NdjsonParser parser(100);
  Result<RequestFields> r = parser.Parse(Line(R"(,"product":")" + std::string(100, 'p') + "\""));
  BOOST_REQUIRE(!r);
  BOOST_CHECK_EQUAL(r.error().name(), "OVERSIZED");
  BOOST_CHECK(parser.Parse(Line("")));  // the parser is still usable
}

BOOST_AUTO_TEST_CASE(rfc3339_times) {
  auto parse = [](const char* text) -> TimeUs {
    Result<TimeUs> t = ParseRfc3339(text);
    return t ? t.value() : -1;
  };
  BOOST_CHECK_EQUAL(parse("1970-01-01T00:00:00Z"), 0);
  BOOST_CHECK_EQUAL(parse("2026-11-25T10:00:00.123456Z"),
                    TimegmUs(2026, 11, 25, 10, 0, 0) + 123456);
  BOOST_CHECK_EQUAL(parse("2026-11-25t10:00:00.5z"), TimegmUs(2026, 11, 25, 10, 0, 0) + 500000);
  BOOST_CHECK_EQUAL(parse("2026-11-25T10:00:00.123456789Z"),
                    TimegmUs(2026, 11, 25, 10, 0, 0) + 123456);
  BOOST_CHECK_EQUAL(parse("2026-11-25T12:30:00+02:30"), TimegmUs(2026, 11, 25, 10, 0, 0));
  BOOST_CHECK_EQUAL(parse("2026-11-25T05:00:00-05:00"), TimegmUs(2026, 11, 25, 10, 0, 0));
  BOOST_CHECK_EQUAL(parse("2024-02-29T00:00:00Z"), TimegmUs(2024, 2, 29, 0, 0, 0));
  BOOST_CHECK_EQUAL(parse("2000-02-29T23:59:59Z"), TimegmUs(2000, 2, 29, 23, 59, 59));
  BOOST_CHECK_EQUAL(parse("2026-12-31T23:59:59.999999Z"),
                    TimegmUs(2026, 12, 31, 23, 59, 59) + 999999);
  for (const char* bad :
       {"2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01T00:00:00",
        "2026-01-01 00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00+0200",
        "2026-01-01T00:00:00+24:00", "", "20260101T000000Z", "2026-01-01T00:00:00.12a3Z"}) {
    Result<TimeUs> t = ParseRfc3339(bad);
    BOOST_CHECK_MESSAGE(!t, bad << " parsed");
    if (!t) BOOST_CHECK_EQUAL(t.error().name(), "INVALID-FIELD");
  }
  // Random instants agree with timegm.
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const int y = 1970 + int(rng() % 130), mo = 1 + int(rng() % 12), d = 1 + int(rng() % 28);
    const int h = int(rng() % 24), mi = int(rng() % 60), s = int(rng() % 60);
    char text[32];
    std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
    if (parse(text) != TimegmUs(y, mo, d, h, mi, s)) BOOST_FAIL(text);
  }
}

BOOST_AUTO_TEST_CASE(whole_body) {
  const std::string body = kGood + "\r\n" + "\n" + "{broken\n" + "   \n" +
                           R"({"key_id":"Ab3dEf7h","time_us":5})" + "\n" + Line("");
  auto parsed = ParseNdjsonBody(body);
  BOOST_REQUIRE_MESSAGE(parsed, ErrorText(parsed));
  const NdjsonBody& b = parsed.value();
  BOOST_REQUIRE_EQUAL(b.accepted.size(), 2u);
  BOOST_CHECK_EQUAL(b.accepted[0].line, 1u);
  BOOST_CHECK_EQUAL(b.accepted[0].fields.gateway_id, "gw-1");
  BOOST_CHECK_EQUAL(b.accepted[1].line, 6u);
  BOOST_REQUIRE_EQUAL(b.rejected.size(), 2u);
  BOOST_CHECK_EQUAL(b.rejected[0].line, 3u);
  BOOST_CHECK_EQUAL(b.rejected[0].status.name(), "INVALID-JSON");
  BOOST_CHECK_EQUAL(b.rejected[1].line, 5u);
  BOOST_CHECK_EQUAL(b.rejected[1].status.name(), "MISSING-FIELD");

  BOOST_CHECK(ParseNdjsonBody("").value().accepted.empty());
  NdjsonLimits limits;
  limits.max_lines = 2;
  auto too_many = ParseNdjsonBody(Line("") + "\n\n" + Line("") + "\n" + Line(""), limits);
  BOOST_REQUIRE(!too_many);
  BOOST_CHECK_EQUAL(too_many.error().name(), "TOO-MANY-LINES");
  limits.max_lines = 3;
  limits.max_line_bytes = 200;
  auto long_line = ParseNdjsonBody(Line("") + "\n" + std::string(300, ' ') + "x\n", limits);
  BOOST_REQUIRE(long_line);
  BOOST_REQUIRE_EQUAL(long_line.value().rejected.size(), 1u);
  BOOST_CHECK_EQUAL(long_line.value().rejected[0].status.name(), "OVERSIZED");
}

}  // namespace
}  // namespace keymeter
