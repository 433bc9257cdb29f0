// Usage reads shared by GET /v1/usage (account admin), GET /v1/me/usage (member) and the
// billing report: the usage projection's buckets, with totals, for one scope.
//
// Scopes: "account" (every key of the account), "root" (a root key and its children rolled
// up: its pool), "key" (one key's own requests). Buckets are those whose start lies in
// [BucketStart(from), to): every bucket that overlaps [from, to).
//
// Answer of AnswerUsage():
//   {"scope","account_id","key_id": id|null,"granularity","from","to",
//    "totals": {counters},
//    group_by absent:   "buckets": [{"start", counters}, ...]
//    group_by=key:      "keys": [{"key_id","label","parent","status","totals","buckets"}]
//    group_by=product:  "products": [{"product","totals","buckets"}]}
// where counters = "requests","units","errors_4xx","errors_5xx","bytes_in","bytes_out".
// Product usage is kept per day only: group_by=product takes granularity=day (the default).
//
// Thread safety: thread-safe (RocksDB reads; no lock held).

#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/views.h"
#include "http/server.h"
#include "projections/time_buckets.h"
#include "projections/usage.h"
#include "schemas/status.h"

namespace keymeter {

class Pipeline;

struct UsageQuery {
  enum class GroupBy { kNone, kKey, kProduct };
  Granularity granularity = Granularity::kDay;
  TimeUs from_us = 0;  // aligned down to its bucket's start
  TimeUs to_us = 0;
  GroupBy group_by = GroupBy::kNone;
  // Filled by the caller: the scope read for the totals and the keys whose own rows make it up
  // (read for group_by=key and group_by=product).
  UsageScope scope = UsageScope::kAccount;
  std::string account_id;
  std::string key_id;  // "" for the account scope
  std::vector<KeyView> members;
};

// Reads granularity, from, to and (when `allow_group_by`) group_by into `query`. Defaults: to =
// now, from = to minus 24 hours (hour), 30 days (day) or 365 days (month). INVALID_FIELD on a
// bad value, from >= to, or group_by=product with another granularity than day.
Status ParseUsageParams(const http::Request& request, bool allow_group_by, UsageQuery* query);

// Writes the answer above (200), or 500 INTERNAL when the store fails.
void AnswerUsage(Pipeline& pipeline, const UsageQuery& query, http::Response& response);

// Per product, the sum of `key_ids`' product rows in [from_us, to_us).
Result<std::map<std::string, Counters>> ProductTotals(Pipeline& pipeline,
                                                      const std::vector<std::string>& key_ids,
                                                      TimeUs from_us, TimeUs to_us);

// The keys of `all` that make up `root`'s pool: the root and every key whose root it is.
std::vector<KeyView> PoolMembers(const std::vector<KeyView>& all, const std::string& root);

}  // namespace keymeter
