// One proxy: a listener that accepts TCP connections and forwards each to the upstream through
// the proxy's toxics. Enabled, it listens; disabled ("down"), its listener is closed, so
// connecting is refused, and its connections are closed; enabled again, it listens on the same
// port. Each accepted connection draws its seed from the proxy's generator, in accept order.
//
// Threading: the public methods are thread-safe. Those that change toxics return once every
// live connection has taken the change on its strand, so a caller that then sends through an
// existing connection sees the new toxics; they must not be called from an io thread of the
// proxy's io_context.
#ifndef HARNESS_PROXY_PROXY_H_
#define HARNESS_PROXY_PROXY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "harness/proxy/connection.h"
#include "harness/proxy/seeded_random.h"
#include "proto/harness/v1/fault.pb.h"

namespace harness::proxy {

// Checks `proxy` and fills in what it leaves out (enabled true, each toxic's defaults). Errors
// are INVALID_ARGUMENT naming the field, after `field_prefix` ("proxies[1].").
absl::Status NormalizeProxy(v1::Proxy* proxy, std::string_view field_prefix = "");

class Proxy : public std::enable_shared_from_this<Proxy> {
 public:
  // `spec` must be normalized. Listens at once when enabled; UNAVAILABLE when it cannot.
  static absl::StatusOr<std::shared_ptr<Proxy>> Create(asio::io_context& io, v1::Proxy spec,
                                                       uint64_t seed);
  ~Proxy();

  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // The spec, with the address actually bound as `listen`.
  v1::Proxy Describe() const;
  const std::string& name() const { return name_; }
  // The port bound (kept while disabled); 0 before the proxy first listened.
  uint16_t port() const;

  absl::Status SetEnabled(bool enabled);
  // Listens on `listen` instead (when enabled); on failure the old listener stays.
  absl::Status SetListen(const std::string& listen);
  // New connections go to `upstream`.
  absl::Status SetUpstream(const std::string& upstream);

  // Normalizes `toxic` and adds it (ALREADY_EXISTS when its name is taken); it applies to
  // live connections too, with a draw each. Returns the toxic as stored.
  absl::StatusOr<v1::Toxic> AddToxic(v1::Toxic toxic);
  // NOT_FOUND when there is no toxic `name`.
  absl::Status RemoveToxic(const std::string& name);
  void RemoveAllToxics();

  // Closes the listener and every connection.
  void Stop();

 private:
  Proxy(asio::io_context& io, v1::Proxy spec, uint64_t seed);

  absl::Status Listen(const std::string& listen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseListener() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptNext(std::shared_ptr<asio::ip::tcp::acceptor> acceptor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts forwarding an accepted connection, with the proxy's toxics.
  void StartConnection(asio::ip::tcp::socket socket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The connections still alive; forgets the others.
  std::vector<std::shared_ptr<Connection>> LiveConnections() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  asio::io_context& io_;
  const std::string name_;
  mutable absl::Mutex mu_;
  std::string listen_ ABSL_GUARDED_BY(mu_);  // as given
  std::string upstream_ ABSL_GUARDED_BY(mu_);
  bool enabled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::Toxic> toxics_ ABSL_GUARDED_BY(mu_);
  Rng rng_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor_ ABSL_GUARDED_BY(mu_);
  asio::ip::tcp::endpoint bound_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_PROXY_H_
