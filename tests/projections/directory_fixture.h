// A key directory on a real RocksDB store in a temporary directory, with one-line helpers that
// build, apply and commit ops as the projector would.
#pragma once

#include <boost/test/unit_test.hpp>
#include <rocksdb/write_batch.h>

#include <memory>
#include <span>
#include <functional>
#include <string>

#include "engine/secrets.h"
#include "engine/store.h"
#include "projections/key_directory.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"
#include "tests/common/temp_dir.h"

namespace keymeter::testing {

struct DirectoryFixture {
  explicit DirectoryFixture(std::string path = "") {
    path_ = path.empty() ? tmp_.sub("db") : path;
    Open();
  }

  void Open() {
    Result<std::unique_ptr<Store>> opened = Store::Open({.path = path_});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened.has_error() ? opened.error().ToString() : ""));
    store = std::move(opened.value());
    directory = std::make_unique<KeyDirectory>(store->cfs());
    Status loaded = directory->Load(store->db());
    BOOST_REQUIRE_MESSAGE(loaded.ok(), loaded.ToString());
  }

  void Reopen() {
    directory.reset();
    store.reset();
    Open();
  }

  // KeyDirectory::Apply's same_log; unset: every account is on the op's partition.
  std::function<bool(std::string_view)> same_log;

  // Applies one envelope and commits it; returns the outcome code ("OK" or the error).
  std::string Apply(const std::string& bytes) {
    const fb::Envelope* env = VerifyEnvelope(
        std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    BOOST_REQUIRE(env != nullptr);
    rocksdb::WriteBatch batch;
    Status outcome = directory->Apply(*env, &batch, same_log);
    Status written = store->Write(&batch);
    BOOST_REQUIRE_MESSAGE(written.ok(), written.ToString());
    last_message = outcome.message();
    return std::string(outcome.name());
  }

  EnvelopeHeader As(fb::ActorKind actor, const std::string& account, std::string member = "") {
    now += 1'000'000;
    return EnvelopeHeader{.command_id = "cmd" + std::to_string(now), .time_us = now,
                          .actor = actor, .actor_key_id = std::move(member),
                          .account_id = account};
  }
  EnvelopeHeader Admin(const std::string& account) {
    return As(fb::ActorKind::AccountAdmin, account);
  }

  std::string CreateAccount(const std::string& account, bool require_confirmation = false) {
    return Apply(BuildAccountCreated(As(fb::ActorKind::Operator, account), "Account " + account,
                                     Sha256("token-" + account), require_confirmation));
  }

  // Issues key `id` (8 characters) whose secret is `id` + "SECRETSECRET0000".
  std::string Issue(const std::string& account, const std::string& id,
                    const std::string& parent = "",
                    fb::KeyStatus status = fb::KeyStatus::Pending) {
    return Apply(BuildKeyIssued(Admin(account), id, Sha256(id + "SECRETSECRET0000"), "member " + id,
                                parent, status));
  }
  std::string SetParent(const std::string& account, const std::string& id,
                        const std::string& parent) {
    return Apply(BuildParentSet(Admin(account), id, parent));
  }
  std::string Do(const std::string& account, fb::Op op, const std::string& id) {
    return Apply(BuildStatusOp(Admin(account), op, id));
  }
  const KeyState& Key(const std::string& id) {
    const KeyState* key = directory->FindKey(*KeyId::Parse(id));
    BOOST_REQUIRE(key != nullptr);
    return *key;
  }

  TempDir tmp_;
  std::string path_;
  std::unique_ptr<Store> store;
  std::unique_ptr<KeyDirectory> directory;
  TimeUs now = 1'750'000'000'000'000;  // 2025-06-15T15:06:40Z
  std::string last_message;
};

}  // namespace keymeter::testing
