// AccountRef: an account id interned once per process, so that each of a million keys carries an
// 8-byte pointer to its account's id instead of a string of its own (a 16-character id would cost
// 32 bytes inline plus a 32-byte heap block: bench/README.md, memory).
//
// The pool only grows: it holds every distinct account id this process has seen — as many as
// there are accounts, which are never deleted. Two refs to equal ids are the same pointer.
//
// Thread safety: interning takes a mutex; a ref is an immutable value, safe to share.

#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace keymeter {

class AccountRef {
 public:
  AccountRef();  // the empty id
  // Interns `id`. Implicit, so that a ref takes a string where a string was assigned before.
  AccountRef(std::string_view id);  // NOLINT(google-explicit-constructor)
  AccountRef(const std::string& id) : AccountRef(std::string_view(id)) {}  // NOLINT
  AccountRef(const char* id) : AccountRef(std::string_view(id)) {}         // NOLINT

  const std::string& str() const { return *id_; }
  const char* c_str() const { return id_->c_str(); }
  size_t size() const { return id_->size(); }
  bool empty() const { return id_->empty(); }
  operator const std::string&() const { return *id_; }  // NOLINT(google-explicit-constructor)
  operator std::string_view() const { return *id_; }    // NOLINT(google-explicit-constructor)

  friend bool operator==(const AccountRef& a, const AccountRef& b) { return a.id_ == b.id_; }
  // Any string: a template, so that it matches exactly and never competes with the one above.
  template <class S>
    requires(!std::is_same_v<S, AccountRef> && std::is_convertible_v<const S&, std::string_view>)
  friend bool operator==(const AccountRef& a, const S& b) {
    return *a.id_ == std::string_view(b);
  }
  friend std::ostream& operator<<(std::ostream& out, const AccountRef& a) { return out << *a.id_; }

 private:
  const std::string* id_;
};

// Hash and equality for hash maps keyed by AccountRef, looked up by any string without
// interning it (a lookup of an unknown id must not grow the pool).
struct AccountRefHash {
  using is_transparent = void;
  template <class T>
  size_t operator()(const T& id) const {
    return std::hash<std::string_view>()(View(id));
  }
  template <class T>
  static std::string_view View(const T& id) {
    if constexpr (std::is_same_v<T, AccountRef>) {
      return id.str();
    } else {
      return std::string_view(id);
    }
  }
};

struct AccountRefEq {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return AccountRefHash::View(a) == AccountRefHash::View(b);
  }
};

}  // namespace keymeter
