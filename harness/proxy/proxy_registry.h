// The proxies of one fault proxy process, by name, and the operations both control APIs (the
// HTTP JSON API and gRPC FaultControl) and the --config file perform on them. Errors:
// INVALID_ARGUMENT naming the field, NOT_FOUND (unknown proxy or toxic), ALREADY_EXISTS (a
// name in use), UNAVAILABLE (a listen address that cannot be bound).
//
// Threading: thread-safe. Like Proxy's, its methods wait for the io threads, so they must not
// be called from one.
#ifndef HARNESS_PROXY_PROXY_REGISTRY_H_
#define HARNESS_PROXY_PROXY_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "harness/proxy/proxy.h"
#include "proto/harness/v1/fault.pb.h"

namespace harness::proxy {

// The Toxiproxy release whose HTTP API this proxy answers as (GET /version, GetVersion).
inline constexpr char kToxiproxyApiVersion[] = "2.9.0";

class ProxyRegistry {
 public:
  // Proxies listen and forward on `io`; their generators derive from `seed`.
  ProxyRegistry(asio::io_context& io, uint64_t seed) : io_(io), seed_(seed) {}
  ~ProxyRegistry() { Clear(); }

  ProxyRegistry(const ProxyRegistry&) = delete;
  ProxyRegistry& operator=(const ProxyRegistry&) = delete;

  // Checks every proxy of `config` (errors name the field: "proxies[1].toxics[0].type"), then
  // creates them.
  absl::Status Load(const v1::FaultConfig& config);

  // Every proxy, ordered by name.
  std::vector<v1::Proxy> List() const;
  absl::StatusOr<v1::Proxy> Get(std::string_view name) const;
  absl::StatusOr<v1::Proxy> Create(v1::Proxy spec);
  // Of the proxy named `changes.name()`: sets `enabled` when present, `upstream` when not
  // empty, and `listen` when not empty and not the address it listens on now (a client that
  // sends the proxy back unchanged with `enabled: false` rebinds nothing). Toxics are kept.
  absl::StatusOr<v1::Proxy> Update(const v1::Proxy& changes);
  // Toxiproxy's /populate: every proxy of `proxies` is created, or updated (Update) when one of
  // its name exists; all are checked before any is touched. Answers the proxies as they are.
  absl::StatusOr<std::vector<v1::Proxy>> Populate(std::vector<v1::Proxy> proxies);
  absl::Status Delete(std::string_view name);

  absl::StatusOr<std::vector<v1::Toxic>> ListToxics(std::string_view proxy) const;
  absl::StatusOr<v1::Toxic> GetToxic(std::string_view proxy, std::string_view toxic) const;
  absl::StatusOr<v1::Toxic> AddToxic(std::string_view proxy, v1::Toxic toxic);
  absl::Status RemoveToxic(std::string_view proxy, std::string_view toxic);
  // Sets the toxic's `toxicity` when given and the attributes given; its name, type and stream
  // stay. The result is checked before the toxic is replaced.
  absl::StatusOr<v1::Toxic> UpdateToxic(std::string_view proxy, std::string_view toxic,
                                        const v1::Toxic& changes);

  // Enables every proxy and removes every toxic. The first failure to listen again is
  // returned, after the others were tried.
  absl::Status Reset();
  // Stops and forgets every proxy.
  void Clear();

 private:
  absl::StatusOr<std::shared_ptr<Proxy>> Find(std::string_view name) const;
  absl::StatusOr<v1::Proxy> CreateLocked(v1::Proxy spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  asio::io_context& io_;
  const uint64_t seed_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Proxy>, std::less<>> proxies_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_PROXY_REGISTRY_H_
