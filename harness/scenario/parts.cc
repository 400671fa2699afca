#include "harness/scenario/parts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "harness/backend/demo_bridge.h"

namespace harness::scenario {
namespace {

v1::Proxy ProxySpec(const std::string& name, const std::string& upstream) {
  v1::Proxy proxy;
  proxy.set_name(name);
  proxy.set_listen("127.0.0.1:0");
  proxy.set_upstream(upstream);
  return proxy;
}

std::string Local(uint16_t port) { return absl::StrCat("127.0.0.1:", port); }

// One call of a control service (`what` names it in errors, "BackendControl/GetStats"), given
// ten seconds.
template <typename Stub, typename Request, typename Response>
absl::Status CallControl(Stub& stub,
                         grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                      Response*),
                         const Request& request, Response* response, const char* what) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  const grpc::Status status = (stub.*method)(&context, request, response);
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

absl::StatusOr<WsUrl> ParseWsUrl(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "ws://")) {
    return absl::InvalidArgumentError(absl::StrCat("url ", url, ": must start with ws://"));
  }
  WsUrl out;
  const size_t slash = rest.find('/');
  out.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  absl::string_view authority = rest.substr(0, slash);
  const size_t colon = authority.rfind(':');
  uint32_t port = 80;
  if (colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("url ", url, ": bad port"));
    }
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return absl::InvalidArgumentError(absl::StrCat("url ", url, ": no host"));
  out.host = std::string(authority);
  out.port = static_cast<uint16_t>(port);
  return out;
}

absl::StatusOr<std::unique_ptr<ScenarioParts>> ScenarioParts::Start(const v1::Parts& parts,
                                                                    const Target& target) {
  const bool client_proxy = !parts.has_client_proxy() || parts.client_proxy();
  std::unique_ptr<ScenarioParts> out(new ScenarioParts());
  proxy::FaultProxyOptions proxy_options;
  proxy_options.seed = target.seed;
  proxy_options.api_listen = "";
  proxy_options.grpc_listen = "";

  std::string bridge_address;
  std::string path = "/ws";
  if (!target.url.empty()) {
    if (parts.backend_proxy() || parts.standby_bridge() || !parts.bridge_config().empty()) {
      return absl::UnimplementedError(
          "needs the in-process bridge (bridge_config, backend_proxy or standby_bridge)");
    }
    absl::StatusOr<WsUrl> url = ParseWsUrl(target.url);
    if (!url.ok()) return url.status();
    if (!target.backend_control.empty()) {
      out->control_ = v1::BackendControl::NewStub(
          grpc::CreateChannel(target.backend_control, grpc::InsecureChannelCredentials()));
      // Rules left by anything before are cleared; counts from before are not this scenario's.
      if (absl::Status reset = out->Restore(); !reset.ok()) return reset;
      absl::StatusOr<v1::BackendStats> baseline = out->BackendStats();
      if (!baseline.ok()) return baseline.status();
      out->baseline_ = *std::move(baseline);
    }
    if (!target.control.empty()) {
      out->bridge_control_ = bridge::v1::BridgeControl::NewStub(
          grpc::CreateChannel(target.control, grpc::InsecureChannelCredentials()));
    }
    if (!client_proxy) {
      out->client_url_ = target.url;
      return out;
    }
    bridge_address = absl::StrCat(url->host, ":", url->port);
    path = url->path;
  }

  // Proxies first, so the bridge can be routed through the backend proxy.
  if (client_proxy || parts.backend_proxy()) {
    absl::StatusOr<std::unique_ptr<proxy::FaultProxyServer>> proxies =
        proxy::FaultProxyServer::Start(v1::FaultConfig(), proxy_options);
    if (!proxies.ok()) return proxies.status();
    out->proxies_ = *std::move(proxies);
  }

  if (target.url.empty()) {
    absl::StatusOr<backend::RunningBackend> backend = backend::StartBackend("127.0.0.1:0");
    if (!backend.ok()) return backend.status();
    out->backend_ = *std::move(backend);
    std::string backend_target = out->backend_.target();
    if (parts.backend_proxy()) {
      absl::StatusOr<v1::Proxy> created =
          out->proxies_->registry().Create(ProxySpec("backend", backend_target));
      if (!created.ok()) return created.status();
      backend_target = created->listen();
    }
    absl::StatusOr<bridge::v1::BridgeConfig> config =
        backend::DemoBridgeConfig(backend_target, parts.bridge_config());
    if (!config.ok()) return config.status();
    absl::StatusOr<std::unique_ptr<bridge::app::BridgeApp>> bridge =
        backend::StartDemoBridge(*config);
    if (!bridge.ok()) return bridge.status();
    out->bridge_ = *std::move(bridge);
    path = out->bridge_->config().path();
    bridge_address = Local(out->bridge_->server().port());
    if (out->bridge_->control_port() != 0) {
      out->bridge_control_ = bridge::v1::BridgeControl::NewStub(grpc::CreateChannel(
          Local(out->bridge_->control_port()), grpc::InsecureChannelCredentials()));
    }
    if (parts.standby_bridge()) {
      absl::StatusOr<std::unique_ptr<bridge::app::BridgeApp>> standby =
          backend::StartDemoBridge(*config);
      if (!standby.ok()) return standby.status();
      out->standby_ = *std::move(standby);
    }
  }

  if (client_proxy) {
    absl::StatusOr<v1::Proxy> created =
        out->proxies_->registry().Create(ProxySpec("client", bridge_address));
    if (!created.ok()) return created.status();
    out->client_url_ = absl::StrCat("ws://", created->listen(), path);
  } else {
    out->client_url_ = absl::StrCat("ws://", bridge_address, path);
  }
  return out;
}

ScenarioParts::~ScenarioParts() {
  // A shared external backend keeps no rule of this scenario's.
  if (control_ != nullptr) Restore().IgnoreError();
  if (proxies_ != nullptr) proxies_->Shutdown();
  for (std::unique_ptr<bridge::app::BridgeApp>* app : {&bridge_, &standby_}) {
    if (*app == nullptr) continue;
    (*app)->Shutdown();
    (*app)->Wait();
    app->reset();
  }
  if (backend_.server != nullptr) backend_.server->Shutdown();
}

absl::StatusOr<proxy::ProxyRegistry*> ScenarioParts::Proxies(const std::string& name) {
  if (proxies_ == nullptr || !proxies_->registry().Get(name).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no proxy named \"", name, "\" in this scenario's parts"));
  }
  return &proxies_->registry();
}

absl::Status ScenarioParts::AddToxic(const std::string& proxy, const v1::Toxic& toxic) {
  absl::StatusOr<proxy::ProxyRegistry*> registry = Proxies(proxy);
  if (!registry.ok()) return registry.status();
  return (*registry)->AddToxic(proxy, toxic).status();
}

absl::Status ScenarioParts::RemoveToxic(const std::string& proxy, const std::string& toxic) {
  absl::StatusOr<proxy::ProxyRegistry*> registry = Proxies(proxy);
  if (!registry.ok()) return registry.status();
  return (*registry)->RemoveToxic(proxy, toxic);
}

absl::Status ScenarioParts::SetProxyEnabled(const std::string& proxy, bool enabled) {
  absl::StatusOr<proxy::ProxyRegistry*> registry = Proxies(proxy);
  if (!registry.ok()) return registry.status();
  v1::Proxy changes;
  changes.set_name(proxy);
  changes.set_enabled(enabled);
  return (*registry)->Update(changes).status();
}

absl::Status ScenarioParts::AddBackendFault(const v1::BackendFault& fault) {
  if (control_ != nullptr) {
    v1::AddFaultRequest request;
    *request.mutable_fault() = fault;
    v1::BackendFault added;
    return CallControl(*control_, &v1::BackendControl::Stub::AddFault, request, &added,
                       "BackendControl/AddFault");
  }
  if (!in_process()) {
    return absl::UnimplementedError(
        "backend faults need the in-process backend or --backend_control");
  }
  return backend_.service->AddFault(fault).status();
}

absl::Status ScenarioParts::Restore() {
  if (backend_.service != nullptr) backend_.service->ResetFaults();
  if (control_ != nullptr) {
    v1::ResetFaultsResponse reset;
    absl::Status s = CallControl(*control_, &v1::BackendControl::Stub::ResetFaults,
                                 v1::ResetFaultsRequest(), &reset, "BackendControl/ResetFaults");
    if (!s.ok()) return s;
  }
  return proxies_ == nullptr ? absl::OkStatus() : proxies_->registry().Reset();
}

absl::Status ScenarioParts::Drain() {
  if (bridge_ == nullptr) return absl::UnimplementedError("drain needs the in-process bridge");
  bridge_->Shutdown();
  return absl::OkStatus();
}

absl::Status ScenarioParts::SwitchBridge() {
  if (standby_ == nullptr) {
    return absl::FailedPreconditionError("switch_bridge needs parts { standby_bridge: true }");
  }
  absl::StatusOr<proxy::ProxyRegistry*> registry = Proxies("client");
  if (!registry.ok()) return registry.status();
  v1::Proxy changes;
  changes.set_name("client");
  changes.set_upstream(Local(standby_->server().port()));
  return (*registry)->Update(changes).status();
}

absl::StatusOr<v1::BackendStats> ScenarioParts::BackendStats() const {
  if (control_ != nullptr) {
    v1::BackendStats stats;
    absl::Status s = CallControl(*control_, &v1::BackendControl::Stub::GetStats,
                                 v1::GetStatsRequest(), &stats, "BackendControl/GetStats");
    if (!s.ok()) return s;
    for (auto& [method, n] : *stats.mutable_calls()) {
      auto before = baseline_.calls().find(method);
      if (before != baseline_.calls().end()) n -= std::min(n, before->second);
    }
    return stats;
  }
  if (!in_process()) {
    return absl::UnimplementedError("needs the in-process backend or --backend_control");
  }
  return backend_.service->Stats();
}

absl::StatusOr<bool> ScenarioParts::AwaitBackendCalls(const std::string& method, int n,
                                                      absl::Time deadline) {
  if (control_ != nullptr) {
    // An external backend is asked again every 20 ms until the count is reached.
    while (true) {
      absl::StatusOr<v1::BackendStats> stats = BackendStats();
      if (!stats.ok()) return stats.status();
      auto it = stats->calls().find(method);
      if (it != stats->calls().end() && it->second >= static_cast<uint64_t>(n)) return true;
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(std::min(absl::Milliseconds(20), deadline - absl::Now()));
    }
  }
  if (!in_process()) {
    return absl::UnimplementedError("needs the in-process backend or --backend_control");
  }
  return backend_.service->AwaitCalls(method, n, deadline - absl::Now());
}

absl::StatusOr<bridge::v1::PublishResponse> ScenarioParts::Publish(const std::string& channel,
                                                                   const std::string& data) {
  if (bridge_control_ == nullptr) {
    return absl::UnimplementedError(
        "publish needs the in-process bridge (with control_listen) or --control");
  }
  bridge::v1::PublishRequest request;
  request.set_channel(channel);
  request.set_data(data);
  bridge::v1::PublishResponse response;
  absl::Status s = CallControl(*bridge_control_, &bridge::v1::BridgeControl::Stub::Publish, request,
                               &response, "BridgeControl/Publish");
  if (!s.ok()) return s;
  return response;
}

}  // namespace harness::scenario
