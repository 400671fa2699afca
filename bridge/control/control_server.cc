#include "bridge/control/control_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/grpc_time.h"
#include "bridge/common/log.h"
#include "bridge/common/strings.h"
#include "grpcpp/grpcpp.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "simdjson.h"

namespace bridge::control {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status Invalid(std::string_view field, std::string_view why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(Sv(field), ": ", Sv(why)));
}

// Data from a backend goes into frames verbatim: it must be one JSON value.
grpc::Status CheckJson(std::string_view field, const std::string& data) {
  if (data.empty())
    return Invalid(field, "must be JSON text (e.g. {\"text\":\"hi\"}); it is empty");
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  const simdjson::error_code error = parser.parse(data).get(element);
  if (error != simdjson::SUCCESS) {
    return Invalid(field, absl::StrCat("not JSON text: ", simdjson::error_message(error)));
  }
  return grpc::Status::OK;
}

void FillClient(const pubsub::ClientInfo& from, v1::ClientInfo* to) {
  to->set_session_id(from.session_id);
  to->set_user_id(from.user_id);
  to->set_client_id(from.client_id);
  to->mutable_connected_at()->set_seconds(from.connected_at_unix_ms / 1000);
  to->mutable_connected_at()->set_nanos(static_cast<int32_t>(from.connected_at_unix_ms % 1000) *
                                        1000000);
}

}  // namespace

class ControlServer::Service final : public v1::BridgeControl::CallbackService {
 public:
  Service(pubsub::Node* node, Metrics* metrics) : node_(node), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status bad = CheckJson("data", request->data()); !bad.ok()) {
      return Refuse(reactor, bad);
    }
    node_->Publish(request->channel(), request->data(), request->exclude_session(),
                   [reactor, response](absl::StatusOr<pubsub::Position> position) {
                     if (position.ok()) {
                       response->set_offset(position->offset);
                       response->set_epoch(position->epoch);
                     }
                     reactor->Finish(ToGrpc(position.status()));
                   });
    return reactor;
  }

  grpc::ServerUnaryReactor* SendToUser(grpc::CallbackServerContext* context,
                                       const v1::SendToUserRequest* request,
                                       v1::SendResponse*) override {
    if (request->user_id().empty()) {
      return Refuse(context->DefaultReactor(), Invalid("user_id", "must be set"));
    }
    return Push(context, pubsub::Target::kUser, request->user_id(), request->data());
  }

  grpc::ServerUnaryReactor* SendToSession(grpc::CallbackServerContext* context,
                                          const v1::SendToSessionRequest* request,
                                          v1::SendResponse*) override {
    if (request->session_id().empty()) {
      return Refuse(context->DefaultReactor(), Invalid("session_id", "must be set"));
    }
    return Push(context, pubsub::Target::kSession, request->session_id(), request->data());
  }

  grpc::ServerUnaryReactor* Broadcast(grpc::CallbackServerContext* context,
                                      const v1::BroadcastRequest* request,
                                      v1::SendResponse*) override {
    return Push(context, pubsub::Target::kAll, "", request->data());
  }

  grpc::ServerUnaryReactor* Disconnect(grpc::CallbackServerContext* context,
                                       const v1::DisconnectRequest* request,
                                       v1::DisconnectResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    pubsub::DisconnectOrder order;
    switch (request->target_case()) {
      case v1::DisconnectRequest::kUserId:
        order.target = pubsub::Target::kUser;
        order.id = request->user_id();
        break;
      case v1::DisconnectRequest::kSessionId:
        order.target = pubsub::Target::kSession;
        order.id = request->session_id();
        break;
      default:
        return Refuse(reactor, Invalid("target", "set user_id or session_id"));
    }
    if (order.id.empty()) return Refuse(reactor, Invalid("target", "the id is empty"));
    order.code = request->code() == 0 ? 1000 : static_cast<int>(request->code());
    if (order.code != 1000 && (order.code < 4000 || order.code > 4999)) {
      return Refuse(reactor, Invalid("code", absl::StrCat("1000 or 4000-4999, got ", order.code)));
    }
    order.reason = request->reason().empty() ? "disconnected" : request->reason();
    if (order.reason.size() > 64) return Refuse(reactor, Invalid("reason", "at most 64 bytes"));
    log::Event(log::Level::kInfo, "disconnect_ordered")
        .Str("target", order.target == pubsub::Target::kUser ? "user" : "session")
        .Str("id", order.id)
        .Int("code", order.code);
    node_->SendDisconnect(std::move(order),
                          [reactor](absl::Status status) { reactor->Finish(ToGrpc(status)); });
    return reactor;
  }

  grpc::ServerUnaryReactor* Presence(grpc::CallbackServerContext* context,
                                     const v1::PresenceRequest* request,
                                     v1::PresenceResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    node_->Presence(request->channel(),
                    [reactor, response](absl::StatusOr<std::vector<pubsub::ClientInfo>> clients) {
                      if (clients.ok()) {
                        std::sort(clients->begin(), clients->end(),
                                  [](const pubsub::ClientInfo& a, const pubsub::ClientInfo& b) {
                                    return a.session_id < b.session_id;
                                  });
                        for (const auto& c : *clients) FillClient(c, response->add_clients());
                      }
                      reactor->Finish(ToGrpc(clients.status()));
                    });
    return reactor;
  }

  grpc::ServerUnaryReactor* UserPresence(grpc::CallbackServerContext* context,
                                         const v1::UserPresenceRequest* request,
                                         v1::UserPresenceResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->user_ids().empty()) return Refuse(reactor, Invalid("user_ids", "name a user"));
    if (request->user_ids_size() > 1000) {
      return Refuse(reactor, Invalid("user_ids", "at most 1000 at once"));
    }
    // One answer per user, gathered as they come; the last one finishes the call.
    struct Gather {
      absl::Mutex mu;
      int left ABSL_GUARDED_BY(mu) = 0;
      absl::Status error ABSL_GUARDED_BY(mu);
    };
    auto gather = std::make_shared<Gather>();
    {
      absl::MutexLock lock(&gather->mu);
      gather->left = request->user_ids_size();
    }
    for (const std::string& user : request->user_ids()) {
      v1::UserPresence* out = response->add_users();
      out->set_user_id(user);
    }
    for (int i = 0; i < request->user_ids_size(); ++i) {
      v1::UserPresence* out = response->mutable_users(i);
      node_->UserConnections(
          request->user_ids(i),
          [reactor, gather, out](absl::StatusOr<std::vector<pubsub::ClientInfo>> clients) {
            bool last;
            absl::Status error;
            {
              absl::MutexLock lock(&gather->mu);
              if (clients.ok()) {
                std::sort(clients->begin(), clients->end(),
                          [](const pubsub::ClientInfo& a, const pubsub::ClientInfo& b) {
                            return a.session_id < b.session_id;
                          });
                out->set_online(!clients->empty());
                for (const auto& c : *clients) FillClient(c, out->add_connections());
              } else if (gather->error.ok()) {
                gather->error = clients.status();
              }
              last = --gather->left == 0;
              error = gather->error;
            }
            if (last) reactor->Finish(ToGrpc(error));
          });
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* ListConnections(grpc::CallbackServerContext* context,
                                            const v1::ListConnectionsRequest* request,
                                            v1::ListConnectionsResponse* response) override {
    for (const pubsub::Node::LocalSession& s : node_->ListSessions(request->user_id())) {
      v1::ConnectionInfo* info = response->add_connections();
      FillClient(s.client, info->mutable_client());
      for (const std::string& channel : s.channels) info->add_channels(channel);
      info->set_frames_in(s.counts.frames_in);
      info->set_frames_out(s.counts.frames_out);
      info->set_calls(s.counts.calls);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context, const v1::StatsRequest*,
                                  v1::StatsResponse* response) override {
    const pubsub::Node::Counts counts = node_->counts();
    response->set_node_id(node_->node_id());
    response->set_broker(node_->broker().name());
    response->set_sessions(counts.sessions);
    response->set_users(counts.users);
    response->set_channels(counts.channels);
    response->set_subscriptions(counts.subscriptions);
    response->set_publications_delivered(counts.publications_delivered);
    response->set_pushes_delivered(counts.pushes_delivered);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  grpc::ServerUnaryReactor* Refuse(grpc::ServerUnaryReactor* reactor, const grpc::Status& status) {
    metrics_->control_requests_refused.fetch_add(1, std::memory_order_relaxed);
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context, pubsub::Target target,
                                 const std::string& id, const std::string& data) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status bad = CheckJson("data", data); !bad.ok()) return Refuse(reactor, bad);
    pubsub::Push push;
    push.target = target;
    push.id = id;
    push.data = data;
    node_->SendPush(std::move(push),
                    [reactor](absl::Status status) { reactor->Finish(ToGrpc(status)); });
    return reactor;
  }

  pubsub::Node* const node_;
  Metrics* const metrics_;
};

ControlServer::ControlServer(pubsub::Node* node, Metrics* metrics)
    : service_(std::make_unique<Service>(node, metrics)) {}

ControlServer::~ControlServer() { Shutdown(); }

absl::Status ControlServer::Start(const std::string& address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("config field control_listen: cannot listen on ", address));
  }
  port_ = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

void ControlServer::Shutdown() {
  if (server_ == nullptr) return;
  server_->Shutdown(GrpcDeadlineChrono(absl::Seconds(2)));
  server_->Wait();
  server_.reset();
}

}  // namespace bridge::control
