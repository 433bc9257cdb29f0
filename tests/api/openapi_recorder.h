// Every answer an API test gets from keymeter, checked against docs/openapi.yaml when the test
// binary ends, so the spec cannot drift from what the server really answers.
//
// HttpCall (api_client.h) and the gateway tests' Send (gateway_fixture.h) pass each exchange to
// RecordExchange(). In a binary built with KEYMETER_OPENAPI_CHECK (tests/api/CMakeLists.txt,
// km_openapi_check(); it also defines KEYMETER_SOURCE_DIR and KEYMETER_VENV_PYTHON, the Python of
// scripts/deps' venv) a global fixture turns recording on: one JSON object a line, {"method",
// "target", "status", "content_type", "headers": [[name, value]...], "request_body",
// "response_body"}, into a file of the process's own in the temp dir. Its teardown runs
// tests/api/openapi_check.py on the spec and that file — one Python run per binary — and fails
// the module with the checker's report when any answer does not match. The file is removed
// when all did, kept (and named in the report) otherwise. Elsewhere RecordExchange() does nothing.
//
// Bodies of other types than JSON (the console's files, /metrics, exports) are kept only up to
// kRecordedTextBytes: the checker looks at their status, content type and headers.
//
// Thread safety: RecordExchange() may be called from any thread (appends are serialized).
#pragma once

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>

#include "schemas/json_writer.h"
#include "tests/common/process_fixture.h"

namespace keymeter::testing {

inline constexpr size_t kRecordedTextBytes = 4096;

// The file this process records into; empty while recording is off.
inline std::string& RecordingPath() {
  static std::string path;
  return path;
}

inline void RecordExchange(std::string_view method, std::string_view target,
                           std::string_view request_body, const HttpResponse& response) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  const std::string& path = RecordingPath();
  if (path.empty()) return;
  const std::string content_type(response[bhttp::field::content_type]);
  std::string_view body = response.body();
  if (content_type.rfind("application/json", 0) != 0) body = body.substr(0, kRecordedTextBytes);
  JsonWriter json;
  json.BeginObject().Key("method").String(method).Key("target").String(target);
  json.Key("status").Int(response.result_int()).Key("content_type").String(content_type);
  json.Key("headers").BeginArray();
  for (const auto& field : response) {
    const auto name = field.name_string();
    const auto value = field.value();
    json.BeginArray().String(std::string_view(name.data(), name.size()));
    json.String(std::string_view(value.data(), value.size())).EndArray();
  }
  json.EndArray().Key("request_body").String(request_body).Key("response_body").String(body);
  std::ofstream(path, std::ios::app) << json.EndObject().Take() << "\n";
}

#ifdef KEYMETER_OPENAPI_CHECK

// The global fixture of a checked binary: records from the first test on, checks at the end.
struct OpenApiCheck {
  void setup() {
    const std::string name = std::filesystem::read_symlink("/proc/self/exe").filename();
    RecordingPath() = (std::filesystem::temp_directory_path() /
                       ("keymeter-openapi-" + name + "-" + std::to_string(::getpid()) + ".ndjson"))
                          .string();
    std::ofstream(RecordingPath(), std::ios::trunc);
  }

  void teardown() {
    const std::string recording = RecordingPath();
    RecordingPath().clear();
    const std::string python = KEYMETER_VENV_PYTHON;
    if (!std::filesystem::exists(python)) {
      BOOST_ERROR(python << " is missing: run scripts/deps (it installs openapi-core there); "
                            "the answers recorded in " << recording << " were not checked");
      return;
    }
    const std::string source = KEYMETER_SOURCE_DIR;
    auto run = Spawn(python,
                     {source + "/tests/api/openapi_check.py", source + "/docs/openapi.yaml",
                      recording},
                     recording + ".err");
    const std::string report = run->ReadAll(120s);
    const int code = run->Wait(30s);
    const std::string errors = run->Stderr();
    std::filesystem::remove(recording + ".err");
    BOOST_CHECK_MESSAGE(code == 0, "the answers do not match docs/openapi.yaml (recorded in "
                                       << recording << "):\n" << report << errors);
    if (code == 0) {
      BOOST_TEST_MESSAGE(report);
      std::filesystem::remove(recording);
    }
  }
};

BOOST_TEST_GLOBAL_FIXTURE(OpenApiCheck);

#endif  // KEYMETER_OPENAPI_CHECK

}  // namespace keymeter::testing
