// Reproducible randomness for the fault proxy. Each proxy has a generator seeded from the
// --seed flag and its name; each connection has one seeded from its proxy's at accept time.
// Every toxic makes exactly one draw per connection to decide whether it applies, so the
// same seed, config and connection order give the same faults. Draws are computed from the
// generator's raw bits (std::mt19937_64 is specified exactly by the standard), not from
// std distributions, so they are the same with any standard library.
//
// Threading: a generator belongs to one strand or is guarded by one mutex.
#ifndef HARNESS_PROXY_SEEDED_RANDOM_H_
#define HARNESS_PROXY_SEEDED_RANDOM_H_

#include <cstdint>
#include <random>
#include <string_view>

namespace harness::proxy {

using Rng = std::mt19937_64;

// The seed of a proxy's generator: `seed` mixed with the proxy's name (FNV-1a), so proxies
// of one run draw different sequences.
inline uint64_t ProxySeed(uint64_t seed, std::string_view proxy_name) {
  uint64_t hash = 0xcbf29ce484222325u;
  for (const char c : proxy_name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3u;
  }
  return seed ^ hash;
}

// A uniform draw in [0, 1): the top 53 bits of one output.
inline double UniformUnit(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// A uniform draw in [lo, hi] (lo <= hi), from one output.
inline int64_t UniformInt(Rng& rng, int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return span == 0 ? static_cast<int64_t>(rng()) : lo + static_cast<int64_t>(rng() % span);
}

// Whether a toxic of `toxicity` (0 to 1) applies to a connection. Always one draw: 1 always
// applies, 0 never does.
inline bool ToxicApplies(double toxicity, Rng& rng) { return UniformUnit(rng) < toxicity; }

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_SEEDED_RANDOM_H_
