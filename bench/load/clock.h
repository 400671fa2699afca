// The load tools' clocks: monotonic nanoseconds, and this process's own CPU time.
#ifndef BENCH_LOAD_CLOCK_H_
#define BENCH_LOAD_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace bench::load {

// Monotonic nanoseconds (CLOCK_MONOTONIC: one clock for every thread of the process).
inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// This process's CPU time (every thread), seconds.
inline double OwnCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace bench::load

#endif  // BENCH_LOAD_CLOCK_H_
