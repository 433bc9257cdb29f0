// Freshness: how far behind the log what keymeter answers from is (DESIGN §2): a partition's
// latest applied event time and the messages of it not applied yet. `authorize` and every read
// report it (X-Keymeter-Watermark, X-Keymeter-Lag; docs/api.md, Conventions).
//
// Thread safety: a value.

#pragma once

#include <cstdint>

#include "schemas/ids.h"

namespace keymeter {

struct Freshness {
  int32_t partition = -1;     // the account's; -1 for the engine's (every partition held)
  TimeUs watermark_us = 0;    // latest applied event time (the oldest over partitions); 0: none
  int64_t lag_messages = 0;   // log end − next offset to apply, as the source last saw the end
};

}  // namespace keymeter
