// The wall clock, in the unit of event times. Read by the API (the time of the ops it
// publishes), the authorizer's callers, the sources' timestamps and the CLI — never inside
// apply, whose times all come from the log (DESIGN §2).
//
// Thread safety: thread-safe.

#pragma once

#include <chrono>

#include "schemas/ids.h"

namespace keymeter {

// Microseconds since the Unix epoch, now.
inline TimeUs NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace keymeter
