#include "harness/proxy/proxy.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "bridge/common/strings.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "bridge/config/config.h"
#include "harness/proxy/toxic_kinds.h"

namespace harness::proxy {
namespace {

using asio::ip::tcp;

using ::bridge::Sv;

absl::Status CheckAddress(const std::string& address, bool port_required, std::string_view prefix,
                          std::string_view field) {
  if (address.empty()) return FieldError(prefix, field, "required (HOST:PORT)");
  absl::StatusOr<bridge::config::HostPort> host_port = bridge::config::ParseHostPort(address);
  if (!host_port.ok()) return FieldError(prefix, field, std::string(host_port.status().message()));
  if (port_required && host_port->port == 0) {
    return FieldError(prefix, field,
                      absl::StrCat("needs a port other than 0, got \"", address, "\""));
  }
  return absl::OkStatus();
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  return endpoint.address().is_v6() ? absl::StrCat("[", address, "]:", endpoint.port())
                                    : absl::StrCat(address, ":", endpoint.port());
}

// Posts a change to each connection (under the proxy's lock, so it comes after their start);
// the counter reaches zero once every connection has run it.
std::shared_ptr<absl::BlockingCounter> PostToEach(
    const std::vector<std::shared_ptr<Connection>>& connections,
    const std::function<void(Connection&, std::function<void()>)>& change) {
  auto counter = std::make_shared<absl::BlockingCounter>(static_cast<int>(connections.size()));
  for (const std::shared_ptr<Connection>& connection : connections) {
    change(*connection, [counter] { counter->DecrementCount(); });
  }
  return counter;
}

}  // namespace

absl::Status NormalizeProxy(v1::Proxy* proxy, std::string_view prefix) {
  if (absl::Status s = CheckName(proxy->name(), prefix, "name"); !s.ok()) return s;
  if (absl::Status s = CheckAddress(proxy->listen(), false, prefix, "listen"); !s.ok()) return s;
  if (absl::Status s = CheckAddress(proxy->upstream(), true, prefix, "upstream"); !s.ok()) {
    return s;
  }
  if (!proxy->has_enabled()) proxy->set_enabled(true);
  std::set<std::string> names;
  for (int i = 0; i < proxy->toxics_size(); ++i) {
    const std::string toxic_prefix = absl::StrCat(Sv(prefix), "toxics[", i, "].");
    v1::Toxic* toxic = proxy->mutable_toxics(i);
    if (absl::Status s = NormalizeToxic(toxic, toxic_prefix); !s.ok()) return s;
    if (!names.insert(toxic->name()).second) {
      return FieldError(toxic_prefix, "name", absl::StrCat("\"", toxic->name(), "\" is taken"));
    }
  }
  return absl::OkStatus();
}

Proxy::Proxy(asio::io_context& io, v1::Proxy spec, uint64_t seed)
    : io_(io),
      name_(spec.name()),
      listen_(spec.listen()),
      upstream_(spec.upstream()),
      toxics_(spec.toxics().begin(), spec.toxics().end()),
      rng_(ProxySeed(seed, spec.name())) {}

absl::StatusOr<std::shared_ptr<Proxy>> Proxy::Create(asio::io_context& io, v1::Proxy spec,
                                                     uint64_t seed) {
  std::shared_ptr<Proxy> proxy(new Proxy(io, spec, seed));
  if (spec.enabled()) {
    if (absl::Status s = proxy->SetEnabled(true); !s.ok()) return s;
  }
  return proxy;
}

Proxy::~Proxy() { Stop(); }

v1::Proxy Proxy::Describe() const {
  absl::MutexLock lock(&mu_);
  v1::Proxy spec;
  spec.set_name(name_);
  spec.set_listen(bound_.port() != 0 ? FormatEndpoint(bound_) : listen_);
  spec.set_upstream(upstream_);
  spec.set_enabled(enabled_);
  for (const v1::Toxic& toxic : toxics_) *spec.add_toxics() = toxic;
  return spec;
}

uint16_t Proxy::port() const {
  absl::MutexLock lock(&mu_);
  return bound_.port();
}

absl::Status Proxy::SetEnabled(bool enabled) {
  absl::MutexLock lock(&mu_);
  if (enabled == enabled_) return absl::OkStatus();
  if (enabled) {
    if (absl::Status s = Listen(listen_); !s.ok()) return s;
    enabled_ = true;
    return absl::OkStatus();
  }
  enabled_ = false;
  CloseListener();
  for (const std::shared_ptr<Connection>& connection : LiveConnections()) connection->Close();
  connections_.clear();
  return absl::OkStatus();
}

absl::Status Proxy::SetListen(const std::string& listen) {
  if (absl::Status s = CheckAddress(listen, false, "", "listen"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (enabled_) {
    std::shared_ptr<tcp::acceptor> old = acceptor_;
    const tcp::endpoint old_bound = bound_;
    bound_ = tcp::endpoint();
    if (absl::Status s = Listen(listen); !s.ok()) {
      bound_ = old_bound;
      return s;
    }
    std::error_code ignored;
    old->close(ignored);
  } else {
    bound_ = tcp::endpoint();
  }
  listen_ = listen;
  return absl::OkStatus();
}

absl::Status Proxy::SetUpstream(const std::string& upstream) {
  if (absl::Status s = CheckAddress(upstream, true, "", "upstream"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  upstream_ = upstream;
  return absl::OkStatus();
}

absl::Status Proxy::Listen(const std::string& listen) {
  const absl::StatusOr<bridge::config::HostPort> host_port = bridge::config::ParseHostPort(listen);
  if (!host_port.ok()) return host_port.status();
  std::error_code error;
  tcp::endpoint endpoint = bound_;
  if (endpoint.port() == 0) {
    tcp::resolver resolver(io_);
    const tcp::resolver::results_type results =
        resolver.resolve(host_port->host, std::to_string(host_port->port), error);
    if (error || results.empty()) {
      return absl::UnavailableError(
          absl::StrCat("proxy ", name_, ": cannot resolve \"", listen, "\": ", error.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol(), error);
  if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor->bind(endpoint, error);
  if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
  if (!error) bound_ = acceptor->local_endpoint(error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("proxy ", name_, ": cannot listen on ",
                                               FormatEndpoint(endpoint), ": ", error.message()));
  }
  acceptor_ = acceptor;
  AcceptNext(acceptor);
  return absl::OkStatus();
}

void Proxy::CloseListener() {
  if (acceptor_ == nullptr) return;
  std::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

void Proxy::AcceptNext(std::shared_ptr<tcp::acceptor> acceptor) {
  // Every connection gets a strand of its own; its sockets and timers run their handlers there.
  acceptor->async_accept(
      asio::any_io_executor(asio::make_strand(io_)),
      [weak = weak_from_this(), acceptor](const std::error_code& error, tcp::socket socket) {
        std::shared_ptr<Proxy> self = weak.lock();
        if (self == nullptr || error == asio::error::operation_aborted) return;
        absl::MutexLock lock(&self->mu_);
        if (self->acceptor_ != acceptor) return;  // closed or replaced meanwhile
        if (!error) self->StartConnection(std::move(socket));
        self->AcceptNext(acceptor);
      });
}

void Proxy::StartConnection(tcp::socket socket) {
  // upstream_ was checked when it was set.
  const bridge::config::HostPort upstream = *bridge::config::ParseHostPort(upstream_);
  auto connection =
      std::make_shared<Connection>(std::move(socket), upstream.host, upstream.port, rng_());
  LiveConnections();  // forgets the closed ones
  connections_.push_back(connection);
  connection->Start(toxics_);
}

std::vector<std::shared_ptr<Connection>> Proxy::LiveConnections() {
  std::vector<std::shared_ptr<Connection>> live;
  std::vector<std::weak_ptr<Connection>> kept;
  for (const std::weak_ptr<Connection>& weak : connections_) {
    if (std::shared_ptr<Connection> connection = weak.lock()) {
      live.push_back(connection);
      kept.push_back(weak);
    }
  }
  connections_ = std::move(kept);
  return live;
}

absl::StatusOr<v1::Toxic> Proxy::AddToxic(v1::Toxic toxic) {
  if (absl::Status s = NormalizeToxic(&toxic); !s.ok()) return s;
  std::shared_ptr<absl::BlockingCounter> applied;
  {
    absl::MutexLock lock(&mu_);
    for (const v1::Toxic& existing : toxics_) {
      if (existing.name() == toxic.name()) {
        return absl::AlreadyExistsError(
            absl::StrCat("proxy ", name_, " already has a toxic named ", toxic.name()));
      }
    }
    toxics_.push_back(toxic);
    applied = PostToEach(LiveConnections(), [&toxic](Connection& c, std::function<void()> done) {
      c.AddToxic(toxic, std::move(done));
    });
  }
  applied->Wait();
  return toxic;
}

absl::Status Proxy::RemoveToxic(const std::string& name) {
  std::shared_ptr<absl::BlockingCounter> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(toxics_.begin(), toxics_.end(),
                           [&](const v1::Toxic& t) { return t.name() == name; });
    if (it == toxics_.end()) {
      return absl::NotFoundError(absl::StrCat("proxy ", name_, " has no toxic named ", name));
    }
    toxics_.erase(it);
    removed = PostToEach(LiveConnections(), [&name](Connection& c, std::function<void()> done) {
      c.RemoveToxic(name, std::move(done));
    });
  }
  removed->Wait();
  return absl::OkStatus();
}

void Proxy::RemoveAllToxics() {
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    for (const v1::Toxic& toxic : toxics_) names.push_back(toxic.name());
  }
  for (const std::string& name : names) (void)RemoveToxic(name);
}

void Proxy::Stop() {
  absl::MutexLock lock(&mu_);
  enabled_ = false;
  CloseListener();
  for (const std::shared_ptr<Connection>& connection : LiveConnections()) connection->Close();
  connections_.clear();
}

}  // namespace harness::proxy
