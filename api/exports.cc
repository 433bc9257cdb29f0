// GET /v1/requests/export?from=YYYY-MM-DD&to=YYYY-MM-DD[&key=ID][&format=csv|ndjson]
//
// The account admin's request log, one row per applied request of the days from..to (UTC, both
// included, at most 92), all its keys or one key's own requests, as engine/request_export.h
// writes them (CSV with its header, or NDJSON) — the rows of `keymeter export --requests`.
// Streamed: the body is written as the store is read (HTTP/1.1 chunks), at the client's pace,
// in memory that does not grow with the range. At most kMaxExports run at once per process
// (each holds an offload thread while its client reads); beyond, 503 SERVICE-UNAVAILABLE with
// Retry-After. In a cluster, a member that does not own the account relays the owner's answer
// whole (up to the relay's 64 MiB): ask the owner (X-Keymeter-Served-By) for more.

#include "api/internal.h"
#include "api/params.h"
#include "engine/pipeline.h"
#include "engine/request_export.h"
#include "http/json.h"

namespace keymeter {
namespace {

constexpr int kMaxExports = 2;
constexpr int64_t kMaxDays = 92;
constexpr size_t kChunkBytes = 64 << 10;

// The start of the day `name` names ("2026-11-25"); 400 INVALID_FIELD / MISSING_FIELD.
std::optional<TimeUs> DayParam(const http::Request& request, std::string_view name,
                               http::Response& response) {
  std::optional<std::string_view> text = Param(request, name);
  if (!text) {
    http::SetError(response, 400, Code::kMissingField, std::string(name) + ": YYYY-MM-DD");
    return std::nullopt;
  }
  Result<TimeUs> t = ParseRfc3339(std::string(*text) + "T00:00:00Z");
  if (!t || text->size() != 10) {
    http::SetError(response, 400, Code::kInvalidField, std::string(name) + ": YYYY-MM-DD");
    return std::nullopt;
  }
  return t.value();
}

void Export(const ApiPtr& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(*api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key;
  if (!QueryKey(*api, *admin, request, response, &key)) return;
  const std::optional<TimeUs> from = DayParam(request, "from", response);
  if (!from) return;
  const std::optional<TimeUs> to = DayParam(request, "to", response);
  if (!to) return;
  if (*to < *from || (*to - *from) / kMicrosPerDay >= kMaxDays) {
    return http::SetError(response, 400, Code::kInvalidField,
                          "to: on or after from, at most 92 days in all");
  }
  const std::string format(Param(request, "format").value_or("csv"));
  if (format != "csv" && format != "ndjson") {
    return http::SetError(response, 400, Code::kInvalidField, "format: csv or ndjson");
  }
  if (api->exports_running.fetch_add(1) >= kMaxExports) {
    api->exports_running.fetch_sub(1);
    response.SetHeader("Retry-After", "5");
    return http::SetError(response, 503, Code::kServiceUnavailable,
                          "other exports are running; retry shortly");
  }
  RequestExportQuery q{.from_us = *from,
                       .to_us = *to + kMicrosPerDay,
                       .account_id = admin->account_id,
                       .ndjson = format == "ndjson"};
  if (key) q.key = KeyId::Parse(key->key_id);
  response.content_type = q.ndjson ? "application/x-ndjson" : "text/csv; charset=utf-8";
  response.SetHeader("Content-Disposition",
                     "attachment; filename=\"requests-" + std::string(*Param(request, "from")) +
                         "-to-" + std::string(*Param(request, "to")) + "." + format + "\"");
  // The slot is given back when the stream is destroyed, whether it ran or not (a client gone
  // before the head was written).
  struct Slot {
    ApiPtr api;
    ~Slot() {
      if (api) api->exports_running.fetch_sub(1);
    }
  };
  auto slot = std::make_shared<Slot>();
  slot->api = api;
  response.stream = [api, q, slot](const http::BodyWriter& write) {
    std::string chunk = q.ndjson ? "" : RequestCsvHeader();
    bool gone = false;  // the client went away: stop, nothing to tell anyone
    Result<uint64_t> rows = ExportRequests(
        api->pipeline.store(), api->pipeline.directory(), q, [&](std::string_view line) {
          chunk.append(line);
          if (chunk.size() < kChunkBytes) return Status::Ok();
          gone = !write(chunk);
          chunk.clear();
          return gone ? Status(Code::kIoError, "the client went away") : Status::Ok();
        });
    // A store that failed mid-way must not end the body as if it were whole: throwing leaves
    // the chunked body unfinished (http::StreamBody).
    if (!rows && !gone) throw std::runtime_error("request export: " + rows.error().ToString());
    if (rows && !chunk.empty()) write(chunk);
  };
}

}  // namespace

void RegisterRequestExportRoute(http::Router& router, const ApiPtr& api) {
  router.Add("GET", "/v1/requests/export",
             [api](const http::Request& request, http::Response& response) {
               Export(api, request, response);
             });
}

}  // namespace keymeter
