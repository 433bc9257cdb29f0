#include "cli/demo_seed.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "engine/secrets.h"
#include "http/client.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace {

using namespace std::chrono_literals;

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
  // Over the last three days, but not into last month once it is closed (an hour into this
  // one): its events would be dead-lettered TOO-LATE (docs/api.md, billing).
  const std::time_t month_start = std::time_t(MonthStart(TimeUs(now) * kMicrosPerSecond) /
                                              kMicrosPerSecond);
  std::time_t span = 3 * 86400;
  if (now - month_start >= 3600) span = std::min<std::time_t>(span, now - month_start);
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
    const std::time_t t = now - 60 - std::time_t(rng() % uint64_t(span - 60));
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

}  // namespace

Result<Seeded> SeedDemo(http::Client& client, const std::string& operator_token, int requests) {
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
  Result<std::string> gateway = Expect2xx(client, "POST /v1/gateways", "POST", "/v1/gateways",
                                          operator_token, R"({"name":"demo gateway"})");
  if (!gateway) return gateway.error();
  s.gateway_id = http::JsonString(gateway.value(), "/gateway_id").value_or("");
  s.gateway_token = http::JsonString(gateway.value(), "/token").value_or("");
  for (const std::string& chunk : EventChunks(s, requests, 1000)) {
    Result<std::string> r = Expect2xx(client, "POST /v1/events", "POST", "/v1/events",
                                      s.gateway_token, chunk, "application/x-ndjson");
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
  fmt::print("admin token     {}  (account {})\n", s.admin_token, s.account_id);
  fmt::print("gateway token   {}  (gateway {}, for POST /v1/events)\n\nkeys:\n", s.gateway_token,
             s.gateway_id);
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
  fmt::print("# report one request of the member, as a gateway does (with the gateway token)\n");
  fmt::print("curl -s {}/v1/events -H \"Authorization: Bearer {}\" -H 'Content-Type: "
             "application/x-ndjson' -d \"{{\\\"request_id\\\":\\\"$(od -An -tx1 -N16 "
             "/dev/urandom | tr -d ' \\n')\\\",\\\"key_id\\\":\\\"{}\\\",\\\"time\\\":"
             "\\\"$(date -u +%FT%TZ)\\\",\\\"product\\\":\\\"whois\\\"}}\"\n",
             url, s.gateway_token, dev.id);
  fmt::print("\nPress Ctrl-C to stop.\n");
  std::fflush(stdout);
}

}  // namespace keymeter
