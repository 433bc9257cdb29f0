// A RocksDB with the column families the consumers module writes ("log", "dlq"), opened
// directly so that these tests don't depend on engine/. Reopen() closes and opens it again,
// as a process restart would.
#pragma once

#include <rocksdb/db.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"

namespace keymeter::testing {

class LogDb {
 public:
  LogDb() { Open(); }
  ~LogDb() { Close(); }
  LogDb(const LogDb&) = delete;
  LogDb& operator=(const LogDb&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* log() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* dlq() const { return handles_[2]; }
  void Reopen() {
    Close();
    Open();
  }

 private:
  void Open() {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"log", {}}, {"dlq", {}}};
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(options, dir_.sub("db"), cfs, &handles_, &raw).ok()) std::abort();
    db_.reset(raw);
  }
  void Close() {
    for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    db_.reset();
  }

  TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace keymeter::testing
