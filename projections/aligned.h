// RocksDB hands values back at any address, but FlatBuffers reads scalars in place and wants
// them aligned (UBSan says so). AlignedBytes copies a value into 8-byte-aligned storage first.
//
// Thread safety: a value.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace keymeter {

class AlignedBytes {
 public:
  explicit AlignedBytes(std::string_view bytes)
      : words_((bytes.size() + 7) / 8), size_(bytes.size()) {
    if (size_ > 0) std::memcpy(words_.data(), bytes.data(), size_);
  }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(words_.data()); }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

 private:
  std::vector<uint64_t> words_;
  size_t size_;
};

}  // namespace keymeter
