// Random op sequences checked against a small reference model of DESIGN §1 written separately
// here, plus the invariants: no grandchildren, deleted is for ever, and replaying the same ops
// into a fresh store gives the same checksum.
#define BOOST_TEST_MODULE key_directory_model
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>

#include "tests/projections/directory_fixture.h"

using namespace keymeter;
using keymeter::testing::DirectoryFixture;

namespace {

// The reference: only what decides outcomes.
struct ModelKey {
  std::string account;
  fb::KeyStatus status;
  std::string parent;
};

struct Model {
  std::map<std::string, ModelKey> keys;

  int Children(const std::string& id) const {
    int n = 0;
    for (const auto& [k, v] : keys) n += v.parent == id && v.status != fb::KeyStatus::Deleted;
    return n;
  }
  // Outcome of checks every op on an existing key makes first.
  std::string Target(const std::string& account, const std::string& id) const {
    auto it = keys.find(id);
    if (it == keys.end()) return "NO-SUCH-API-KEY";
    if (it->second.account != account) return "UNABLE-TO-CHANGE-NOT-OWN-API-KEY";
    if (it->second.status == fb::KeyStatus::Deleted) return "KEY-DELETED";
    return "OK";
  }
  std::string ParentCheck(const std::string& account, const std::string& id,
                          const std::string& parent) const {
    if (parent.size() < 8) return "INVALID-PARENT-API-KEY";
    auto p = keys.find(parent);
    if (p == keys.end()) return "UNABLE-TO-SET-PARENT-API-KEY";
    if (p->second.account != account) return "UNABLE-TO-CHANGE-NOT-OWN-API-KEY";
    if (parent == id) return "UNABLE-TO-SET-PARENT-API-KEY";
    if (p->second.status == fb::KeyStatus::Deleted) return "UNABLE-TO-SET-PARENT-API-KEY";
    if (!p->second.parent.empty()) return "UNABLE-TO-SET-PARENT-API-KEY";
    if (Children(id) > 0) return "UNABLE-TO-SET-PARENT-API-KEY";
    return "OK";
  }
};

const std::vector<std::string> kAccounts = {"acctAAAA", "acctBBBB"};

std::string IdOf(int i) {
  std::string id = "Key00000";
  id[6] = char('0' + i / 10);
  id[7] = char('0' + i % 10);
  return id;
}

void RunSequence(unsigned seed, int steps) {
  DirectoryFixture f;
  Model model;
  std::map<std::string, int> outcomes;
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  auto apply = [&](const std::string& bytes) { return f.Apply(bytes); };
  for (const std::string& a : kAccounts) {
    apply(BuildAccountCreated(f.As(fb::ActorKind::Operator, a), a, Sha256(a), false));
  }
  for (int step = 0; step < steps; ++step) {
    // Mostly ops of a key's own account, sometimes another's; mostly same-account parents.
    const int n = int(pick(40));
    const std::string account = kAccounts[(n + (pick(10) == 0)) % 2];
    const std::string id = IdOf(n);
    const std::string other = pick(10) == 0 ? std::string("Pq") : IdOf(int(pick(20)) * 2 + n % 2);
    std::string expected, got;
    switch (pick(8)) {
      case 0: {  // issue, sometimes under a parent
        const std::string parent = pick(2) ? other : "";
        if (model.keys.contains(id)) {
          expected = "DUPLICATE-KEY-ID";
        } else {
          expected = parent.empty() ? "OK" : model.ParentCheck(account, id, parent);
        }
        got = f.Issue(account, id, parent);
        if (expected == "OK") model.keys[id] = {account, fb::KeyStatus::Pending, parent};
        break;
      }
      case 1: {  // set or remove parent
        const std::string parent = pick(4) == 0 ? "" : other;
        expected = model.Target(account, id);
        if (expected == "OK" && !parent.empty()) expected = model.ParentCheck(account, id, parent);
        got = apply(BuildParentSet(f.Admin(account), id, parent));
        if (expected == "OK") model.keys[id].parent = parent;
        break;
      }
      case 2:
      case 3: {  // status ops
        static const fb::Op kOps[] = {fb::Op::KeySuspended, fb::Op::KeyActivated,
                                      fb::Op::KeyConfirmed};
        const fb::Op op = kOps[pick(3)];
        expected = model.Target(account, id);
        fb::KeyStatus to = fb::KeyStatus::Active;
        if (expected == "OK") {
          const fb::KeyStatus from = model.keys[id].status;
          bool ok = false;
          if (op == fb::Op::KeySuspended) ok = from != fb::KeyStatus::Suspended, to = fb::KeyStatus::Suspended;
          if (op == fb::Op::KeyActivated) ok = from == fb::KeyStatus::Suspended;
          if (op == fb::Op::KeyConfirmed) ok = from == fb::KeyStatus::Pending;
          if (!ok) expected = "INVALID-STATUS-TRANSITION";
        }
        got = apply(BuildStatusOp(f.Admin(account), op, id));
        if (expected == "OK") model.keys[id].status = to;
        break;
      }
      case 4: {  // delete, now and then
        if (pick(3) != 0) continue;
        expected = model.Target(account, id);
        if (expected == "OK" && model.Children(id) > 0) expected = "KEY-HAS-CHILDREN";
        got = apply(BuildStatusOp(f.Admin(account), fb::Op::KeyDeleted, id));
        if (expected == "OK") model.keys[id] = {account, fb::KeyStatus::Deleted, ""};
        break;
      }
      case 5: {  // config
        expected = model.Target(account, id);
        if (expected == "OK" && !model.keys[id].parent.empty()) expected = "CONFIG-INHERITED-FROM-PARENT";
        got = apply(BuildConfigSet(f.Admin(account), id, {"p" + std::to_string(pick(3))}, {}));
        break;
      }
      default: {  // quota
        expected = model.Target(account, id);
        if (expected == "OK" && !model.keys[id].parent.empty()) expected = "NOT-A-ROOT-KEY";
        got = apply(BuildQuotaSet(f.Admin(account), id, pick(1000), pick(1000)));
        break;
      }
    }
    if (got != expected) {
      BOOST_ERROR("seed " << seed << " step " << step << ": got " << got << ", model says "
                          << expected << " (" << f.last_message << ")");
      break;
    }
    ++outcomes[got];
    // Invariants after every step.
    for (const auto& [kid, mk] : model.keys) {
      const KeyState* k = f.directory->FindKey(*KeyId::Parse(kid));
      BOOST_REQUIRE(k != nullptr);
      BOOST_REQUIRE((k->status == mk.status));
      BOOST_REQUIRE(k->parent.str() == mk.parent);
      if (k->is_child()) BOOST_REQUIRE(!f.directory->FindKey(k->parent)->is_child());
    }
  }
  // The sequence must exercise the rules, not just one path through them.
  BOOST_TEST(outcomes["OK"] > steps / 10);
  BOOST_TEST(outcomes.size() >= 8u);
}

std::string Replay(const std::vector<std::string>& ops) {
  DirectoryFixture f;
  for (const std::string& op : ops) f.Apply(op);
  return f.store->Checksum().value();
}

}  // namespace

BOOST_DATA_TEST_CASE(random_sequences_match_the_model, boost::unit_test::data::make({1u, 7u, 42u, 2024u}),
                     seed) {
  RunSequence(seed, 1500);
}

BOOST_DATA_TEST_CASE(replay_gives_the_same_checksum, boost::unit_test::data::make({3u, 99u}), seed) {
  // Record every envelope by running the sequence through a recording fixture.
  DirectoryFixture live;
  std::vector<std::string> ops;
  std::mt19937_64 rng(seed);
  for (const std::string& a : kAccounts) {
    ops.push_back(BuildAccountCreated(live.As(fb::ActorKind::Operator, a), a, Sha256(a), false));
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string account = kAccounts[rng() % 2];
    const std::string id = IdOf(int(rng() % 24));
    const std::string other = IdOf(int(rng() % 24));
    switch (rng() % 6) {
      case 0: ops.push_back(BuildKeyIssued(live.Admin(account), id, Sha256(id), "l", rng() % 2 ? other : "", fb::KeyStatus::Pending)); break;
      case 1: ops.push_back(BuildParentSet(live.Admin(account), id, rng() % 3 ? other : "")); break;
      case 2: ops.push_back(BuildStatusOp(live.Admin(account), fb::Op::KeySuspended, id)); break;
      case 3: ops.push_back(BuildStatusOp(live.Admin(account), fb::Op::KeyConfirmed, id)); break;
      case 4: ops.push_back(BuildKeyRotated(live.Admin(account), id, Sha256(other), live.now + 5)); break;
      default: ops.push_back(BuildAllowedSourcesSet(live.Admin(account), id, {"10.0.0.0/8"}, {"x.example"})); break;
    }
  }
  for (const std::string& op : ops) live.Apply(op);
  const std::string first = live.store->Checksum().value();
  BOOST_TEST(Replay(ops) == first);
  // And after a reopen the store still says the same.
  live.Reopen();
  BOOST_TEST(live.store->Checksum().value() == first);
}
