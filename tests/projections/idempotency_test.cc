// IdempotencyLedger (projections/idempotency.h) on a real store: a command id's first outcome
// comes back for the same request, IDEMPOTENCY-KEY-REUSED for another, nothing after the
// window; records older than the window are removed; and what the store holds in the end does
// not depend on how the commands were batched or how far the writes lagged (the projector
// writes one batch while it applies the next): the property replays and crash recovery rest on.
#define BOOST_TEST_MODULE idempotency
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/secrets.h"
#include "engine/store.h"
#include "projections/column_families.h"
#include "projections/idempotency.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;

namespace {

constexpr TimeUs kHour = 3600LL * 1'000'000;
constexpr TimeUs kT0 = 1'790'000'000LL * 1'000'000;

struct StoreFixture {
  StoreFixture() {
    Result<std::unique_ptr<Store>> opened = Store::Open({.path = dir.sub("db")});
    if (!opened) BOOST_FAIL("store: " << opened.error().ToString());
    store = std::move(opened.value());
  }
  rocksdb::ColumnFamilyHandle* cf() const { return store->cfs()[Cf::kIdempotency]; }
  // Every row of the column family.
  std::map<std::string, std::string> Rows() const {
    std::map<std::string, std::string> rows;
    std::unique_ptr<rocksdb::Iterator> it(store->db()->NewIterator({}, cf()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) rows[it->key().ToString()] = it->value().ToString();
    BOOST_REQUIRE(it->status().ok());
    return rows;
  }
  void Write(rocksdb::WriteBatch* batch) {
    BOOST_REQUIRE(store->Write(batch).ok());
    batch->Clear();
  }

  testing::TempDir dir;
  std::unique_ptr<Store> store;
};

// What Check() answered: "apply", or the code of the answer.
std::string Answer(const IdempotencyLedger& ledger, const std::string& account,
                   const std::string& id, const Digest& digest, TimeUs t) {
  Result<IdempotencyLedger::Answer> r = ledger.Check(account, id, digest, t);
  BOOST_REQUIRE(r.has_value());
  return r.value().seen ? std::string(r.value().outcome.name()) : "apply";
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(first_outcome_for_the_same_request_reused_for_another, StoreFixture) {
  IdempotencyLedger ledger(store->db(), cf());
  rocksdb::WriteBatch batch;
  const Digest a = Sha256("POST /v1/keys {}"), b = Sha256("POST /v1/keys {\"label\":\"x\"}");
  BOOST_TEST(Answer(ledger, "acme", "idem_1", a, kT0) == "apply");
  BOOST_REQUIRE(ledger.Record(&batch, "acme", "idem_1", a, kT0,
                              Status(Code::kKeyHasChildren, "it has children")).ok());
  // Seen before the batch is written (the overlay), and after.
  BOOST_TEST(Answer(ledger, "acme", "idem_1", a, kT0 + 1) == "KEY-HAS-CHILDREN");
  const uint64_t generation = ledger.Seal();
  Write(&batch);
  ledger.Written(generation);
  Result<IdempotencyLedger::Answer> again = ledger.Check("acme", "idem_1", a, kT0 + 23 * kHour);
  BOOST_REQUIRE(again.has_value() && again.value().seen);
  BOOST_TEST(again.value().outcome.code() == Code::kKeyHasChildren);
  BOOST_TEST(again.value().outcome.message() == "it has children");
  BOOST_TEST(Answer(ledger, "acme", "idem_1", b, kT0 + kHour) == "IDEMPOTENCY-KEY-REUSED");
  // Ids are per account; a day later the id is new again.
  BOOST_TEST(Answer(ledger, "other", "idem_1", b, kT0 + kHour) == "apply");
  BOOST_TEST(Answer(ledger, "acme", "idem_1", a, kT0 + 25 * kHour) == "apply");
  // A reopened ledger reads the store.
  IdempotencyLedger reopened(store->db(), cf());
  BOOST_TEST(Answer(reopened, "acme", "idem_1", a, kT0 + 2) == "KEY-HAS-CHILDREN");
  BOOST_REQUIRE(ledger.Record(&batch, "acme", "idem_2", b, kT0 + 3, Status::Ok()).ok());
  Write(&batch);
  BOOST_TEST(Answer(reopened, "acme", "idem_2", b, kT0 + 4) == "OK");
}

BOOST_FIXTURE_TEST_CASE(records_older_than_the_window_are_removed, StoreFixture) {
  IdempotencyLedger ledger(store->db(), cf());
  rocksdb::WriteBatch batch;
  const Digest d = Sha256("r");
  BOOST_REQUIRE(ledger.Record(&batch, "acme", "old", d, kT0, Status::Ok()).ok());
  BOOST_REQUIRE(ledger.Record(&batch, "acme", "mid", d, kT0 + 12 * kHour, Status::Ok()).ok());
  BOOST_REQUIRE(ledger.Record(&batch, "acmeX", "other", d, kT0, Status::Ok()).ok());
  Write(&batch);
  ledger.Written(ledger.Seal());
  BOOST_TEST(Rows().size() == 6u);  // a record and an index row each
  // A record a day and an hour later removes acme's first (not "mid", nor acmeX's).
  BOOST_REQUIRE(ledger.Record(&batch, "acme", "new", d, kT0 + 25 * kHour, Status::Ok()).ok());
  Write(&batch);
  const std::map<std::string, std::string> rows = Rows();
  BOOST_TEST(rows.size() == 6u);
  BOOST_TEST(!rows.contains(std::string("acme\0old", 8)));
  BOOST_TEST(rows.contains(std::string("acme\0mid", 8)));
  BOOST_TEST(rows.contains(std::string("acmeX\0other", 11)));
  BOOST_TEST(Answer(ledger, "acme", "old", d, kT0 + 25 * kHour) == "apply");
  BOOST_TEST(Answer(ledger, "acme", "mid", d, kT0 + 25 * kHour) == "OK");
}

// Random commands of three accounts (ids reused, so retries, reuses and expiries happen), each
// checked then recorded as the projector does, in batches of random size whose writes lag one
// batch behind, against the same commands applied and written one at a time: the same answers
// and, in the end, the same rows.
BOOST_AUTO_TEST_CASE(batching_and_write_lag_change_nothing) {
  struct Command {
    std::string account, id;
    Digest digest;
    TimeUs time;
  };
  std::mt19937_64 rng(42);
  std::vector<Command> commands;
  TimeUs t = kT0;
  for (int i = 0; i < 600; ++i) {
    t += TimeUs(rng() % (3 * kHour));
    commands.push_back({"acct" + std::to_string(rng() % 3), "idem_" + std::to_string(rng() % 40),
                        Sha256(std::to_string(rng() % 2)), t});
  }
  auto run = [&](StoreFixture& f, bool batched) {
    IdempotencyLedger ledger(f.store->db(), f.cf());
    std::vector<std::string> answers;
    auto batch = std::make_unique<rocksdb::WriteBatch>();
    std::unique_ptr<rocksdb::WriteBatch> in_flight;
    uint64_t in_flight_generation = 0;
    size_t until_commit = 1;
    for (const Command& c : commands) {
      Result<IdempotencyLedger::Answer> first = ledger.Check(c.account, c.id, c.digest, c.time);
      BOOST_REQUIRE(first.has_value());
      if (first.value().seen) {
        answers.push_back(std::string(first.value().outcome.name()));
      } else {
        const Status outcome = c.time % 2 ? Status::Ok() : Status(Code::kKeyDeleted, "gone");
        BOOST_REQUIRE(ledger.Record(batch.get(), c.account, c.id, c.digest, c.time, outcome).ok());
        answers.push_back("applied " + std::string(outcome.name()));
      }
      if (--until_commit > 0) continue;
      // Commit: the previous batch is written now, this one stays in flight.
      const uint64_t generation = ledger.Seal();
      if (in_flight) {
        f.Write(in_flight.get());
        ledger.Written(in_flight_generation);
      }
      in_flight = std::move(batch);
      in_flight_generation = generation;
      batch = std::make_unique<rocksdb::WriteBatch>();
      if (!batched) {
        f.Write(in_flight.get());
        ledger.Written(in_flight_generation);
        in_flight.reset();
      }
      until_commit = batched ? 1 + rng() % 30 : 1;
    }
    if (in_flight) f.Write(in_flight.get());
    f.Write(batch.get());
    return answers;
  };
  StoreFixture one_by_one, batched;
  const std::vector<std::string> expected = run(one_by_one, false);
  BOOST_TEST(run(batched, true) == expected, boost::test_tools::per_element());
  BOOST_TEST(one_by_one.Rows() == batched.Rows());
  // The log held retries, reuses and expiries, and the store keeps only what is recent.
  auto count = [&](const std::string& s) { return std::count(expected.begin(), expected.end(), s); };
  BOOST_TEST(count("IDEMPOTENCY-KEY-REUSED") > 0);
  BOOST_TEST(count("OK") + count("KEY-DELETED") > 0);
  BOOST_TEST(one_by_one.Rows().size() < 80u);  // of 240 possible
}
