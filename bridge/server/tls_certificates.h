// The certificate pair of the WebSocket listener (BridgeConfig.tls), reloaded when its files
// change, without a restart.
//
// websocketpp makes each connection's TLS stream before the connection is accepted, so every
// stream shares one context (Start's) whose certificate callback picks the current pair at the
// handshake. The files are looked at (modification time and size) no more often than
// tls.reload_check_ms, at a handshake. A pair that fails to load keeps the one in use, counted
// (bridge_tls_reload_failures_total) and logged; at start it is an error naming the field.
//
// Thread-safe: handshakes run on any io thread.
#ifndef BRIDGE_SERVER_TLS_CERTIFICATES_H_
#define BRIDGE_SERVER_TLS_CERTIFICATES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asio/ssl/context.hpp"
#include "bridge/common/clock.h"
#include "bridge/metrics/metrics.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::server {

class TlsCertificates {
 public:
  // `tls` (with its defaults applied, config::ApplyDefaults), `metrics` and `clock` outlive
  // this object.
  TlsCertificates(const v1::ServerTls& tls, Metrics* metrics, Clock* clock);

  // Loads the pair and makes the context every connection's stream shares.
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> Start();

  // The pair in use, reloaded first when the files changed (looked at no more often than
  // tls.reload_check_ms).
  std::shared_ptr<asio::ssl::context> Current();

 private:
  absl::Status Load(bool at_start);
  // Modification times and sizes of the certificate and key files.
  std::string Stamp() const;
  // OpenSSL's certificate callback: `arg` is this object.
  static int ChooseCertificate(SSL* ssl, void* arg);

  const v1::ServerTls& tls_;
  Metrics* const metrics_;
  Clock* const clock_;
  const absl::Duration check_every_;
  std::shared_ptr<asio::ssl::context> shared_;  // every stream's, set by Start
  absl::Mutex mu_;
  std::shared_ptr<asio::ssl::context> pair_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);
  absl::Duration checked_ ABSL_GUARDED_BY(mu_) = -absl::InfiniteDuration();  // monotonic
};

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_TLS_CERTIFICATES_H_
