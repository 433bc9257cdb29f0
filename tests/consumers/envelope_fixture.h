// Envelopes for the consumers tests: request events and key ops built with
// schemas/envelope_builder.h, deterministic for a given (account, seq).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "schemas/envelope_builder.h"
#include "schemas/status.h"

namespace keymeter::testing {

inline std::string AccountId(int account) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "acct%012d", account);
  return buf;
}

inline RequestFields MakeRequest(int account, int seq) {
  RequestFields r;
  std::memcpy(r.request_id.data(), &account, sizeof(account));
  std::memcpy(r.request_id.data() + 4, &seq, sizeof(seq));
  r.key_id = "Ab3dEf7h";
  r.account_id = AccountId(account);
  r.time_us = 1'767'225'600'000'000 + int64_t{seq} * 1000 + account;
  r.product = "translate";
  r.units = 1 + static_cast<uint32_t>(seq % 7);
  r.client_ip = "203.0.113.7";
  r.gateway_id = "gw-1";
  return r;
}

inline std::string MakeEnvelope(int account, int seq) {
  return BuildRequestEvent(MakeRequest(account, seq));
}

inline std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string Text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Boost.Test builds an assertion's message even when it passes, so it must not read error()
// of a successful result (Result's policy would abort).
template <class T>
std::string ErrorText(const Result<T>& result) {
  return result.has_error() ? result.error().ToString() : std::string();
}

}  // namespace keymeter::testing
