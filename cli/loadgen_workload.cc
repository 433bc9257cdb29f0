#include "cli/loadgen_workload.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/secrets.h"
#include "schemas/envelope_builder.h"

namespace keymeter {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string Chars(std::mt19937_64& rng, size_t n) {
  std::string s(n, 'A');
  for (char& c : s) c = kAlphabet[rng() % kAlphabet.size()];
  return s;
}

}  // namespace

Loadgen::Loadgen(const LoadgenOptions& options)
    : options_(options), rng_(options.seed), now_(options.start_us) {
  for (int a = 0; a < options_.accounts; ++a) accounts_.push_back("acct" + Chars(rng_, 12));
  const int roots = std::max(options_.accounts,
                             int(options_.keys * (1.0 - options_.child_fraction)));
  for (int k = 0; k < options_.keys; ++k) {
    LoadgenKey key;
    key.key = Chars(rng_, kKeyLength);
    key.id = key.key.substr(0, kKeyIdLength);
    if (k < roots) {
      key.account = accounts_[size_t(k) % accounts_.size()];  // every account has a root
    } else {
      const LoadgenKey& parent = keys_[rng_() % size_t(roots)];
      key.account = parent.account;
      key.parent = parent.id;
    }
    keys_.push_back(std::move(key));
  }
  // Zipf over a shuffled order, so popularity is not tied to roots or children.
  std::vector<size_t> order(keys_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  zipf_cdf_.resize(keys_.size());
  double sum = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    sum += 1.0 / std::pow(double(i + 1), options_.zipf_s);
    zipf_cdf_[i] = sum;
  }
  for (double& c : zipf_cdf_) c /= sum;
  // keys_ keeps roots before children (setup order); the popularity rank maps through order.
  rank_to_key_ = std::move(order);
}

std::vector<std::pair<std::string, std::string>> Loadgen::SetupEnvelopes() const {
  std::vector<std::pair<std::string, std::string>> out;
  TimeUs t = options_.start_us - 3600 * 1'000'000LL;
  for (const std::string& account : accounts_) {
    EnvelopeHeader h{.command_id = "", .time_us = t, .actor = fb::ActorKind::Operator,
                     .account_id = account};
    out.emplace_back(BuildAccountCreated(h, account, Sha256("token-" + account), false), account);
  }
  for (const LoadgenKey& k : keys_) {
    EnvelopeHeader h{.command_id = "", .time_us = t, .actor = fb::ActorKind::AccountAdmin,
                     .account_id = k.account};
    out.emplace_back(BuildKeyIssued(h, k.id, Sha256(k.key), "member " + k.id, k.parent,
                                    fb::KeyStatus::Active),
                     k.account);
  }
  return out;
}

size_t Loadgen::PickKey() {
  const double u = double(rng_() >> 11) * (1.0 / 9007199254740992.0);
  const size_t rank = size_t(std::lower_bound(zipf_cdf_.begin(), zipf_cdf_.end(), u) - zipf_cdf_.begin());
  return rank_to_key_[std::min(rank, rank_to_key_.size() - 1)];
}

std::pair<std::string, std::string> Loadgen::NextRequest() {
  const LoadgenKey& k = keys_[PickKey()];
  now_ += options_.step_us;
  RequestFields r;
  const uint64_t seq = ++sequence_;
  const uint64_t salt = options_.seed * 0x9E3779B97F4A7C15ull;
  std::memcpy(r.request_id.data(), &seq, 8);
  std::memcpy(r.request_id.data() + 8, &salt, 8);
  r.key_id = k.id;
  r.account_id = k.account;
  r.time_us = now_;
  static const char* kProducts[] = {"whois", "dns", "ssl", "ip-geo"};
  r.product = kProducts[rng_() % 4];
  r.units = 1 + uint32_t(rng_() % 3);
  const double u = double(rng_() % 10000) / 10000.0;
  r.status = u < options_.error_rate / 2 ? 404 : u < options_.error_rate ? 503 : 200;
  r.bytes_in = 200 + rng_() % 800;
  r.bytes_out = 500 + rng_() % 5000;
  r.latency_us = 1000 + uint32_t(rng_() % 20000);
  r.client_ip = "198.51.100.7";
  r.gateway_id = "gw-1";
  return {BuildRequestEvent(r), k.account};
}

}  // namespace keymeter
