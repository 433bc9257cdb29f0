// What this process holds in memory, for /metrics (`keymeter_memory_bytes`) and bench/memory.
//
// Thread safety: thread-safe.

#pragma once

#include <cstdint>

namespace keymeter {

// Resident set size (from /proc/self/statm); 0 when it can't be read.
uint64_t ResidentBytes();

// The largest resident set size this process had (VmHWM in /proc/self/status); 0 when it
// can't be read.
uint64_t PeakResidentBytes();

// Bytes glibc's malloc has handed out and not had back: small chunks in use plus mmapped big
// ones (mallinfo2). RSS less this is what the allocator keeps cached.
uint64_t HeapInUseBytes();

}  // namespace keymeter
