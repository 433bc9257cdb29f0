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
#include "schemas/status.h"

namespace keymeter {

// SHA-256 of `text`.
Digest Sha256(std::string_view text);

// Compares two digests in time independent of where they differ.
bool DigestEqual(const Digest& a, const Digest& b);

// `n` random characters of the key alphabet (rejection sampling: no modulo bias).
std::string RandomKeyChars(size_t n);

// A new 24-character key whose id is not taken. `taken` is asked for each candidate id; a
// collision is retried (up to 16 times, then an error: the id space is not the problem then).
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
