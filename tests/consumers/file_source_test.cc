// FileSource over length-prefixed and NDJSON files: offsets, stored offsets, AtEnd, and the
// lines and records that become dead letters.
#define BOOST_TEST_MODULE file_source_test
#include "consumers/file_source.h"

#include <boost/test/unit_test.hpp>
#include <fstream>

#include "consumers/decode.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/envelope_fixture.h"

namespace keymeter {
namespace {

using testing::Bytes;
using testing::ErrorText;
using testing::MakeEnvelope;
using testing::Text;

std::unique_ptr<FileSource> OpenSource(FileSourceOptions options) {
  auto source = FileSource::Open(std::move(options));
  BOOST_REQUIRE_MESSAGE(source, ErrorText(source));
  return std::move(source).value();
}

// Everything the source delivers, polled `max` at a time.
std::vector<std::pair<int64_t, std::string>> ReadAll(FileSource& source, size_t max) {
  std::vector<std::pair<int64_t, std::string>> all;
  std::vector<SourceMessage> batch;
  for (int polls = 0; polls < 1000 && !source.AtEnd(); ++polls) {
    auto n = source.Poll(&batch, max, std::chrono::milliseconds(0));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    BOOST_REQUIRE_LE(n.value(), max);
    for (const SourceMessage& m : batch) {
      BOOST_CHECK_EQUAL(m.partition, 0);
      all.emplace_back(m.offset, Text(m.payload));
    }
  }
  BOOST_CHECK(source.AtEnd());
  return all;
}

std::string WriteRecords(const testing::TempDir& dir, int count) {
  const std::string path = dir.sub("events.kmev");
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < count; ++i) {
    BOOST_REQUIRE(AppendLengthPrefixed(out, Bytes(MakeEnvelope(i % 3, i))).ok());
  }
  return path;
}

BOOST_AUTO_TEST_CASE(length_prefixed_records) {
  testing::TempDir dir;
  FileSourceOptions options;
  options.path = WriteRecords(dir, 10);
  auto source = OpenSource(options);
  BOOST_CHECK(source->format() == FileFormat::kLengthPrefixed);
  BOOST_CHECK_EQUAL(source->name(), "file");
  auto all = ReadAll(*source, 4);
  BOOST_REQUIRE_EQUAL(all.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    BOOST_CHECK_EQUAL(all[size_t(i)].first, i);
    BOOST_CHECK(all[size_t(i)].second == MakeEnvelope(i % 3, i));
  }
  std::vector<SourceMessage> batch;
  auto after = source->Poll(&batch, 4, std::chrono::milliseconds(0));
  BOOST_REQUIRE(after);
  BOOST_CHECK_EQUAL(after.value(), 0u);
}

BOOST_AUTO_TEST_CASE(starts_at_stored_offset) {
  testing::TempDir dir;
  FileSourceOptions options;
  options.path = WriteRecords(dir, 10);
  options.stored_offset = [](int32_t p) -> std::optional<int64_t> { return p == 0 ? 6 : 0; };
  auto source = OpenSource(options);
  auto all = ReadAll(*source, 3);
  BOOST_REQUIRE_EQUAL(all.size(), 4u);
  BOOST_CHECK_EQUAL(all.front().first, 6);
  BOOST_CHECK(all.front().second == MakeEnvelope(0, 6));
}

BOOST_AUTO_TEST_CASE(oversized_and_truncated_records) {
  testing::TempDir dir;
  const std::string path = dir.sub("bad.kmev");
  {
    std::ofstream out(path, std::ios::binary);
    BOOST_REQUIRE(AppendLengthPrefixed(out, Bytes(MakeEnvelope(1, 0))).ok());
    BOOST_REQUIRE(AppendLengthPrefixed(out, Bytes(std::string(5000, 'z'))).ok());
    BOOST_REQUIRE(AppendLengthPrefixed(out, Bytes(MakeEnvelope(1, 2))).ok());
    const std::string last = MakeEnvelope(1, 3);
    BOOST_REQUIRE(AppendLengthPrefixed(out, Bytes(last)).ok());
    out.close();
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);  // cut the last
  }
  EmbeddedDeadLetterSink sink;
  FileSourceOptions options;
  options.path = path;
  options.format = FileFormat::kLengthPrefixed;
  options.max_record_bytes = 4096;
  options.dead_letters = &sink;
  auto source = OpenSource(options);
  auto all = ReadAll(*source, 100);
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  BOOST_CHECK_EQUAL(all[0].first, 0);
  BOOST_CHECK_EQUAL(all[1].first, 2);
  BOOST_CHECK_EQUAL(source->rejected(), 2u);
  const std::map<std::string, uint64_t> expected = {{"OVERSIZED", 1}, {"UNDECODABLE", 1}};
  BOOST_CHECK(sink.CountsByReason() == expected);
}

BOOST_AUTO_TEST_CASE(ndjson_lines_and_dead_letters) {
  testing::TempDir dir;
  const std::string path = dir.sub("events.ndjson");
  const std::string id = R"("request_id":"00112233445566778899aabbccddeeff")";
  const std::vector<std::string> lines = {
      "{" + id + R"(,"key_id":"Ab3dEf7h","time":"2026-11-25T10:00:00Z","units":2})",  // 0 good
      "{not json",                                                                    // 1
      "{" + id + R"(,"time_us":5})",                                                  // 2 no key
      "",                                                                             // 3 blank
      "{" + id + R"(,"key_id":"Zz9yXw8v","time_us":5})",                              // 4 unknown
      "{" + id + R"(,"key_id":"Ab3dEf7h","time_us":5,"product":")" + std::string(300, 'p') +
          "\"}",                                          // 5 long
      "{" + id + R"(,"key_id":"Ab3dEf7h","time_us":7})",  // 6 good
  };
  {
    std::ofstream out(path, std::ios::binary);
    for (const std::string& line : lines) out << line << "\r\n";
  }
  EmbeddedDeadLetterSink sink;
  FileSourceOptions options;
  options.path = path;
  options.max_line_bytes = 200;
  options.dead_letters = &sink;
  options.account_of = [](std::string_view key_id) -> std::optional<std::string> {
    if (key_id == "Ab3dEf7h") return std::string("acct1");
    return std::nullopt;
  };
  auto source = OpenSource(options);
  BOOST_CHECK(source->format() == FileFormat::kNdjson);
  auto all = ReadAll(*source, 2);
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  BOOST_CHECK_EQUAL(all[0].first, 0);
  BOOST_CHECK_EQUAL(all[1].first, 6);
  for (const auto& [offset, bytes] : all) {
    Decoded d = DecodeEnvelope(Bytes(bytes));
    BOOST_REQUIRE_MESSAGE(d.ok(), d.reason << " " << d.detail);
    BOOST_CHECK_EQUAL(d.envelope->account_id()->str(), "acct1");
    BOOST_CHECK_EQUAL(d.envelope->op_as_RequestEvent()->key_id()->str(), "Ab3dEf7h");
  }
  const fb::Envelope* first = DecodeEnvelope(Bytes(all[0].second)).envelope;
  BOOST_CHECK_EQUAL(first->op_as_RequestEvent()->units(), 2u);
  const std::map<std::string, uint64_t> expected = {
      {"INVALID-JSON", 1}, {"MISSING-FIELD", 1}, {"UNKNOWN-KEY", 1}, {"OVERSIZED", 1}};
  BOOST_CHECK(sink.CountsByReason() == expected);
  BOOST_CHECK_EQUAL(source->rejected(), 4u);

  // Without a key directory the account stays empty and decode says so.
  FileSourceOptions bare;
  bare.path = path;
  bare.max_line_bytes = 200;
  auto plain = OpenSource(bare);
  auto events = ReadAll(*plain, 100);
  BOOST_REQUIRE_EQUAL(events.size(), 3u);  // lines 0, 4 and 6
  Decoded d = DecodeEnvelope(Bytes(events[0].second));
  BOOST_CHECK_EQUAL(std::string(LogName(d.reason)) + ":" + d.detail, "MISSING-FIELD:account_id");
}

BOOST_AUTO_TEST_CASE(missing_and_empty_files) {
  auto missing = FileSource::Open({.path = "/nonexistent/keymeter/file"});
  BOOST_REQUIRE(!missing);
  BOOST_CHECK_EQUAL(missing.error().name(), "IO-ERROR");
  testing::TempDir dir;
  { std::ofstream empty(dir.sub("empty")); }
  auto source = OpenSource({.path = dir.sub("empty")});
  BOOST_CHECK(ReadAll(*source, 10).empty());
}

}  // namespace
}  // namespace keymeter
