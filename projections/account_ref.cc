#include "projections/account_ref.h"

#include <mutex>

#include "absl/container/node_hash_set.h"

namespace keymeter {

namespace {

struct Pool {
  std::mutex mu;
  absl::node_hash_set<std::string> ids;  // GUARDED_BY(mu); nodes: the strings never move
};

Pool& ThePool() {
  static Pool* pool = new Pool;  // never destroyed: refs may outlive static destructors
  return *pool;
}

const std::string* Intern(std::string_view id) {
  Pool& pool = ThePool();
  std::lock_guard lock(pool.mu);
  const absl::string_view key(id.data(), id.size());
  auto it = pool.ids.find(key);
  if (it == pool.ids.end()) it = pool.ids.emplace(key).first;
  return &*it;
}

}  // namespace

AccountRef::AccountRef() : AccountRef(std::string_view()) {}

AccountRef::AccountRef(std::string_view id) : id_(Intern(id)) {}

}  // namespace keymeter
