#include "cluster/member_record.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

namespace keymeter {
namespace {

Status Invalid(std::string_view why) {
  return Status(Code::kInvalidMemberRecord, std::string(why));
}

bool ValidPartition(int64_t p) { return p >= 0 && p <= 65535; }

// The array `name` of `root` as ascending partitions into *out; false when it is not an array of
// valid partitions (or is absent and `required`).
bool ReadPartitions(simdjson::dom::object root, const char* name, bool required,
                    std::vector<int32_t>* out) {
  simdjson::dom::array list;
  if (root[name].get_array().get(list) != simdjson::SUCCESS) return !required;
  if (list.size() > 65536) return false;
  for (simdjson::dom::element e : list) {
    int64_t p = 0;
    if (e.get_int64().get(p) != simdjson::SUCCESS || !ValidPartition(p)) return false;
    out->push_back(int32_t(p));
  }
  std::sort(out->begin(), out->end());
  return true;
}

}  // namespace

bool ValidMemberId(std::string_view id) {
  return !id.empty() && id.size() <= 200 &&
         id.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string_view::npos;
}

bool ValidAdvertisedUrl(std::string_view url) {
  return url.starts_with("http://") && url.size() > 7 && url.size() <= 300 &&
         url.find_first_of("\"\\ \r\n") == std::string_view::npos;
}

std::string EncodeMemberRecord(const MemberRecord& r) {
  std::string lag;
  for (const auto& [p, n] : r.lag) lag += fmt::format("{}\"{}\":{}", lag.empty() ? "" : ",", p, n);
  // ValidMemberId() and ValidAdvertisedUrl() hold for what keymeter writes: nothing to escape.
  return fmt::format(
      R"({{"member_id":"{}","group":"{}","url":"{}","owned":[{}],"standby":[{}],"lag":{{{}}},)"
      R"("assigned_at_ms":{},"heartbeat_ms":{},"leaving":{},"settled":{}}})",
      r.member_id, r.group, r.url, fmt::join(r.owned, ","), fmt::join(r.standby, ","), lag,
      r.assigned_at_ms, r.heartbeat_ms, r.leaving ? "true" : "false",
      r.settled ? "true" : "false");
}

Result<MemberRecord> DecodeMemberRecord(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Invalid("not a JSON object");
  }
  MemberRecord r;
  std::string_view text;
  if (root["member_id"].get_string().get(text) != simdjson::SUCCESS || !ValidMemberId(text)) {
    return Invalid("member_id");
  }
  r.member_id = std::string(text);
  if (root["group"].get_string().get(text) != simdjson::SUCCESS || !ValidMemberId(text)) {
    return Invalid("group");
  }
  r.group = std::string(text);
  if (root["url"].get_string().get(text) != simdjson::SUCCESS || !ValidAdvertisedUrl(text)) {
    return Invalid("url");
  }
  r.url = std::string(text);
  if (!ReadPartitions(root, "owned", /*required=*/true, &r.owned)) return Invalid("owned");
  if (!ReadPartitions(root, "standby", /*required=*/false, &r.standby)) return Invalid("standby");
  simdjson::dom::object lag;
  if (root["lag"].get_object().get(lag) == simdjson::SUCCESS) {
    for (auto field : lag) {
      int64_t n = 0;
      int64_t p = -1;
      const std::string_view k = field.key;
      if (k.empty() || k.size() > 5 ||
          k.find_first_not_of("0123456789") != std::string_view::npos) {
        return Invalid("lag");
      }
      p = std::stoll(std::string(k));
      if (!ValidPartition(p) || field.value.get_int64().get(n) != simdjson::SUCCESS) {
        return Invalid("lag");
      }
      r.lag[int32_t(p)] = n;
    }
  }
  if (root["assigned_at_ms"].get_int64().get(r.assigned_at_ms) != simdjson::SUCCESS ||
      root["heartbeat_ms"].get_int64().get(r.heartbeat_ms) != simdjson::SUCCESS) {
    return Invalid("times");
  }
  if (root["leaving"].get_bool().get(r.leaving) != simdjson::SUCCESS) return Invalid("leaving");
  if (root["settled"].get_bool().get(r.settled) != simdjson::SUCCESS) return Invalid("settled");
  return r;
}

}  // namespace keymeter
