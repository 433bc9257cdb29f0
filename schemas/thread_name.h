// SetThreadName: names the calling thread, as `top -H`, `perf` and gdb show it ("km-apply").
// Linux keeps at most 15 bytes of a name; a longer one is cut.

#pragma once

#include <pthread.h>

#include <string_view>

namespace keymeter {

inline void SetThreadName(std::string_view name) {
  char cut[16] = {};
  name.copy(cut, sizeof(cut) - 1);
  pthread_setname_np(pthread_self(), cut);
}

}  // namespace keymeter
