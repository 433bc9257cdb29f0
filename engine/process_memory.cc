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

uint64_t PeakResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return uint64_t(kib) * 1024;
}

uint64_t HeapInUseBytes() {
  const struct mallinfo2 heap = mallinfo2();
  return uint64_t(heap.uordblks + heap.hblkhd);
}

}  // namespace keymeter
