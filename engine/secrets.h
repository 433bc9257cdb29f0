// Keys, admin tokens and their digests.
//
// A key is 24 characters of [A-Za-z0-9]: an 8-character public key id and a 16-character
// secret, drawn from OpenSSL's CSPRNG. Only SHA-256 of the whole key (or token) is ever stored
// or published; the plain text exists only in the response that hands it out.
//
// Thread safety: all functions are safe to call concurrently.

#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "schemas/ids.h"
#include "schemas/sha256.h"  // Sha256, for the callers that digest keys and tokens
#include "schemas/status.h"

namespace keymeter {

// Compares two digests in time independent of where they differ.
bool DigestEqual(const Digest& a, const Digest& b);

// HMAC-SHA256 of `data` under `key`.
Digest HmacSha256(std::string_view key, std::string_view data);

// `n` random characters of the key alphabet (rejection sampling: no modulo bias): from
// OpenSSL's CSPRNG, or from the innermost DerivedRandomness alive on this thread, or from
// `from` when given.
class DerivedRandomness;
std::string RandomKeyChars(size_t n, DerivedRandomness* from = nullptr);

// While alive, makes this thread's RandomKeyChars() — and so every id, key and token made
// here — a function of (`secret`, `seed`): the bytes of HMAC-SHA256(secret, seed ‖ be64(i))
// for i = 0, 1, ... An idempotent request (api/idempotency.h) is handled again under the same
// seed, so its retry makes the same command id, key id and plain key as the first attempt,
// none of them stored anywhere; without `secret` they can't be told from random ones.
class DerivedRandomness {
 public:
  DerivedRandomness(const Digest& secret, const Digest& seed);
  ~DerivedRandomness();
  DerivedRandomness(const DerivedRandomness&) = delete;
  DerivedRandomness& operator=(const DerivedRandomness&) = delete;

  // The innermost alive on this thread; nullptr when none is.
  static DerivedRandomness* Current();
  // Fills `out` with the next bytes of the stream.
  void Fill(unsigned char* out, size_t n);

 private:
  DerivedRandomness* const outer_;
  const Digest secret_;
  const Digest seed_;
  uint64_t block_ = 0;
  Digest buffer_{};
  size_t used_ = sizeof(Digest);
};

// A new 24-character key whose id is not taken. `taken` is asked for each candidate id; a
// collision is retried (up to 16 times, then an error: the id space is not the problem then).
// Under a DerivedRandomness `taken` is not asked: a retry must make the key its first attempt
// made, whose id is taken by then (the projector refuses a real collision, DUPLICATE-KEY-ID).
Result<std::string> GenerateKey(const std::function<bool(KeyId)>& taken);

// A fresh secret for an existing key id: the same 8 characters followed by a new secret.
std::string RotateKey(KeyId id);

// An admin token ("kmt_" + 40 random characters) and an account id ("acct" + 12 characters).
std::string GenerateAdminToken();
std::string GenerateAccountId();
// A gateway token ("kmg_" + 40 random characters) and a gateway id ("gw" + 10 characters).
std::string GenerateGatewayToken();
std::string GenerateGatewayId();

}  // namespace keymeter
