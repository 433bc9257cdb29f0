// A projector over a fresh store, with the embedded dead-letter sink, for projector tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "consumers/dead_letter.h"
#include "engine/projector.h"
#include "tests/engine/vector_source.h"

namespace keymeter::testing {

struct Engine {
  explicit Engine(const std::string& path, ProjectorOptions options = {}) {
    store = std::move(Store::Open({.path = path}).value());
    directory = std::make_unique<KeyDirectory>(store->cfs());
    projector = std::make_unique<Projector>(*store, *directory, quota, dlq, options);
    Status s = projector->Open("vector", now);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  // Runs until the source is drained, or `max_batches`.
  void Run(const std::vector<LogMessage>& log, unsigned seed, int max_batches = INT32_MAX) {
    VectorSource source(log, [&](int32_t p) { return projector->StoredOffset(p); }, seed);
    for (int i = 0; i < max_batches && !source.AtEnd(); ++i) {
      Result<size_t> n = projector->RunBatch(source);
      BOOST_REQUIRE(n.has_value());
    }
  }
  std::string Checksum() { return store->Checksum().value(); }

  TimeUs now = 0;
  std::unique_ptr<Store> store;
  std::unique_ptr<KeyDirectory> directory;
  QuotaWindows quota;
  EmbeddedDeadLetterSink dlq;
  std::unique_ptr<Projector> projector;
};

}  // namespace keymeter::testing
