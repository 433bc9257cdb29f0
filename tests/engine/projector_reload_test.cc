// A reload of the projections that fails midway (a read error after a storage fault, here a
// corrupt partition record) leaves them half loaded: authorize answers 503 STORAGE-ERROR until
// a reload succeeds, instead of answering from what was half read.
#define BOOST_TEST_MODULE projector_reload
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include "engine/authorizer.h"
#include "engine/partition_state.h"
#include "engine/reservations.h"
#include "projections/column_families.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/projector_engine.h"

using namespace keymeter;
using namespace keymeter::testing;

BOOST_AUTO_TEST_CASE(a_failed_reload_answers_storage_error_until_one_succeeds) {
  TempDir tmp;
  Engine e(tmp.sub("db"));
  Reservations reservations;
  Authorizer authorizer(e.projector->state_mutex(), *e.directory, e.quota, reservations);
  authorizer.set_freshness(e.projector.get());
  const std::string key = "AAAAAAAAAAAAAAAAAAAAAAAA";  // well formed, unknown
  BOOST_TEST(authorizer.Authorize({.key = key}, 0).reason == reason::kNotFound);

  rocksdb::DB* db = e.store->db();
  rocksdb::ColumnFamilyHandle* meta = e.store->cfs()[Cf::kMeta];
  BOOST_REQUIRE(db->Put({}, meta, PartitionKey(3), "not a record").ok());
  const Status reload = e.projector->Open("vector", 0);
  BOOST_TEST(reload.code() == Code::kCorruptRecord);
  const AuthorizeResult refused = authorizer.Authorize({.key = key}, 0);
  BOOST_TEST(refused.reason == reason::kStorageError);
  BOOST_TEST(refused.http_status == 503);

  BOOST_REQUIRE(db->Delete({}, meta, PartitionKey(3)).ok());
  BOOST_REQUIRE(e.projector->Open("vector", 0).ok());
  BOOST_TEST(authorizer.Authorize({.key = key}, 0).reason == reason::kNotFound);
}
