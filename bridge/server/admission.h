// Whether one more connection may open (BridgeConfig.max_connections, max_connections_per_ip,
// max_memory_bytes): counts the open connections, overall and per client address. A connection
// refused is closed 1013 (try again later) by the caller, with the refusal's name as reason.
//
// Thread-safe: connections open and close on any io thread.
#ifndef BRIDGE_SERVER_ADMISSION_H_
#define BRIDGE_SERVER_ADMISSION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bridge/config/defaults.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::server {

class Admission {
 public:
  struct Limits {
    size_t max_connections = config::kDefaultMaxConnections;
    size_t max_per_ip = config::kDefaultMaxConnectionsPerIp;
    uint64_t max_memory_bytes = 0;  // of resident memory; 0: no guard
  };
  static Limits FromConfig(const v1::BridgeConfig& config);

  // `resident_bytes` tells the process's resident memory (ResidentBytes, or a test's).
  Admission(Limits limits, std::function<uint64_t()> resident_bytes);

  enum class Refusal { kNone, kMemoryLimit, kTooManyConnections };
  // "memory_limit", "too_many_connections" (the close reason and the log's).
  static const char* Name(Refusal refusal);

  // Counts one more connection from `ip` when it fits; otherwise says why not.
  Refusal Admit(const std::string& ip);
  // A connection Admit counted is gone.
  void Leave(const std::string& ip);

  size_t open() const;
  size_t open_from(const std::string& ip) const;
  // Addresses with a connection open (the per-address table holds no others).
  size_t addresses() const;

  // Resident memory of this process, from /proc/self/statm; 0 when it cannot be read.
  static uint64_t ResidentBytes();

 private:
  const Limits limits_;
  const std::function<uint64_t()> resident_bytes_;
  mutable absl::Mutex mu_;
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, uint32_t> per_ip_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_ADMISSION_H_
