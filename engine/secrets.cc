#include "engine/secrets.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace keymeter {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

Digest Sha256(std::string_view text) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
  return d;
}

bool DigestEqual(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomKeyChars(size_t n) {
  std::string out;
  out.reserve(n);
  unsigned char buf[64];
  while (out.size() < n) {
    // Without a working CSPRNG no secret can be made; the process can't go on safely.
    if (RAND_bytes(buf, sizeof(buf)) != 1) throw std::runtime_error("RAND_bytes failed");
    for (unsigned char b : buf) {
      // 62 * 4 = 248: bytes at or above it would bias the first characters.
      if (b >= 248) continue;
      out.push_back(kAlphabet[b % kAlphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

Result<std::string> GenerateKey(const std::function<bool(KeyId)>& taken) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string key = RandomKeyChars(kKeyLength);
    if (!taken(*KeyId::Parse(key))) return key;
  }
  return Status(Code::kKeyIdExhausted, "16 random key ids in a row were taken");
}

std::string RotateKey(KeyId id) { return id.str() + RandomKeyChars(kKeyLength - kKeyIdLength); }

std::string GenerateAdminToken() { return "kmt_" + RandomKeyChars(40); }

std::string GenerateAccountId() { return "acct" + RandomKeyChars(12); }

std::string GenerateGatewayToken() { return "kmg_" + RandomKeyChars(40); }

std::string GenerateGatewayId() { return "gw" + RandomKeyChars(10); }

}  // namespace keymeter
