// A mixed workload for the projector and its reference result, computed here independently:
// several accounts, parents with children, re-parenting mid-stream, suspended and deleted keys,
// late events, duplicates, and poison (random bytes, truncated buffers, unknown keys, other
// accounts' keys, future timestamps).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <array>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/secrets.h"
#include "projections/time_buckets.h"
#include "projections/usage.h"
#include "schemas/envelope_builder.h"
#include "tests/engine/vector_source.h"

namespace keymeter::testing {

struct Expected {
  std::map<std::string, Counters> usage;  // UsageKey -> counters
  std::map<std::string, uint64_t> dead_letters;
  std::map<std::string, uint64_t> requests_logged;  // per account
  uint64_t duplicates = 0;
  uint64_t accepted = 0;
};

struct Workload {
  std::vector<LogMessage> log;
  Expected expected;
  TimeUs end_time = 0;
};

// Per-account generator state.
struct AccountGen {
  std::string account, parent, c1, c2, root2, foreign;
  int32_t partition = 0;
  std::map<std::string, std::string> root;
  TimeUs c2_deleted = INT64_MAX;
  TimeUs c1_expires = INT64_MAX;
  absl::flat_hash_set<std::array<uint8_t, 16>> seen;  // request ids accepted
  std::vector<std::string> recent;  // payloads of accepted requests, to resend
};

// `partition_of` places an account on a partition (default: round robin over 4). Accounts
// advance on one shared clock, two seconds a step, as a gateway fleet would publish them.
inline Workload MakeWorkload(unsigned seed, int accounts, int requests_per_account,
                             std::function<int32_t(const std::string&)> partition_of = {}) {
  Workload w;
  int next_partition = 0;
  if (!partition_of) partition_of = [&](const std::string&) { return next_partition++ % 4; };
  std::map<int32_t, std::string> first_parent;  // per partition, for ACCOUNT-MISMATCH
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return double(rng() % 1'000'000) < p * 1'000'000; };
  const TimeUs base = (DaysFromCivil(2026, 3, 31) * 86400 + 23 * 3600 + 30 * 60) * kMicrosPerSecond;
  TimeUs t = base;
  std::vector<AccountGen> gens(accounts);
  // The reference usage, summed in a hash map (2M events make 20M updates), sorted at the end;
  // hash tables here made a 2M-event workload ~2.5x faster to build than std::map and std::set.
  absl::flat_hash_map<std::string, Counters> usage;
  auto push = [&](const AccountGen& g, std::string payload, TimeUs log_time) {
    w.log.push_back({g.partition, std::move(payload), log_time});
  };
  auto admin = [&](const AccountGen& g) {
    return EnvelopeHeader{.command_id = "c" + g.account + std::to_string(t), .time_us = t,
                          .actor = fb::ActorKind::AccountAdmin, .account_id = g.account};
  };
  for (int a = 0; a < accounts; ++a) {
    AccountGen& g = gens[a];
    g.account = "acct" + std::to_string(seed) + "x" + std::to_string(a);
    g.partition = partition_of(g.account);
    auto id = [&](char role) {
      std::string s = "K" + std::to_string(seed % 100) + "a" + std::to_string(a) + role;
      s.resize(8, 'z');
      return s;
    };
    g.parent = id('P'), g.c1 = id('C'), g.c2 = id('D'), g.root2 = id('R');
    // A key of an account applied earlier on the same partition: its events order before ours.
    g.foreign = first_parent.contains(g.partition) ? first_parent[g.partition] : "";
    first_parent.emplace(g.partition, g.parent);
    EnvelopeHeader create{.time_us = t, .actor = fb::ActorKind::Operator, .account_id = g.account};
    push(g, BuildAccountCreated(create, g.account, Sha256(g.account), false), t);
    for (const std::string& k : {g.parent, g.root2}) {
      push(g, BuildKeyIssued(admin(g), k, Sha256(k), k, "", fb::KeyStatus::Active), t);
    }
    for (const std::string& k : {g.c1, g.c2}) {
      push(g, BuildKeyIssued(admin(g), k, Sha256(k), k, g.parent, fb::KeyStatus::Pending), t);
    }
    // Limits (docs/api.md): root2's pool spends credits, refilled daily with rollover (its
    // balance is in the key's record, so the checksums compare it); the parent's pool and c1
    // have rate limits (memory only).
    push(g, BuildCreditsAdded(admin(g), g.root2, 1000, "opening balance"), t);
    push(g, BuildCreditsConfigSet(admin(g), g.root2, true, 500, fb::RefillPeriod::Day, true), t);
    push(g, BuildRateLimitSet(admin(g), g.parent, {.per_second = 5, .per_hour = 1000}), t);
    push(g, BuildRateLimitSet(admin(g), g.c1, {.per_minute = 10}), t);
    // Alert thresholds on the parent's pool (a daily quota to watch) and on c1's member cap:
    // the day ends mid-workload (the day's alerts resolve) and the quota is raised later.
    push(g, BuildQuotaSet(admin(g), g.parent, 40, 0), t);
    push(g, BuildAlertThresholdsSet(admin(g), g.parent, {50, 100}), t);
    push(g, BuildMemberCapSet(admin(g), g.c1, 6, 0), t);
    push(g, BuildAlertThresholdsSet(admin(g), g.c1, {50}), t);
    // Two webhooks (every alert raised enqueues its deliveries and a topic entry); the sender's
    // records come later (no sender runs here: its ops are in the log like any other).
    push(g, BuildWebhookCreated(admin(g), "wh_all", "https://hooks.example/" + g.account, {}), t);
    push(g, BuildWebhookCreated(admin(g), "wh_res", "http://hooks.example/r",
                                {"threshold.resolved"}), t);
    g.root = {{g.parent, g.parent}, {g.root2, g.root2}, {g.c1, g.parent}, {g.c2, g.parent}};
  }
  for (int i = 0; i < requests_per_account; ++i) {
    t += 2 * kMicrosPerSecond;
    for (AccountGen& g : gens) {
      if (i == requests_per_account * 3 / 10) {
        push(g, BuildParentSet(admin(g), g.c2, g.root2), t);
        g.root[g.c2] = g.root2;
      }
      if (i == requests_per_account / 2) push(g, BuildStatusOp(admin(g), fb::Op::KeySuspended, g.c1), t);
      if (i == requests_per_account * 3 / 4) push(g, BuildQuotaSet(admin(g), g.parent, 400, 0), t);
      if (i == requests_per_account * 8 / 10) {  // c1 expires a minute from now (event time)
        g.c1_expires = t + 60 * kMicrosPerSecond;
        push(g, BuildKeyExpirySet(admin(g), g.c1, g.c1_expires), t);
      }
      if (i == requests_per_account * 7 / 10) {
        push(g, BuildStatusOp(admin(g), fb::Op::KeyDeleted, g.c2), t);
        g.c2_deleted = t;
      }
      // A top-up sent with an Idempotency-Key; later its retry (the first outcome, no second
      // top-up) and the key reused for another request (IDEMPOTENCY-KEY-REUSED): the credits
      // balance in root2's record shows which ran.
      if (i == requests_per_account * 4 / 10 || i == requests_per_account * 6 / 10) {
        EnvelopeHeader h = admin(g);
        h.command_id = "idem_" + g.account;
        h.request_digest = Sha256("top-up of " + g.account);
        push(g, BuildCreditsAdded(h, g.root2, 100, "top-up"), t);
        if (i == requests_per_account * 6 / 10) {
          h.request_digest = Sha256("another top-up of " + g.account);
          push(g, BuildCreditsAdded(h, g.root2, 7, "top-up"), t);
        }
      }
      // The sender's records: an attempt that failed, one that delivered, a publish, and a
      // webhook removed with its log and its queue.
      if (i == requests_per_account / 2 || i == requests_per_account * 55 / 100) {
        const bool second = i != requests_per_account / 2;
        EnvelopeHeader h{.command_id = "snd" + g.account + std::to_string(t), .time_us = t,
                         .account_id = g.account};
        push(g, BuildWebhookAttempted(h, {.webhook_id = "wh_all", .alert_id = "alert_w",
                                          .alert_time_us = t - kMicrosPerSecond,
                                          .attempt = second ? 2u : 1u,
                                          .status = uint16_t(second ? 200 : 500),
                                          .error = second ? "" : "HTTP-STATUS",
                                          .delivered = second,
                                          .next_attempt_us = second ? 0 : t + kMicrosPerSecond}),
             t);
        if (second) push(g, BuildAlertsPublished(h, {{"alert_w", t - kMicrosPerSecond}}), t);
      }
      if (i == requests_per_account * 85 / 100) push(g, BuildWebhookDeleted(admin(g), "wh_res"), t);
      if (i == requests_per_account * 9 / 10) {  // a correction of last month (deleted c2's):
        // applied where the month has closed in the partition, MONTH-NOT-CLOSED elsewhere
        push(g, BuildUsageAdjusted(admin(g), g.c2, MonthStart(MonthStart(t) - 1), -1, 2, "fix"), t);
      }
      if (chance(0.005)) {  // random bytes
        std::string junk(1 + rng() % 200, '\0');
        for (char& c : junk) c = char(rng());
        push(g, junk, t), ++w.expected.dead_letters["UNDECODABLE"];
        continue;
      }
      if (chance(0.03) && !g.recent.empty()) {  // a gateway retry
        push(g, g.recent[rng() % g.recent.size()], t), ++w.expected.duplicates;
        continue;
      }
      const std::string keys[] = {g.parent, g.root2, g.c1, g.c2};
      RequestFields r;
      for (auto& b : r.request_id) b = uint8_t(rng());
      r.key_id = keys[rng() % 4];
      r.account_id = g.account;
      r.time_us = t;
      if (chance(0.05)) {  // late: into the last month too, until it closes (TOO-LATE after)
        const TimeUs late = t - int64_t(1 + rng() % 3) * kMicrosPerDay;
        if (late >= MonthStart(t) || t < MonthStart(t) + kMicrosPerHour) r.time_us = late;
      }
      r.product = rng() % 2 ? "whois" : "dns";
      r.units = uint32_t(1 + rng() % 3);
      r.status = std::array<uint16_t, 5>{200, 200, 201, 404, 503}[rng() % 5];
      r.bytes_in = rng() % 1000;
      r.bytes_out = rng() % 10000;
      r.latency_us = uint32_t(rng() % 5000);
      r.client_ip = "198.51.100." + std::to_string(rng() % 255);
      r.gateway_id = "gw1";
      std::string reason;
      if (chance(0.01)) {
        r.key_id = "Nokey" + std::to_string(rng() % 900 + 100), reason = "UNKNOWN-KEY";
      } else if (chance(0.01) && !g.foreign.empty()) {
        r.key_id = g.foreign, reason = "ACCOUNT-MISMATCH";
      } else if (chance(0.003)) {
        r.time_us = t + kMicrosPerDay, reason = "FUTURE-TIMESTAMP";
      } else if (r.key_id == g.c2 && r.time_us >= g.c2_deleted) {
        reason = "KEY-DELETED";
      } else if (r.key_id == g.c1 && r.time_us >= g.c1_expires) {
        reason = "KEY-EXPIRED";
      }
      std::string payload = BuildRequestEvent(r);
      if (reason.empty() && chance(0.005)) {
        payload.resize(payload.size() / 2);  // truncated FlatBuffer
        reason = "UNDECODABLE";
      }
      push(g, payload, t);
      if (!reason.empty()) {
        ++w.expected.dead_letters[reason];
        continue;
      }
      if (!g.seen.insert(r.request_id).second) {
        ++w.expected.duplicates;
        continue;
      }
      if (r.time_us == t) {  // a retry of a late event is older than the dedupe window
        g.recent.push_back(payload);
        if (g.recent.size() > 20) g.recent.erase(g.recent.begin());
      }
      ++w.expected.accepted;
      ++w.expected.requests_logged[g.account];
      Counters c{1, r.units, r.status >= 400 && r.status < 500, r.status >= 500, r.bytes_in,
                 r.bytes_out};
      const std::string& rt = g.root[r.key_id];
      for (Granularity gr : {Granularity::kHour, Granularity::kDay, Granularity::kMonth}) {
        const TimeUs bucket = BucketStart(gr, r.time_us);
        usage[UsageKey(UsageScope::kKey, gr, r.key_id, bucket)].Add(c);
        usage[UsageKey(UsageScope::kRoot, gr, rt, bucket)].Add(c);
        usage[UsageKey(UsageScope::kAccount, gr, g.account, bucket)].Add(c);
      }
      usage[UsageKey(UsageScope::kProduct, Granularity::kDay, r.key_id,
                                DayStart(r.time_us), r.product)].Add(c);
    }
  }
  w.expected.usage.insert(usage.begin(), usage.end());
  w.end_time = t;
  return w;
}

}  // namespace keymeter::testing
