#include "engine/process_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace keymeter {

uint64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

uint64_t HeapInUseBytes() {
  const struct mallinfo2 heap = mallinfo2();
  return uint64_t(heap.uordblks + heap.hblkhd);
}

}  // namespace keymeter
