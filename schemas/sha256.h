// SHA-256 through OpenSSL 3's EVP interface: the digest keymeter keeps of keys, tokens and
// ids (never the text itself), and the checksums that compare whole stores or partitions.
//
// Thread safety: Sha256 is safe to call concurrently (a context per thread); a
// Sha256Checksum is a value (one thread).

#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "schemas/ids.h"

struct evp_md_ctx_st;

namespace keymeter {

// SHA-256 of `text`.
Digest Sha256(std::string_view text);

// SHA-256 over a sequence of byte strings, each prefixed by its length (8 bytes, the host's
// order), so that ("ab", "c") and ("a", "bc") differ.
class Sha256Checksum {
 public:
  Sha256Checksum();
  void Add(std::string_view part);
  // 64 lowercase hex digits. Once.
  std::string Hex();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace keymeter
