#include "bridge/server/admission.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace bridge::server {

Admission::Limits Admission::FromConfig(const v1::BridgeConfig& config) {
  Limits limits;
  limits.max_connections = config.max_connections();
  limits.max_per_ip = config.max_connections_per_ip();
  limits.max_memory_bytes = config.max_memory_bytes();
  return limits;
}

Admission::Admission(Limits limits, std::function<uint64_t()> resident_bytes)
    : limits_(limits), resident_bytes_(std::move(resident_bytes)) {}

const char* Admission::Name(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "";
    case Refusal::kMemoryLimit:
      return "memory_limit";
    case Refusal::kTooManyConnections:
      return "too_many_connections";
  }
  return "";
}

Admission::Refusal Admission::Admit(const std::string& ip) {
  // Read before the lock: it opens a file.
  if (limits_.max_memory_bytes > 0 && resident_bytes_() > limits_.max_memory_bytes) {
    return Refusal::kMemoryLimit;
  }
  absl::MutexLock lock(&mu_);
  auto it = per_ip_.find(ip);
  const uint32_t from_ip = it == per_ip_.end() ? 0 : it->second;
  if (open_ >= limits_.max_connections || from_ip >= limits_.max_per_ip) {
    return Refusal::kTooManyConnections;
  }
  ++open_;
  ++per_ip_[ip];
  return Refusal::kNone;
}

void Admission::Leave(const std::string& ip) {
  absl::MutexLock lock(&mu_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;  // never admitted
  --open_;
  if (--it->second == 0) per_ip_.erase(it);
}

size_t Admission::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

size_t Admission::open_from(const std::string& ip) const {
  absl::MutexLock lock(&mu_);
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

size_t Admission::addresses() const {
  absl::MutexLock lock(&mu_);
  return per_ip_.size();
}

uint64_t Admission::ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;  // NOLINT(runtime/int): the file's format
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))
                : 0;
}

}  // namespace bridge::server
