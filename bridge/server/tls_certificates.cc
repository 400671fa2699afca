#include "bridge/server/tls_certificates.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/common/log.h"

namespace bridge::server {
namespace {

constexpr long kTlsOptions =  // NOLINT(runtime/int): OpenSSL's type
    asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
    asio::ssl::context::single_dh_use;

}  // namespace

TlsCertificates::TlsCertificates(const v1::ServerTls& tls, Metrics* metrics, Clock* clock)
    : tls_(tls),
      metrics_(metrics),
      clock_(clock),
      check_every_(absl::Milliseconds(tls.reload_check_ms())) {}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> TlsCertificates::Start() {
  if (absl::Status loaded = Load(/*at_start=*/true); !loaded.ok()) return loaded;
  shared_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  std::error_code ec;
  shared_->set_options(kTlsOptions, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot set up TLS: ", ec.message()));
  SSL_CTX_set_cert_cb(shared_->native_handle(), &TlsCertificates::ChooseCertificate, this);
  return shared_;
}

absl::Status TlsCertificates::Load(bool at_start) {
  const std::string& cert = tls_.cert_file();
  const std::string& key = tls_.key_file();
  const std::string stamp = Stamp();  // before reading: a change while reading is seen later
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  std::error_code ec;
  context->set_options(kTlsOptions, ec);
  if (!ec) context->use_certificate_chain_file(cert, ec);
  const char* field = "tls.cert_file";
  if (!ec) {
    field = "tls.key_file";
    context->use_private_key_file(key, asio::ssl::context::pem, ec);
  }
  if (ec) {
    const std::string why = absl::StrCat("config field ", field, ": cannot load ",
                                         field[4] == 'c' ? cert : key, ": ", ec.message());
    if (!at_start) {
      metrics_->tls_reload_failures.fetch_add(1, std::memory_order_relaxed);
      log::Warn("tls_reload_failed").Str("reason", why);
    }
    absl::MutexLock lock(&mu_);
    stamp_ = stamp;  // not tried again until the files change again
    return absl::InvalidArgumentError(why);
  }
  absl::MutexLock lock(&mu_);
  pair_ = std::move(context);
  stamp_ = stamp;
  checked_ = clock_->Monotonic();
  if (!at_start) {
    metrics_->tls_reloads.fetch_add(1, std::memory_order_relaxed);
    log::Info("tls_reloaded").Str("cert_file", cert);
  }
  return absl::OkStatus();
}

std::string TlsCertificates::Stamp() const {
  std::string stamp;
  for (const std::string* path : {&tls_.cert_file(), &tls_.key_file()}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) == 0) {
      absl::StrAppend(&stamp, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ";");
    }
  }
  return stamp;
}

std::shared_ptr<asio::ssl::context> TlsCertificates::Current() {
  const absl::Duration now = clock_->Monotonic();
  bool look = false;
  {
    absl::MutexLock lock(&mu_);
    if (now - checked_ >= check_every_) {
      checked_ = now;
      look = true;
    }
  }
  if (look) {
    const std::string stamp = Stamp();
    bool changed;
    {
      absl::MutexLock lock(&mu_);
      changed = stamp != stamp_;
    }
    if (changed) Load(/*at_start=*/false).IgnoreError();
  }
  absl::MutexLock lock(&mu_);
  return pair_;
}

int TlsCertificates::ChooseCertificate(SSL* ssl, void* arg) {
  std::shared_ptr<asio::ssl::context> current = static_cast<TlsCertificates*>(arg)->Current();
  SSL_CTX* loaded = current->native_handle();
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(loaded, &chain);
  if (SSL_use_certificate(ssl, SSL_CTX_get0_certificate(loaded)) != 1 ||
      SSL_use_PrivateKey(ssl, SSL_CTX_get0_privatekey(loaded)) != 1 ||
      (chain != nullptr && SSL_set1_chain(ssl, chain) != 1)) {
    return 0;  // the handshake fails
  }
  return 1;
}

}  // namespace bridge::server
