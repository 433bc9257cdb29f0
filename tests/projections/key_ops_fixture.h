// What the key-op tests share: a directory on a real store with two accounts, a hierarchy and a
// deleted key (Setup()), and helpers that apply one op and read the audit and the key records.
#pragma once

#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "projections/audit.h"
#include "tests/projections/directory_fixture.h"

namespace keymeter::testing {


inline std::string CodeName(const Status& status) { return std::string(status.name()); }

inline const std::string kAcct = "acctAAAA";
inline const std::string kOther = "acctBBBB";

// `n` distinct strings: head + i / 256 + sep + i % 256 + tail.
inline std::vector<std::string> Numbered(size_t n, const std::string& head, const std::string& sep,
                                  const std::string& tail) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(head + std::to_string(i / 256) + sep + std::to_string(i % 256) + tail);
  }
  return out;
}

struct KeyOpsFixture : DirectoryFixture {
  // Applies and commits one envelope, keeping it in `log` for a replay; returns the outcome.
  Status Run(const std::string& bytes) {
    log.push_back(bytes);
    const fb::Envelope* env =
        VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    BOOST_REQUIRE(env != nullptr);
    rocksdb::WriteBatch batch;
    Status outcome = directory->Apply(*env, &batch, {}, closed_before);
    BOOST_REQUIRE(store->Write(&batch).ok());
    return outcome;
  }
  // KeyDirectory::Apply's: months ending by then are closed (UsageAdjusted).
  TimeUs closed_before = INT64_MIN;
  // The outcome code of one op; the header of the next admin op of kAcct.
  std::string Outcome(const std::string& bytes) { return CodeName(Run(bytes)); }
  EnvelopeHeader A() { return Admin(kAcct); }
  Status NewKey(const std::string& account, const std::string& id, const std::string& parent = "",
                fb::KeyStatus status = fb::KeyStatus::Active) {
    return Run(BuildKeyIssued(Admin(account), id, Sha256(id), "label " + id, parent, status));
  }
  Status Parent(const std::string& id, const std::string& parent) {
    return Run(BuildParentSet(A(), id, parent));
  }
  // The account's whole history, newest first.
  std::vector<AuditEntry> History(const std::string& account) {
    const AuditQuery all{.account_id = account, .limit = 10000};
    return ReadAudit(store->db(), store->cfs()[Cf::kAudit], all).value().entries;
  }
  // The raw records of the keys column family.
  std::map<std::string, std::string> KeyRecords() {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(store->db()->NewIterator({}, store->cfs()[Cf::kKeys]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out[it->key().ToString()] = it->value().ToString();
    }
    return out;
  }
  void Setup() {
    for (const std::string& account : {kAcct, kOther}) {
      BOOST_REQUIRE(Outcome(BuildAccountCreated(As(fb::ActorKind::Operator, account), account,
                                                Sha256(account), false)) == "OK");
    }
    using Issue = std::tuple<std::string, std::string, std::string>;  // account, key, parent
    for (const auto& [account, id, parent] : std::vector<Issue>{{kAcct, "ParentAA", ""},
                                                                {kAcct, "ParentBB", ""},
                                                                {kAcct, "ChildAA1", "ParentAA"},
                                                                {kAcct, "Lonely01", ""},
                                                                {kOther, "Foreign1", ""},
                                                                {kAcct, "Deleted1", ""}}) {
      BOOST_REQUIRE(CodeName(NewKey(account, id, parent)) == "OK");
    }
    BOOST_REQUIRE(Outcome(BuildStatusOp(A(), fb::Op::KeyDeleted, "Deleted1")) == "OK");
  }
  std::vector<std::string> log;
};

}  // namespace keymeter::testing
