// Reading the dead-letter queue back: what `GET /v1/dead-letters` and `keymeter dlq` show and
// what a re-drive publishes again (DESIGN §2 "Late and odd events"; docs/reliability.md has the
// operator's runbook).
//
// Two readers over the two places dead letters are kept (dead_letter.h):
//   - StoreDeadLetters: column family "dlq" of an embedded store, in log-time order.
//   - KafkaDeadLetters: the topic keymeter.dlq, read from its start (or a cursor) on each call
//     by a consumer that joins no group and commits nothing, in topic order (partition by
//     partition; one partition keeps log order). The topic holds what every member of a
//     cluster dead-lettered. Each call reads at most `max_scanned` records, so a page may come
//     back short with a cursor to go on from.
//
// A dead letter's id is where its message is in the events log: "<partition>-<offset>". The
// same message dead-lettered twice (a batch re-applied after a crash) is listed as often as it
// was kept; a re-driven message that fails again has a new offset, so a new id.
//
// Filters: reason (exact), account (the envelope's, when the payload decodes), log time
// [from_us, to_us). A record that decodes shows its op, key and request id; it can be re-driven
// when its payload is whole (not cut to 64 KiB) and verifies.
//
// Thread safety: a reader may be used by many threads at once (each call is independent).

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consumers/dead_letter.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace keymeter {

struct DeadLetterView {
  std::string id;  // "<partition>-<offset>" of the message in the events log
  DeadLetter letter;
  // From the payload, when it verifies as an envelope:
  bool decodes = false;
  std::string account_id;
  std::string op;
  std::string key_id;
  std::optional<RequestIdBytes> request_id;
  bool redrivable = false;  // decodes and its payload is whole
};

struct DeadLetterQuery {
  std::string reason;
  std::string account;
  TimeUs from_us = 0;
  TimeUs to_us = INT64_MAX;
  size_t limit = 100;
  std::string cursor;  // a page's next_cursor; empty = from the start
};

struct DeadLetterPage {
  std::vector<DeadLetterView> items;
  std::string next_cursor;  // empty when nothing follows
};

// "<partition>-<offset>" → both; nullopt when malformed.
std::optional<std::pair<int32_t, int64_t>> ParseDeadLetterId(std::string_view id);

// The view of `d`: its id and what its payload says.
DeadLetterView ViewOf(DeadLetter d);

class DeadLetterReader {
 public:
  virtual ~DeadLetterReader() = default;
  // Errors: INVALID-FIELD (a cursor that is not one of this reader's), IO-ERROR, KAFKA-*.
  virtual Result<DeadLetterPage> List(const DeadLetterQuery& query) = 0;
  // The dead letter with `id` (the last kept, when there are several). Errors: NOT_FOUND, and
  // List()'s.
  Result<DeadLetterView> Find(const std::string& id);
};

class StoreDeadLetters : public DeadLetterReader {
 public:
  // `db` and `cf` (column family "dlq") must outlive this.
  StoreDeadLetters(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}
  Result<DeadLetterPage> List(const DeadLetterQuery& query) override;

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

struct KafkaDeadLettersOptions {
  std::string brokers;
  std::string topic = "keymeter.dlq";
  size_t max_scanned = 200'000;  // records read per call at most
  std::chrono::milliseconds timeout{15'000};
};

class KafkaDeadLetters : public DeadLetterReader {
 public:
  explicit KafkaDeadLetters(KafkaDeadLettersOptions options) : options_(std::move(options)) {}
  Result<DeadLetterPage> List(const DeadLetterQuery& query) override;

 private:
  KafkaDeadLettersOptions options_;
};

// Deletes the dead letters kept in `cf` ("dlq") whose log time is before `before_us` (one range
// delete: the keys start with the log time). Errors: IO-ERROR.
Status TrimDeadLetters(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, TimeUs before_us);

}  // namespace keymeter
