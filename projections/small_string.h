// SmallString: a string in 16 bytes — up to 15 characters inline, longer ones in one heap block —
// for the label every key carries (a std::string takes 32; bench/README.md, memory).
//
// Inline, the last byte holds 15 - size, so a 15-character string's last byte is also its
// terminating NUL. On the heap, the first 8 bytes hold the pointer, the next 4 the size, and
// the last byte kHeap.
//
// Thread safety: a value; as safe as an int.

#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace keymeter {

class SmallString {
 public:
  SmallString() { Set(std::string_view()); }
  SmallString(std::string_view s) { Set(s); }  // NOLINT(google-explicit-constructor)
  SmallString(const std::string& s) : SmallString(std::string_view(s)) {}  // NOLINT
  SmallString(const char* s) : SmallString(std::string_view(s)) {}         // NOLINT
  SmallString(const SmallString& o) { Set(o.view()); }
  SmallString(SmallString&& o) noexcept {
    std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
    o.Set(std::string_view());  // o no longer owns the block
  }
  SmallString& operator=(const SmallString& o) {
    if (this != &o) Assign(o.view());
    return *this;
  }
  SmallString& operator=(SmallString&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
      o.Set(std::string_view());
    }
    return *this;
  }
  SmallString& operator=(std::string_view s) { return Assign(s); }
  SmallString& operator=(const std::string& s) { return Assign(s); }
  SmallString& operator=(const char* s) { return Assign(s); }
  ~SmallString() { Free(); }

  const char* c_str() const { return on_heap() ? heap_data() : bytes_; }
  size_t size() const { return on_heap() ? heap_size() : kInline - uint8_t(bytes_[kInline]); }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return {c_str(), size()}; }
  std::string str() const { return std::string(view()); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const SmallString& a, const SmallString& b) { return a.view() == b.view(); }
  // Any string: a template, so that it matches exactly and never competes with the one above.
  template <class S>
    requires(!std::is_same_v<S, SmallString> && std::is_convertible_v<const S&, std::string_view>)
  friend bool operator==(const SmallString& a, const S& b) {
    return a.view() == std::string_view(b);
  }
  friend std::ostream& operator<<(std::ostream& out, const SmallString& s) { return out << s.view(); }

 private:
  static constexpr size_t kInline = 15;
  static constexpr char kHeap = char(0x80);

  bool on_heap() const { return bytes_[kInline] == kHeap; }
  const char* heap_data() const {
    const char* p;
    std::memcpy(&p, bytes_, sizeof(p));
    return p;
  }
  uint32_t heap_size() const {
    uint32_t n;
    std::memcpy(&n, bytes_ + sizeof(char*), sizeof(n));
    return n;
  }
  // Safe when `s` views this string itself: the new bytes are made before the old go.
  SmallString& Assign(std::string_view s) {
    SmallString fresh(s);
    return *this = std::move(fresh);
  }
  // Fills the bytes from `s`, owning nothing before.
  void Set(std::string_view s) {
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(bytes_, s.data(), s.size());  // data() may be null
      std::memset(bytes_ + s.size(), 0, kInline - s.size());
      bytes_[kInline] = char(kInline - s.size());
      return;
    }
    const uint32_t n = uint32_t(s.size());
    char* p = static_cast<char*>(::operator new(size_t(n) + 1));
    std::memcpy(p, s.data(), n);
    std::memset(p + n, 0, 1);
    std::memcpy(bytes_, &p, sizeof(p));
    std::memcpy(bytes_ + sizeof(p), &n, sizeof(n));
    bytes_[kInline] = kHeap;
  }
  void Free() {
    if (on_heap()) ::operator delete(const_cast<char*>(heap_data()));
  }

  char bytes_[16];
};

}  // namespace keymeter
