// Random identifiers (conversation ids, channel epochs, node ids): `bytes` random bytes as
// lower-case hex, from a per-thread absl::BitGen seeded by the system. Identifiers only:
// behaviour a test must reproduce (backoff jitter, fault injection) takes an injected source.
#ifndef BRIDGE_COMMON_RANDOM_ID_H_
#define BRIDGE_COMMON_RANDOM_ID_H_

#include <cstddef>
#include <string>

namespace bridge {

std::string RandomHex(size_t bytes);

}  // namespace bridge

#endif  // BRIDGE_COMMON_RANDOM_ID_H_
