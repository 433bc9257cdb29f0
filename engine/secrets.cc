#include "engine/secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace keymeter {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

bool DigestEqual(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest d;
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), d.data(), &size);
  return d;
}

namespace {
thread_local DerivedRandomness* current_derived = nullptr;
}  // namespace

DerivedRandomness::DerivedRandomness(const Digest& secret, const Digest& seed)
    : outer_(current_derived), secret_(secret), seed_(seed) {
  current_derived = this;
}

DerivedRandomness::~DerivedRandomness() { current_derived = outer_; }

DerivedRandomness* DerivedRandomness::Current() { return current_derived; }

void DerivedRandomness::Fill(unsigned char* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (used_ == buffer_.size()) {
      std::string block(reinterpret_cast<const char*>(seed_.data()), seed_.size());
      for (int shift = 56; shift >= 0; shift -= 8) block.push_back(char(block_ >> shift));
      ++block_;
      buffer_ = HmacSha256(
          std::string_view(reinterpret_cast<const char*>(secret_.data()), secret_.size()), block);
      used_ = 0;
    }
    out[i] = buffer_[used_++];
  }
}

std::string RandomKeyChars(size_t n, DerivedRandomness* from) {
  std::string out;
  out.reserve(n);
  unsigned char buf[64];
  DerivedRandomness* derived = from != nullptr ? from : DerivedRandomness::Current();
  while (out.size() < n) {
    if (derived != nullptr) {
      derived->Fill(buf, sizeof(buf));
    } else if (RAND_bytes(buf, sizeof(buf)) != 1) {
      // Without a working CSPRNG no secret can be made; the process can't go on safely.
      throw std::runtime_error("RAND_bytes failed");
    }
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
    if (DerivedRandomness::Current() != nullptr || !taken(*KeyId::Parse(key))) return key;
  }
  return Status(Code::kKeyIdExhausted, "16 random key ids in a row were taken");
}

std::string RotateKey(KeyId id) { return id.str() + RandomKeyChars(kKeyLength - kKeyIdLength); }

std::string GenerateAdminToken() { return "kmt_" + RandomKeyChars(40); }

std::string GenerateAccountId() { return "acct" + RandomKeyChars(12); }

std::string GenerateGatewayToken() { return "kmg_" + RandomKeyChars(40); }

std::string GenerateGatewayId() { return "gw" + RandomKeyChars(10); }

}  // namespace keymeter
