#include "schemas/sha256.h"

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <stdexcept>

#include "schemas/hex.h"

namespace keymeter {
namespace {

// OpenSSL 3's one-shot SHA256() and EVP_sha256() fetch the algorithm from its provider (a lock,
// a hash lookup, a reference count) on every call: fetched once here.
const EVP_MD* Algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("SHA-256 unavailable in OpenSSL");
  return md;
}

}  // namespace

Digest Sha256(std::string_view text) {
  // The one-shot SHA256() also allocates a context on every call: ~500 ns for a key, 6 % of
  // serve's CPU under authorize load. Each thread keeps a context: ~110 ns.
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 EVP_MD_CTX_free);
  Digest d;
  unsigned int size = 0;
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), Algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d.data(), &size) != 1) {
    throw std::runtime_error("SHA-256 unavailable in OpenSSL");
  }
  return d;
}

void Sha256Checksum::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Checksum::Sha256Checksum() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_.get(), Algorithm(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 unavailable in OpenSSL");
  }
}

void Sha256Checksum::Add(std::string_view part) {
  const uint64_t n = part.size();
  EVP_DigestUpdate(ctx_.get(), &n, sizeof(n));
  EVP_DigestUpdate(ctx_.get(), part.data(), part.size());
}

std::string Sha256Checksum::Hex() {
  Digest d;
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx_.get(), d.data(), &size);
  return ToHex(std::span<const uint8_t>(d.data(), size));
}

}  // namespace keymeter
